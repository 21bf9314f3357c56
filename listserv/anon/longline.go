package anon

import (
	"bytes"
	"mime/quotedprintable"
)

// maxLine is the longest line RFC 5322 allows, without its CRLF.
const maxLine = 998

// longLine reports whether b has a line longer than maxLine octets.
func longLine(b []byte) bool {
	for len(b) > maxLine {
		i := bytes.Index(b, crlf)
		if i < 0 {
			return len(b) > maxLine
		}
		if i > maxLine {
			return true
		}
		b = b[i+2:]
	}
	return false
}

// encodeQP encodes b (CRLF lines) as quoted-printable with CRLF line
// breaks and soft breaks under 76 octets.
func encodeQP(b []byte) []byte {
	var out bytes.Buffer
	w := quotedprintable.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}
