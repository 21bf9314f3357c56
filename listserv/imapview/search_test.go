package imapview_test

import (
	"bytes"
	"fmt"
	"mime"
	"net/mail"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/emersion/go-imap/v2"

	"listserv/internal/corpus"
)

// fold is the test's own idea of IMAP's case-insensitive comparison over
// decoded text: lower case, white space runs as one space.
func fold(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), unicode.IsSpace), " ")
}

// decodedHeader is a post's header, decoded by the standard library, one
// "name: value" line per field.
func decodedHeader(raw []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		panic(err)
	}
	var b strings.Builder
	dec := new(mime.WordDecoder)
	for k, vs := range m.Header {
		for _, v := range vs {
			if d, err := dec.DecodeHeader(v); err == nil {
				v = d
			}
			b.WriteString(k + ": " + v + "\n")
		}
	}
	return fold(b.String())
}

// searchCase is a SEARCH and the posts it must find.
type searchCase struct {
	name string
	crit imap.SearchCriteria
	want func(uid uint64, p *corpus.Post) bool
}

func TestSearchLargeArchive(t *testing.T) {
	f := big(t)
	c := f.login(t, nil)
	for _, tc := range largeArchiveCases(f) {
		res, err := c.UIDSearch(&tc.crit, nil).Wait()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		checkSearch(t, f, tc, res.AllUIDs())
	}
}

// checkSearch compares the UIDs a search returned with the posts its
// case expects.
func checkSearch(t *testing.T, f *fixture, tc searchCase, uids []imap.UID) {
	t.Helper()
	got := map[uint64]bool{}
	for _, uid := range uids {
		got[uint64(uid)] = true
	}
	var missing, extra []uint64
	n := 0
	for uid, i := range f.byUID {
		want := tc.want(uid, &f.posts[i])
		if want {
			n++
		}
		switch {
		case want && !got[uid]:
			missing = append(missing, uid)
		case !want && got[uid]:
			extra = append(extra, uid)
		}
	}
	if len(missing)+len(extra) > 0 {
		sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
		sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
		t.Errorf("%s: %d posts expected, %d missing (%v), %d extra (%v)", tc.name, n, len(missing), head(missing), len(extra), head(extra))
		return
	}
	if n == 0 {
		t.Errorf("%s: matches nothing, a useless case", tc.name)
	}
	t.Logf("%s: %d posts", tc.name, n)
}

