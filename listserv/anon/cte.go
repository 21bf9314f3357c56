package anon

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"

	"github.com/emersion/go-message/charset"
)

// decodeCTE returns the content of a part body in transfer encoding cte
// (lower case, "" for none). Decoding is lenient, as readers are: a
// quoted-printable "=" that starts no escape is kept as it is, and base64
// ignores line breaks and stray characters. ok is false for an encoding
// this package does not know (x-uuencode and the like) or base64 that
// cannot be decoded at all.
func decodeCTE(b []byte, cte string) (content []byte, ok bool) {
	switch cte {
	case "", "7bit", "8bit", "binary":
		return b, true
	case "quoted-printable":
		return decodeQP(b), true
	case "base64":
		return decodeBase64(b)
	}
	return nil, false
}

// decodeQP decodes quoted-printable leniently: "=XX" with two hex digits
// is a byte, "=" at the end of a line (trailing white space allowed) is a
// soft line break, any other "=" is itself. Trailing white space on a
// line is dropped (RFC 2045 §6.7 rule 3).
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		line, rest, hasEOL := bytes.Cut(b, crlf)
		b = rest
		line = bytes.TrimRight(line, " \t")
		soft := false
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c != '=' {
				out = append(out, c)
				continue
			}
			if i == len(line)-1 {
				soft = true
				break
			}
			if i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
				out = append(out, unhex(line[i+1])<<4|unhex(line[i+2]))
				i += 2
				continue
			}
			out = append(out, c)
		}
		if hasEOL && !soft {
			out = append(out, crlf...)
		}
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// decodeBase64 keeps only the base64 alphabet, stops at the first "=",
// and decodes what is left; a dangling single character (6 bits, no whole
// byte) is ignored.
func decodeBase64(b []byte) ([]byte, bool) {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '=':
			goto done
		}
	}
done:
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, err := base64.RawStdEncoding.Decode(out, clean)
	if err != nil {
		return nil, false
	}
	return out[:n], true
}

// encodeBase64 encodes b in lines of 76 characters, each ending in CRLF.
func encodeBase64(b []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	out := make([]byte, 0, len(enc)+len(enc)/76*2+2)
	for len(enc) > 76 {
		out = append(out, enc[:76]...)
		out = append(out, crlf...)
		enc = enc[76:]
	}
	if enc != "" {
		out = append(out, enc...)
		out = append(out, crlf...)
	}
	return out
}

// toUTF8 converts text in the named charset to UTF-8. US-ASCII and
// unlabelled text are read as UTF-8 where valid and as windows-1252
// elsewhere (8-bit bytes in such text are one or the other in practice),
// as are UTF-8 texts with stray invalid bytes. Other charsets go through
// go-message's charset tables. ok is false for a charset nobody knows.
func toUTF8(b []byte, cs string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(cs)) {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "unknown-8bit", "x-unknown":
		return fixUTF8(string(b)), true
	case "iso-8859-1", "iso_8859-1", "latin1", "l1", "cp819", "windows-1252", "cp1252", "x-cp1252":
		return decodeCP1252(b), true
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return "", false
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return "", false
	}
	return fixUTF8(string(out)), true
}

// encodeText returns UTF-8 text as a part body: CRLF line breaks (a lone
// CR or LF becomes one), 7bit when it is printable ASCII with no line
// over 998 octets, quoted-printable otherwise (which also carries control
// characters such as NUL safely).
func encodeText(s string) (body []byte, cte string) {
	b := []byte(normalizeEOL(s))
	if printableASCII(b) && !longLine(b) {
		return b, "7bit"
	}
	return encodeQP(b), "quoted-printable"
}

// printableASCII reports whether b holds only printable ASCII, tabs and
// line breaks.
func printableASCII(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t' && c != '\r' && c != '\n') || c >= 0x7f {
			return false
		}
	}
	return true
}

// normalizeEOL turns every CR, LF or CRLF into CRLF.
func normalizeEOL(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/40)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteString("\r\n")
		case '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
