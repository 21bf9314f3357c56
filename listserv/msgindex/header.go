package msgindex

import (
	"bytes"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// HeaderField is one field of a header block: its name as written, its
// value unfolded (line breaks removed, not decoded), and its raw bytes
// (continuation lines and the final line break included).
type HeaderField struct {
	Name  string
	Value string
	Raw   []byte
}

// HeaderEnd returns where the header block at the start of b ends (after
// its blank line), that is where the body starts. A block without a blank
// line is all header.
func HeaderEnd(b []byte) int {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return len(b)
		}
		line := b[i : i+j]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return i + j + 1
		}
		i += j + 1
	}
	return len(b)
}

// Fields splits a header block into its fields. A line that is neither a
// field nor a continuation is skipped; the blank line ends the block.
func Fields(h []byte) []HeaderField {
	var out []HeaderField
	var vals [][]byte // the values being unfolded, one per field
	start := -1       // where the field being read starts; -1 after a bad line
	for i := 0; i < len(h); {
		end := lineEnd(h, i)
		line := bytes.TrimRight(h[i:end], "\r\n")
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if start >= 0 {
				out[len(out)-1].Raw = h[start:end]
				vals[len(vals)-1] = append(vals[len(vals)-1], line...)
			}
		} else if colon := bytes.IndexByte(line, ':'); colon > 0 {
			start = i
			name := string(bytes.TrimRight(line[:colon], " \t"))
			out = append(out, HeaderField{Name: name, Raw: h[i:end]})
			vals = append(vals, append([]byte(nil), line[colon+1:]...))
		} else {
			start = -1
		}
		i = end
	}
	for k := range out {
		out[k].Value = string(bytes.TrimSpace(vals[k]))
	}
	return out
}

// lineEnd returns the index just past the line starting at i.
func lineEnd(b []byte, i int) int {
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		return len(b)
	}
	return i + j + 1
}

// get returns the value of the first field named name (case-insensitive).
func get(fields []HeaderField, name string) string {
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// wordDecoder decodes RFC 2047 encoded words in any charset that
// go-message knows, and leaves the words of unknown charsets as they are.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
	return charset.Reader(cs, r)
}}

// DecodeHeader decodes a field value's encoded words and makes the result
// valid UTF-8 (raw 8-bit text that is not UTF-8 is read as windows-1252).
func DecodeHeader(v string) string {
	if strings.Contains(v, "=?") {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			v = d
		}
	}
	return toUTF8(v)
}

// toUTF8 returns s if it is valid UTF-8, else s read as windows-1252.
func toUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			b.WriteRune(cp1252(s[i]))
			i++
			continue
		}
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// cp1252 maps a byte of windows-1252 to its rune (bytes 0x80–0x9F that
// windows-1252 leaves undefined map to themselves).
func cp1252(c byte) rune {
	if c >= 0x80 && c < 0xa0 {
		return cp1252High[c-0x80]
	}
	return rune(c)
}

var cp1252High = []rune("€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ")
