package msgindex

import (
	"bytes"
	"encoding/base64"
	"html"
	"io"
	"mime/quotedprintable"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"

	"listserv/mailstore"
)

// MaxTextBytes caps the decoded body text indexed per post.
const MaxTextBytes = 1 << 20

// Fold normalizes text for case-insensitive substring search: letters
// are case-folded, every run of white space or control characters
// becomes one space. Index and queries go through the same function.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if r < utf8.RuneSelf {
			switch {
			case r <= ' ' || r == 0x7f: // white space and controls
				space = true
				continue
			case 'A' <= r && r <= 'Z':
				r += 'a' - 'A'
			}
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteByte(byte(r))
			continue
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(unicode.ToUpper(r)))
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

// isTermRune says whether r belongs to a term.
func isTermRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// Terms calls fn for every term of folded text s, in order, with its
// start and end offsets.
func Terms(s string, fn func(term string, start, end int)) {
	start := -1
	for i, r := range s {
		if isTermRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			fn(s[start:i], start, i)
			start = -1
		}
	}
	if start >= 0 {
		fn(s[start:], start, len(s))
	}
}

// addTerms records the terms of folded text s with field f.
func addTerms(terms map[string]mailstore.Field, s string, f mailstore.Field) {
	Terms(s, func(t string, _, _ int) {
		if len(t) > mailstore.MaxTermLen {
			t = mailstore.LongTerms
		}
		terms[t] |= f
	})
}

// headerFieldBit maps a header field name to its Field.
func headerFieldBit(name string) mailstore.Field {
	switch strings.ToLower(name) {
	case "from":
		return mailstore.InFrom
	case "to":
		return mailstore.InTo
	case "cc":
		return mailstore.InCc
	case "bcc":
		return mailstore.InBcc
	case "subject":
		return mailstore.InSubject
	}
	return 0
}

// headerText writes header fields as "name: value\n" lines, decoded and
// folded.
func headerText(b *strings.Builder, fields []HeaderField) {
	for _, fl := range fields {
		b.WriteString(Fold(fl.Name))
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(Fold(DecodeHeader(fl.Value))))
		b.WriteByte('\n')
	}
}

// PostTerms returns the terms of a post's stored texts and where they
// occur: the names and values of its header fields (InHeader, and the
// field's own bit for From, To, Cc, Bcc and Subject) and its body text
// (InBody). Terms longer than mailstore.MaxTermLen count as
// mailstore.LongTerms.
func PostTerms(header, body []byte) map[string]mailstore.Field {
	terms := make(map[string]mailstore.Field, 256)
	for h := string(header); h != ""; {
		line, rest, _ := strings.Cut(h, "\n")
		h = rest
		name, value, ok := strings.Cut(line, ": ")
		if !ok {
			name, value = "", line
		}
		addTerms(terms, name, mailstore.InHeader)
		addTerms(terms, value, mailstore.InHeader|headerFieldBit(name))
	}
	addTerms(terms, string(body), mailstore.InBody)
	return terms
}

// decodeBody undoes a part's transfer encoding and charset. Broken
// encodings give what could be decoded.
func decodeBody(body []byte, part *mailstore.Part) string {
	var r io.Reader = bytes.NewReader(body)
	switch part.Encoding {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &base64Filter{r: r})
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	}
	cs := ""
	for _, p := range part.Params {
		if p.Name == "charset" {
			cs = strings.ToLower(p.Value)
		}
	}
	if cs != "" && cs != "utf-8" && cs != "us-ascii" {
		if cr, err := charset.Reader(cs, r); err == nil {
			r = cr
		}
	}
	b, _ := io.ReadAll(io.LimitReader(r, MaxTextBytes))
	s := toUTF8(string(b))
	if part.Subtype == "html" {
		s = stripTags(s)
	}
	return s
}

// base64Filter drops the bytes that are not base64 (line breaks, stray
// characters) so that a sloppily wrapped body still decodes.
type base64Filter struct{ r io.Reader }

// Read fills p with the base64 bytes of the underlying reader.
func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// stripTags turns HTML into its text: tags, comments and the contents of
// style and script elements go, entities are decoded.
func stripTags(s string) string {
	var b strings.Builder
	lower := asciiLower(s)
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+j])
		i += j
		skipTo := ">"
		switch {
		case strings.HasPrefix(lower[i:], "<!--"):
			skipTo = "-->"
		case strings.HasPrefix(lower[i:], "<style"):
			skipTo = "</style>"
		case strings.HasPrefix(lower[i:], "<script"):
			skipTo = "</script>"
		}
		k := strings.Index(lower[i:], skipTo)
		if k < 0 {
			break
		}
		i += k + len(skipTo)
		b.WriteByte(' ')
	}
	return html.UnescapeString(b.String())
}

// asciiLower lower-cases ASCII letters only, so that offsets into the
// result are offsets into s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
