package anon

import "bytes"

var crlf = []byte("\r\n")

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

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
