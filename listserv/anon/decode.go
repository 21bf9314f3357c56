package anon

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"
)

// wordDecoder returns an RFC 2047 decoder that never fails on a charset:
// mime handles UTF-8, ISO-8859-1 and US-ASCII itself, windows-1252 (what
// Outlook often declares) is converted here, and any other charset is
// passed through as bytes for the caller to sanitize. A name or subject
// in an exotic charset may come out garbled; it never makes the message
// unparseable. (golang.org/x/text would decode more charsets; it is not a
// dependency of this module.)
func wordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: lenientCharset}
}

func lenientCharset(charset string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(charset) {
	case "windows-1252", "cp1252", "x-cp1252":
		return strings.NewReader(decodeCP1252(b)), nil
	}
	return bytes.NewReader(b), nil
}

// cp1252 maps bytes 0x80–0x9F of windows-1252; the other bytes equal
// their ISO-8859-1 code points. The five undefined bytes map to the C1
// control of the same value, so that decoding is one-to-one and
// encodeCP1252 restores the exact bytes.
var cp1252 = [32]rune{
	'€', 0x81, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0x8d, 'Ž', 0x8f,
	0x90, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0x9d, 'ž', 'Ÿ',
}

func cp1252Rune(c byte) rune {
	if c >= 0x80 && c < 0xa0 {
		return cp1252[c-0x80]
	}
	return rune(c)
}

func decodeCP1252(b []byte) string {
	var s strings.Builder
	s.Grow(len(b))
	for _, c := range b {
		s.WriteRune(cp1252Rune(c))
	}
	return s.String()
}

// encodeCP1252 reverses decodeCP1252; a rune windows-1252 cannot hold
// becomes '?'.
func encodeCP1252(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r < 0x80 || r >= 0xa0 && r <= 0xff:
			b = append(b, byte(r))
		default:
			c := byte('?')
			for i, x := range cp1252 {
				if x == r {
					c = byte(0x80 + i)
					break
				}
			}
			b = append(b, c)
		}
	}
	return b
}

// isLatin1 reports whether charset is one that decodeCP1252 reads
// faithfully.
func isLatin1(charset string) bool {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "iso_8859-1", "latin1", "l1", "cp819", "windows-1252", "cp1252", "x-cp1252":
		return true
	}
	return false
}

// fixUTF8 returns s with each byte that is not part of valid UTF-8 read
// as windows-1252: raw 8-bit header text that is not UTF-8 is almost
// always Latin-1 or windows-1252, and "Café" beats "Caf\uFFFD".
func fixUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			r = cp1252Rune(s[i])
		}
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

// decodeHeaderText decodes the RFC 2047 words of an unstructured value
// (a Subject) into clean UTF-8 on one line: invalid bytes are read by fixUTF8,
// control characters (CR and LF from an encoded word included) become
// spaces, runs of spaces collapse.
func decodeHeaderText(v string) string {
	v = fixUTF8(v)
	if d, err := wordDecoder().DecodeHeader(v); err == nil {
		v = fixUTF8(d)
	}
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, v)
	return strings.Join(strings.Fields(v), " ")
}

// encodeHeaderText returns s (clean UTF-8 without controls) as an
// unstructured header value: as is when it is ASCII that no reader would
// take for an encoded word, otherwise as RFC 2047 Q-encoded UTF-8 words.
// Each word is at most 75 bytes and never splits a character; words are
// separated by spaces, so the value folds safely. (mime.QEncoding leaves
// ASCII alone, so a subject whose text is a literal "=?utf-8?q?x?=" would
// be decoded by readers; this one encodes it.)
func encodeHeaderText(s string) string {
	if isASCII(s) && !strings.Contains(s, "=?") {
		return s
	}
	const prefix, suffix = "=?utf-8?q?", "?="
	const room = 75 - len(prefix) - len(suffix)
	var words []string
	var w strings.Builder
	for _, r := range s {
		var enc strings.Builder
		for _, c := range []byte(string(r)) {
			switch {
			case c == ' ':
				enc.WriteByte('_')
			case c > ' ' && c < 0x7f && c != '=' && c != '?' && c != '_':
				enc.WriteByte(c)
			default:
				fmt.Fprintf(&enc, "=%02X", c)
			}
		}
		if w.Len()+enc.Len() > room {
			words = append(words, prefix+w.String()+suffix)
			w.Reset()
		}
		w.WriteString(enc.String())
	}
	if w.Len() > 0 {
		words = append(words, prefix+w.String()+suffix)
	}
	return strings.Join(words, " ")
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
