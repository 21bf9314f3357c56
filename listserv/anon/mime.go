package anon

import (
	"bufio"
	"bytes"
	"mime"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// Limits on the MIME tree of one message. Real mail nests three or four
// levels and carries a few dozen parts; a message beyond these limits is
// refused (554) rather than relayed half-read.
const (
	maxDepth = 16
	maxParts = 500
)

// entity is one node of an incoming message's MIME tree. The bytes alias
// the message given to Parse.
type entity struct {
	mi       *mimeInfo
	header   textproto.Header
	body     []byte    // raw body, still in its transfer encoding
	children []*entity // parts of a multipart, in order
	cid      string    // the original Content-ID without brackets, "" if none
}

// treeParser builds the tree, counting parts across the whole message.
type treeParser struct{ parts int }

// parseEntity reads the entity with header h and raw body b at depth
// (0 for the message itself). inDigest selects the digest default type.
func (tp *treeParser) parseEntity(h textproto.Header, b []byte, depth int, inDigest bool) (*entity, error) {
	tp.parts++
	if tp.parts > maxParts {
		return nil, malformed("more than %d MIME parts", maxParts)
	}
	if depth > maxDepth {
		return nil, malformed("MIME parts nested deeper than %d levels", maxDepth)
	}
	e := &entity{mi: partMIME(&h, inDigest), header: h, body: b}
	if ids := msgIDs(h.Get("Content-Id")); len(ids) > 0 {
		e.cid = ids[0]
	}
	if !strings.HasPrefix(e.mi.mediaType, "multipart/") {
		return e, nil
	}
	boundary := e.mi.params["boundary"]
	switch {
	case boundary == "":
		return nil, malformed("multipart part without a boundary")
	case !identityCTE(e.mi.cte):
		return nil, malformed("multipart part with a transfer encoding")
	}
	raw := splitMultipart(b, boundary)
	if len(raw) == 0 {
		return nil, malformed("multipart part without any part")
	}
	digest := e.mi.mediaType == "multipart/digest"
	for _, pb := range raw {
		ph, pbody, err := splitPart(pb)
		if err != nil {
			return nil, err
		}
		child, err := tp.parseEntity(ph, pbody, depth+1, digest)
		if err != nil {
			return nil, err
		}
		e.children = append(e.children, child)
	}
	return e, nil
}

// partMIME is inspectMIME with the context's defaults filled in: every
// entity of the tree has a media type.
func partMIME(h *textproto.Header, inDigest bool) *mimeInfo {
	mi := inspectMIME(h)
	if mi.mediaType != "" {
		return mi
	}
	switch {
	case mi.present:
		// mime.ParseMediaType failed even on the type itself: RFC 2045
		// §5.2 says such a part is text/plain, and readers show it so.
		mi.mediaType, mi.params = "text/plain", map[string]string{}
	case inDigest:
		mi.mediaType = "message/rfc822"
	default:
		mi.mediaType = "text/plain"
	}
	return mi
}

func identityCTE(cte string) bool {
	switch cte {
	case "", "7bit", "8bit", "binary":
		return true
	}
	return false
}

// splitMultipart returns the body parts of a multipart body (RFC 2046
// §5.1.1): the bytes between delimiter lines, without the CRLF that
// belongs to the next delimiter. The preamble and epilogue are not parts
// and are dropped (clients put "This is a multi-part message" there;
// readers never show it). A missing close delimiter ends the last part at
// the end of the body, as readers do.
func splitMultipart(b []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1 // start of the current part's bytes, -1 in the preamble
	for pos := 0; pos <= len(b); {
		end, next := len(b), len(b)+1
		if i := bytes.Index(b[pos:], crlf); i >= 0 {
			end, next = pos+i, pos+i+2
		}
		if closing, ok := delimiterLine(b[pos:end], delim); ok {
			if start >= 0 {
				parts = append(parts, b[start:max(start, pos-2)])
			}
			if closing {
				return parts
			}
			start = min(next, len(b))
		}
		pos = next
	}
	if start >= 0 {
		parts = append(parts, b[start:])
	}
	return parts
}

// delimiterLine reports whether line is a delimiter line of delim, and
// whether it closes the multipart. Linear white space may follow.
func delimiterLine(line, delim []byte) (closing, ok bool) {
	tail, found := bytes.CutPrefix(line, delim)
	if !found {
		return false, false
	}
	tail, closing = bytes.CutPrefix(tail, []byte("--"))
	return closing, len(bytes.TrimRight(tail, " \t")) == 0
}

// splitPart separates a body part into its header and body. A part that
// starts with a blank line has an empty header; a part without a blank
// line is all header (an empty body).
func splitPart(b []byte) (textproto.Header, []byte, error) {
	if bytes.HasPrefix(b, crlf) {
		return textproto.Header{}, b[2:], nil
	}
	hdr, body := b, []byte(nil)
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		hdr, body = b[:i+4], b[i+4:]
	} else {
		hdr = append(append([]byte(nil), b...), "\r\n\r\n"...)
	}
	if len(hdr) > MaxHeaderBytes {
		return textproto.Header{}, nil, malformed("MIME part header larger than %d bytes", MaxHeaderBytes)
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(hdr)))
	if err != nil {
		return textproto.Header{}, nil, malformed("a MIME part's header does not parse")
	}
	return h, body, nil
}

// disposition returns the lower-case disposition type ("inline",
// "attachment") and the filename, "" when absent.
func (e *entity) disposition() (typ, filename string) {
	v := e.header.Get("Content-Disposition")
	if strings.TrimSpace(v) == "" {
		return "", ""
	}
	t, params, _ := mime.ParseMediaType(v)
	return strings.ToLower(t), fixUTF8(params["filename"])
}
