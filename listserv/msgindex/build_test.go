package msgindex

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"listserv/internal/corpus"
	"listserv/mailstore"
)

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

var forwarded = crlf(`MIME-Version: 1.0
From: "Quiet Heron" <recovery+quiet-heron@lists.example.org>
To: <recovery@lists.example.org>
Subject: =?utf-8?q?Caf=C3=A9?= and a
 forwarded note
Date: Tue, 03 Mar 2026 17:15:00 +0000
Message-ID: <n1@lists.example.org>
In-Reply-To: <a@x> <b@y>
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Gr=FC=DFe, K=F6ln
--outer
Content-Type: text/html; charset=utf-8

<html><style>p { color: red }</style><p>Hello <b>world</b> &amp; all</p></html>
--outer
Content-Type: message/rfc822

From: Someone <someone@example.net>
Subject: inner
Content-Type: text/plain

inner text
--outer
Content-Type: application/pdf; name=scan.pdf
Content-Transfer-Encoding: base64

c2VjcmV0IHBkZg==
--outer--
`)

func TestBuildListing(t *testing.T) {
	idx := Build(forwarded, time.Date(2026, 3, 3, 18, 0, 0, 0, time.UTC))
	l := idx.Listing
	env := l.Envelope
	if env.Subject != "Café and a forwarded note" || env.MessageID != "n1@lists.example.org" ||
		!reflect.DeepEqual(env.InReplyTo, []string{"a@x", "b@y"}) ||
		!reflect.DeepEqual(env.From, []mailstore.Address{{Name: "Quiet Heron", Mailbox: "recovery+quiet-heron", Host: "lists.example.org"}}) {
		t.Fatalf("envelope %+v", env)
	}
	if l.Size != len(forwarded) || l.SentDay != mailstore.DayOf(env.Date) || env.Date.Hour() != 17 {
		t.Fatalf("size %d, sent day %d, date %v", l.Size, l.SentDay, env.Date)
	}
	b := l.Body
	if b.Type != "multipart" || b.Subtype != "mixed" || len(b.Children) != 4 {
		t.Fatalf("top part %s/%s with %d parts", b.Type, b.Subtype, len(b.Children))
	}
	if got := string(forwarded[b.Children[0].Body:b.Children[0].End]); got != "Gr=FC=DFe, K=F6ln" {
		t.Fatalf("part 1 body %q", got)
	}
	msg := b.Children[2]
	if msg.Message == nil || msg.Message.Envelope.Subject != "inner" || msg.Message.Body.Type != "text" ||
		string(forwarded[msg.Message.Body.Body:msg.Message.Body.End]) != "inner text" {
		t.Fatalf("encapsulated message %+v", msg.Message)
	}
	if att := b.Children[3]; att.Encoding != "base64" || att.Params[0] != (mailstore.Param{Name: "name", Value: "scan.pdf"}) {
		t.Fatalf("attachment %+v", att)
	}
}

func TestBuildText(t *testing.T) {
	idx := Build(forwarded, time.Now())
	for _, want := range []string{"subject: café and a forwarded note\n", "from: \"quiet heron\" <recovery+quiet-heron@lists.example.org>\n"} {
		if !strings.Contains(idx.HeaderText, want) {
			t.Errorf("header text lacks %q:\n%s", want, idx.HeaderText)
		}
	}
	for _, want := range []string{"grüße, köln", "hello world & all", "subject: inner", "inner text", "name=scan.pdf"} {
		if !strings.Contains(idx.BodyText, want) {
			t.Errorf("body text lacks %q:\n%s", want, idx.BodyText)
		}
	}
	for _, absent := range []string{"color: red", "secret pdf", "preamble", "<b>"} {
		if strings.Contains(idx.BodyText, absent) {
			t.Errorf("body text holds %q", absent)
		}
	}
	terms := PostTerms([]byte(idx.HeaderText), []byte(idx.BodyText))
	for term, want := range map[string]mailstore.Field{
		"café":    mailstore.InHeader | mailstore.InSubject,
		"heron":   mailstore.InHeader | mailstore.InFrom,
		"subject": mailstore.InHeader | mailstore.InBody,
		"inner":   mailstore.InBody,
		"köln":    mailstore.InBody,
	} {
		if terms[term] != want {
			t.Errorf("term %q in fields %b, want %b", term, terms[term], want)
		}
	}
}

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"HeLLo\r\n\t World":  "hello world",
		"  lead":             " lead",
		"ÉCOLE Straße":       "école straße",
		"a\x00b":             "a b",
		"tab\tand\nnewline ": "tab and newline ",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFields(t *testing.T) {
	h := crlf("Subject: one\n two\nbad line\n continuation of nothing\nX-A:b\n\nbody")
	f := Fields(h[:HeaderEnd(h)])
	if len(f) != 2 || f[0].Name != "Subject" || f[0].Value != "one two" || string(f[0].Raw) != "Subject: one\r\n two\r\n" ||
		f[1].Name != "X-A" || f[1].Value != "b" {
		t.Fatalf("fields %+v", f)
	}
	if HeaderEnd(h) != len(h)-len("body") {
		t.Fatalf("header ends at %d", HeaderEnd(h))
	}
	if len(cp1252High) != 32 {
		t.Fatalf("windows-1252 table has %d entries", len(cp1252High))
	}
}

