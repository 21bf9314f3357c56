package anon

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

var crlf = []byte("\r\n")

// rewriteBody returns the body of the anonymized copy and, when it gave a
// multipart body a new top-level boundary, that boundary (Anonymize puts
// it into Content-Type). It is the one place where the body changes: the
// MIME rewriter (fresh boundaries and Content-IDs at every depth, scrubbed
// text and HTML parts, stripped image metadata) replaces it. Today:
//
//   - single-part text/plain, or no Content-Type, in 7bit/8bit/no
//     transfer encoding: scrubPlain;
//   - multipart with a boundary (and, as RFC 2045 requires, an identity
//     transfer encoding): same bytes, fresh top-level boundary;
//   - anything else: unchanged.
//
// It never changes m.Body in place.
func rewriteBody(m *Message, p Params, mi *mimeInfo) (body []byte, boundary string) {
	switch {
	case mi.scrubbable():
		return scrubPlain(m.Body, m.From, p, mi), ""
	case mi.parsed && strings.HasPrefix(mi.mediaType, "multipart/") && mi.params["boundary"] != "" &&
		(mi.cte == "" || mi.cte == "7bit" || mi.cte == "8bit" || mi.cte == "binary"):
		nb := newBoundary(p.MessageID, m.Body)
		return replaceBoundary(m.Body, mi.params["boundary"], nb), nb
	}
	return m.Body, ""
}

// scrubPlain removes the signature block, then replaces the author's
// address by the alias address and their display name by the alias name.
// A non-ASCII alias name is written only into a UTF-8 body that is 8-bit
// already (declared or in fact); elsewhere the ASCII slug stands in, so
// that the body's charset and transfer encoding stay true.
func scrubPlain(b []byte, from Address, p Params, mi *mimeInfo) []byte {
	charset := mi.params["charset"]
	name := p.AliasName
	utf8Body := strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "utf8")
	if !isASCII(name) && !(utf8Body && (mi.cte == "8bit" || !isASCII(string(b)))) {
		name = p.AliasSlug
	}
	rs := authorRepls(from, p.AliasAddr(), name)
	b = dropSignature(b)
	if isLatin1(charset) {
		// Match on the text, not on bytes: the author's "René" is the
		// single byte 0xE9 here. The round trip is exact.
		return encodeCP1252(string(replaceAll([]byte(decodeCP1252(b)), rs)))
	}
	return replaceAll(b, rs)
}

// dropSignature cuts b before its signature block: a line that is exactly
// "-- " (RFC 3676 §4.3) and everything after it.
func dropSignature(b []byte) []byte {
	switch {
	case bytes.HasPrefix(b, []byte("-- \r\n")) || string(b) == "-- ":
		return b[:0]
	case bytes.HasSuffix(b, []byte("\r\n-- ")):
		return b[:len(b)-3]
	}
	if i := bytes.Index(b, []byte("\r\n-- \r\n")); i >= 0 {
		return b[:i+2]
	}
	return b
}

// newBoundary derives a boundary from the new Message-ID: unique per copy,
// deterministic for tests, and checked not to occur in the body. "=_"
// cannot occur in quoted-printable or base64 text.
func newBoundary(msgID string, body []byte) string {
	sum := sha256.Sum256([]byte("listserv boundary\x00" + msgID))
	nb := "=_ls_" + hex.EncodeToString(sum[:12])
	for bytes.Contains(body, []byte("--"+nb)) {
		nb += "_"
	}
	return nb
}

// replaceBoundary rewrites the lines of b that are delimiter or close
// delimiter lines of boundary old (RFC 2046 §5.1.1: "--" boundary,
// optionally "--", then optional linear white space) to use nb. Other
// lines, including those that merely start like a delimiter, are kept.
func replaceBoundary(b []byte, old, nb string) []byte {
	delim := []byte("--" + old)
	out := make([]byte, 0, len(b)+len(nb))
	for len(b) > 0 {
		line, rest := b, []byte(nil)
		if i := bytes.Index(b, crlf); i >= 0 {
			line, rest = b[:i+2], b[i+2:]
		}
		content := bytes.TrimSuffix(line, crlf)
		tail, ok := bytes.CutPrefix(content, delim)
		if ok && len(bytes.TrimRight(bytes.TrimPrefix(tail, []byte("--")), " \t")) == 0 {
			out = append(out, "--"+nb...)
			out = append(out, line[len(delim):]...)
		} else {
			out = append(out, line...)
		}
		b = rest
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
