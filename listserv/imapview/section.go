package imapview

import (
	"bytes"
	"strings"

	"github.com/emersion/go-imap/v2"

	"listserv/listserv/msgindex"
	"listserv/mailstore"
)

// RFC 3501 §6.4.5: FETCH BODY[section]. Sections are cut out of the
// stored bytes with the offsets of the precomputed listing; nothing is
// decoded or re-encoded.

// needsTree reports whether a section needs the part tree (a part path).
func needsTree(sec *imap.FetchItemBodySection) bool { return len(sec.Part) > 0 }

// headerOnly reports whether a section reads only the top header.
func headerOnly(sec *imap.FetchItemBodySection) bool {
	return len(sec.Part) == 0 && (sec.Specifier == imap.PartSpecifierHeader || sec.Specifier == imap.PartSpecifierMIME)
}

// section returns the bytes of one section of raw (nil for a part that
// does not exist). body is the message's part tree, needed only for part
// paths.
func section(raw []byte, body *mailstore.Part, sec *imap.FetchItemBodySection) []byte {
	var b []byte
	if len(sec.Part) == 0 {
		hend := msgindex.HeaderEnd(raw)
		switch sec.Specifier {
		case imap.PartSpecifierNone:
			b = raw
		case imap.PartSpecifierHeader, imap.PartSpecifierMIME:
			b = headerFields(raw[:hend], sec)
		case imap.PartSpecifierText:
			b = raw[hend:]
		}
		return partial(b, sec.Partial)
	}
	p := findPart(body, sec.Part)
	if p == nil || p.End > len(raw) {
		return nil
	}
	switch sec.Specifier {
	case imap.PartSpecifierNone:
		b = raw[p.Body:p.End]
	case imap.PartSpecifierMIME:
		b = raw[p.Header:p.Body]
	case imap.PartSpecifierHeader, imap.PartSpecifierText:
		// RFC 3501 defines these for message/rfc822 parts only; for
		// another part they give its own header and body (as go-imap's
		// reference does) rather than nothing.
		in := p
		if p.Message != nil {
			in = &p.Message.Body
		}
		if sec.Specifier == imap.PartSpecifierText {
			b = raw[in.Body:in.End]
		} else {
			b = headerFields(raw[in.Header:in.Body], sec)
		}
	}
	return partial(b, sec.Partial)
}

// findPart resolves an IMAP part path: the parts of a multipart are
// numbered from 1; a non-multipart entity is its own part 1; the parts of
// an encapsulated message are those of its body.
func findPart(root *mailstore.Part, path []int) *mailstore.Part {
	p := root
	for i, n := range path {
		if i > 0 && !p.Multipart() && p.Message != nil {
			p = &p.Message.Body
		}
		switch {
		case p.Multipart():
			if n < 1 || n > len(p.Children) {
				return nil
			}
			p = &p.Children[n-1]
		case n != 1:
			return nil
		}
	}
	return p
}

// headerFields returns a header block, restricted to HEADER.FIELDS or
// without HEADER.FIELDS.NOT, ending with its blank line.
func headerFields(h []byte, sec *imap.FetchItemBodySection) []byte {
	if len(sec.HeaderFields) == 0 && len(sec.HeaderFieldsNot) == 0 {
		return h
	}
	keep := len(sec.HeaderFields) > 0
	names := sec.HeaderFields
	if !keep {
		names = sec.HeaderFieldsNot
	}
	var out bytes.Buffer
	for _, f := range msgindex.Fields(h) {
		listed := false
		for _, n := range names {
			if strings.EqualFold(n, f.Name) {
				listed = true
				break
			}
		}
		if listed == keep {
			out.Write(f.Raw)
			if !bytes.HasSuffix(f.Raw, []byte("\n")) {
				out.WriteString("\r\n")
			}
		}
	}
	out.WriteString("\r\n")
	return out.Bytes()
}

// partial applies a <offset.size> range.
func partial(b []byte, p *imap.SectionPartial) []byte {
	if p == nil {
		return b
	}
	if p.Offset >= int64(len(b)) {
		return []byte{}
	}
	end := min(p.Offset+p.Size, int64(len(b)))
	return b[p.Offset:end]
}

// envelope converts a stored envelope.
func envelope(e *mailstore.Envelope) *imap.Envelope {
	return &imap.Envelope{
		Date:      e.Date,
		Subject:   e.Subject,
		From:      addresses(e.From),
		Sender:    addresses(e.Sender),
		ReplyTo:   addresses(e.ReplyTo),
		To:        addresses(e.To),
		Cc:        addresses(e.Cc),
		Bcc:       addresses(e.Bcc),
		InReplyTo: e.InReplyTo,
		MessageID: e.MessageID,
	}
}

func addresses(l []mailstore.Address) []imap.Address {
	if len(l) == 0 {
		return nil
	}
	out := make([]imap.Address, len(l))
	for i, a := range l {
		out[i] = imap.Address{Name: a.Name, Mailbox: a.Mailbox, Host: a.Host}
	}
	return out
}

// bodyStructure converts a stored part tree (always with the extension
// data, which BODYSTRUCTURE needs and BODY ignores).
func bodyStructure(p *mailstore.Part) imap.BodyStructure {
	var disp *imap.BodyStructureDisposition
	if p.Disposition != "" {
		disp = &imap.BodyStructureDisposition{Value: p.Disposition, Params: params(p.DispParams)}
	}
	if p.Multipart() && len(p.Children) > 0 {
		mp := &imap.BodyStructureMultiPart{
			Subtype:  p.Subtype,
			Extended: &imap.BodyStructureMultiPartExt{Params: params(p.Params), Disposition: disp, Language: p.Language, Location: p.Location},
		}
		for i := range p.Children {
			mp.Children = append(mp.Children, bodyStructure(&p.Children[i]))
		}
		return mp
	}
	sp := &imap.BodyStructureSinglePart{
		Type:        p.Type,
		Subtype:     p.Subtype,
		Params:      params(p.Params),
		ID:          p.ID,
		Description: p.Description,
		Encoding:    p.Encoding,
		Size:        uint32(max(p.End-p.Body, 0)),
		Extended:    &imap.BodyStructureSinglePartExt{Disposition: disp, Language: p.Language, Location: p.Location},
	}
	switch {
	case p.Message != nil:
		sp.MessageRFC822 = &imap.BodyStructureMessageRFC822{
			Envelope:      envelope(&p.Message.Envelope),
			BodyStructure: bodyStructure(&p.Message.Body),
			NumLines:      int64(p.Lines),
		}
	case p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global"):
		sp.Type, sp.Subtype = "application", "octet-stream" // no parsed message: opaque
	case p.Type == "text":
		sp.Text = &imap.BodyStructureText{NumLines: int64(p.Lines)}
	}
	return sp
}

func params(l []mailstore.Param) map[string]string {
	if len(l) == 0 {
		return nil
	}
	m := make(map[string]string, len(l))
	for _, p := range l {
		m[p.Name] = p.Value
	}
	return m
}