// largeArchiveCases are substring, header, date, size and boolean
// searches, each with the posts it must find computed from what the
// generator wrote (decoded by the standard library, not by msgindex).
func largeArchiveCases(f *fixture) []searchCase {
	headers := make([]string, len(f.posts))
	for i := range f.posts {
		headers[i] = decodedHeader(f.posts[i].Raw)
	}
	hasText := func(q string) func(uint64, *corpus.Post) bool {
		q = fold(q)
		return func(_ uint64, p *corpus.Post) bool {
			return strings.Contains(headers[postNumber(p)], q) || strings.Contains(fold(p.Text), q)
		}
	}
	word := pickWord(f.posts[5].Text, 8)
	sub := word[1:6]
	phrase := pickPhrase(f.posts[42].Text)
	author, other := f.posts[7], f.posts[8]
	for i := 8; other.Author == author.Author; i++ {
		other = f.posts[i]
	}
	day := f.posts[5000].Date.UTC().Truncate(24 * time.Hour)
	hdr := func(k, v string) []imap.SearchCriteriaHeaderField {
		return []imap.SearchCriteriaHeaderField{{Key: k, Value: v}}
	}
	post := func(fn func(p *corpus.Post) bool) func(uint64, *corpus.Post) bool {
		return func(_ uint64, p *corpus.Post) bool { return fn(p) }
	}
	return []searchCase{
		{"TEXT substring " + sub, imap.SearchCriteria{Text: []string{strings.ToUpper(sub)}}, hasText(sub)},
		{"TEXT word " + word, imap.SearchCriteria{Text: []string{word}}, hasText(word)},
		{"TEXT phrase " + phrase, imap.SearchCriteria{Text: []string{phrase}}, hasText(phrase)},
		{"TEXT latin-1 KÖLN", imap.SearchCriteria{Text: []string{"KÖLN"}}, hasText("köln")},
		{"BODY " + word, imap.SearchCriteria{Body: []string{word}}, post(func(p *corpus.Post) bool { return strings.Contains(fold(p.Text), word) })},
		{"SUBJECT naïve (RFC 2047)", imap.SearchCriteria{Header: hdr("Subject", "NAÏVE")}, post(func(p *corpus.Post) bool { return strings.Contains(fold(p.Subject), "naïve") })},
		{"SUBJECT " + sub, imap.SearchCriteria{Header: hdr("Subject", sub)}, post(func(p *corpus.Post) bool { return strings.Contains(fold(p.Subject), sub) })},
		{"FROM address", imap.SearchCriteria{Header: hdr("From", "recovery+"+author.Slug+"@lists.example.org")}, post(func(p *corpus.Post) bool { return p.Author == author.Author })},
		{"FROM alias", imap.SearchCriteria{Header: hdr("From", strings.ToUpper(author.Alias))}, post(func(p *corpus.Post) bool { return strings.Contains(fold(p.Alias), fold(author.Alias)) })},
		{"TO", imap.SearchCriteria{Header: hdr("To", "recovery@lists.example.org")}, post(func(*corpus.Post) bool { return true })},
		{"HEADER Message-ID", imap.SearchCriteria{Header: hdr("Message-ID", f.posts[1234].MessageID)}, post(func(p *corpus.Post) bool { return p.MessageID == f.posts[1234].MessageID })},
		{"HEADER In-Reply-To present", imap.SearchCriteria{Header: hdr("In-Reply-To", "")}, post(func(p *corpus.Post) bool { return p.InReplyTo != "" })},
		{"SINCE", imap.SearchCriteria{Since: day}, post(func(p *corpus.Post) bool { return !p.Date.UTC().Before(day) })},
		{"BEFORE", imap.SearchCriteria{Before: day}, post(func(p *corpus.Post) bool { return p.Date.UTC().Before(day) })},
		{"ON", imap.SearchCriteria{Since: day, Before: day.Add(24 * time.Hour)}, post(func(p *corpus.Post) bool { return p.Date.UTC().Truncate(24 * time.Hour).Equal(day) })},
		{"SENTBEFORE", imap.SearchCriteria{SentBefore: day}, post(func(p *corpus.Post) bool { return p.Date.UTC().Before(day) })},
		{"LARGER", imap.SearchCriteria{Larger: 20000}, post(func(p *corpus.Post) bool { return len(p.Raw) > 20000 })},
		{"NOT TEXT", imap.SearchCriteria{Not: []imap.SearchCriteria{{Text: []string{word}}}}, func(u uint64, p *corpus.Post) bool { return !hasText(word)(u, p) }},
		{"OR FROM FROM", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Header: hdr("From", author.Slug)}, {Header: hdr("From", other.Slug)}}}},
			post(func(p *corpus.Post) bool { return p.Author == author.Author || p.Author == other.Author })},
		{"UID range AND TEXT", imap.SearchCriteria{UID: []imap.UIDSet{{{Start: 100, Stop: 2000}}}, Text: []string{word}},
			func(u uint64, p *corpus.Post) bool { return u >= 100 && u <= 2000 && hasText(word)(u, p) }},
	}
}

func head(l []uint64) []uint64 { return l[:min(len(l), 5)] }

func postNumber(p *corpus.Post) int {
	var n int
	fmt.Sscanf(p.MessageID[strings.IndexByte(p.MessageID, '.')+1:], "%d", &n)
	return n
}

// pickWord returns the first word of at least n letters in text.
func pickWord(text string, n int) string {
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if len(w) >= n {
			return w
		}
	}
	panic("no long word")
}

// pickPhrase returns two words that follow each other on a line.
func pickPhrase(text string) string {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(strings.ToLower(line))
		for i := 0; i+1 < len(f); i++ {
			if len(f[i]) > 3 && len(f[i+1]) > 3 && !strings.ContainsAny(f[i]+f[i+1], ".,") {
				return f[i] + " " + f[i+1]
			}
		}
	}
	panic("no phrase")
}