// checkListing verifies the invariants FETCH relies on: offsets inside
// the message and nested inside their parent, and the stored form
// decoding to the same listing.
func checkListing(t *testing.T, raw []byte, l *mailstore.Listing) {
	t.Helper()
	var walk func(p *mailstore.Part, lo, hi int)
	walk = func(p *mailstore.Part, lo, hi int) {
		if !(lo <= p.Header && p.Header <= p.Body && p.Body <= p.End && p.End <= hi) {
			t.Fatalf("part %s/%s at %d,%d,%d outside [%d,%d]", p.Type, p.Subtype, p.Header, p.Body, p.End, lo, hi)
		}
		if p.Multipart() && len(p.Children) == 0 {
			t.Fatalf("multipart without parts")
		}
		for i := range p.Children {
			walk(&p.Children[i], p.Body, p.End)
		}
		if p.Message != nil {
			walk(&p.Message.Body, p.Body, p.End)
		}
	}
	walk(&l.Body, 0, len(raw))
	back, err := mailstore.DecodeListing(mailstore.EncodeListing(l))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mailstore.EncodeListing(&back), mailstore.EncodeListing(l)) {
		t.Fatalf("listing does not survive encoding:\n%+v\n%+v", back, *l)
	}
}

func TestBuildCorpus(t *testing.T) {
	g := corpus.New(corpus.Options{Seed: 9})
	for i := 0; i < 200; i++ {
		p := g.Post(i)
		idx := Build(p.Raw, p.Date)
		checkListing(t, p.Raw, &idx.Listing)
		if !strings.Contains(idx.BodyText, Fold(strings.Fields(p.Text)[0])) {
			t.Fatalf("post %d (%s): body text lacks its first word", i, p.Kind)
		}
	}
}

func FuzzBuild(f *testing.F) {
	f.Add(forwarded)
	g := corpus.New(corpus.Options{Seed: 5})
	for i := 0; i < 10; i++ {
		f.Add(g.Post(i).Raw)
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\n\r\n--x--"))
	f.Add([]byte("Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n"))
	f.Add([]byte("Subject: =?x-unknown?q?abc?=\r\nFrom: <@>, \"a\" <b@c>, bad\r\n\nbody"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		idx := Build(raw, time.Unix(0, 0))
		if idx.Listing.Size != len(raw) {
			t.Fatalf("size %d of %d bytes", idx.Listing.Size, len(raw))
		}
		checkListing(t, raw, &idx.Listing)
		PostTerms([]byte(idx.HeaderText), []byte(idx.BodyText))
	})
}

// TestBuildPathological: inputs built to be slow (long folded headers,
// many parameters, deep nesting, many parts) are read in linear time.
func TestBuildPathological(t *testing.T) {
	var params strings.Builder
	for i := 0; i < 20000; i++ {
		params.WriteString("; p" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "=v")
	}
	var deep strings.Builder
	for i := 0; i < 5000; i++ {
		deep.WriteString("Content-Type: message/rfc822\r\n\r\n")
	}
	var parts strings.Builder
	parts.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := 0; i < 50000; i++ {
		parts.WriteString("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n")
	}
	for name, raw := range map[string]string{
		"folded header": "Subject: a\r\n" + strings.Repeat(" continued\r\n", 200000) + "\r\nbody",
		"parameters":    "Content-Type: text/plain" + params.String() + "\r\n\r\nbody",
		"nesting":       deep.String(),
		"parts":         parts.String(),
		"long line":     "Subject: x\r\n\r\n" + strings.Repeat("word", 2<<20),
	} {
		start := time.Now()
		idx := Build([]byte(raw), time.Now())
		checkListing(t, []byte(raw), &idx.Listing)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s (%d bytes): %v", name, len(raw), d)
		}
	}
}
