package imapview

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"listserv/internal/corpus"
	"listserv/listserv/msgindex"
)

// nested is a post with every kind of part: a multipart/mixed holding a
// text part, a multipart/alternative, a forwarded message (itself
// multipart) and an attachment.
var nested = strings.ReplaceAll(`MIME-Version: 1.0
From: "Quiet Heron" <recovery+quiet-heron@lists.example.org>
To: <recovery@lists.example.org>
Subject: =?utf-8?q?Caf=C3=A9?= and a forwarded note
Date: Tue, 03 Mar 2026 17:15:00 +0000
Message-ID: <n1@lists.example.org>
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: text/plain; charset=utf-8
Content-Language: en

Hello all,
see below.
--outer
Content-Type: multipart/alternative; boundary=alt

--alt
Content-Type: text/plain; charset=us-ascii

plain version
--alt
Content-Type: text/html; charset=us-ascii
Content-Transfer-Encoding: quoted-printable

<p>html version</p>
--alt--

--outer
Content-Type: message/rfc822
Content-Description: forwarded

From: Someone <someone@example.net>
Subject: inner
Message-ID: <inner@example.net>
Content-Type: multipart/mixed; boundary=in

--in
Content-Type: text/plain

inner text
--in
Content-Type: application/octet-stream; name=a.bin
Content-Disposition: attachment; filename=a.bin
Content-Transfer-Encoding: base64

AAECAw==
--in--
--outer
Content-Type: image/png; name="dot.png"
Content-Disposition: attachment; filename="dot.png"
Content-Transfer-Encoding: base64
Content-ID: <dot@x>

iVBORw0KGgo=
--outer--
epilogue
`, "\n", "\r\n")

// sectionSpecs are the sections every test message is fetched with.
func sectionSpecs() []*imap.FetchItemBodySection {
	specs := []*imap.FetchItemBodySection{
		{},
		{Specifier: imap.PartSpecifierHeader},
		{Specifier: imap.PartSpecifierText},
		{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"From", "subject", "X-Absent"}},
		{Specifier: imap.PartSpecifierHeader, HeaderFieldsNot: []string{"From", "Content-Type"}},
		{Partial: &imap.SectionPartial{Offset: 10, Size: 100}},
		{Partial: &imap.SectionPartial{Offset: 1 << 20, Size: 100}},
	}
	for _, p := range [][]int{{1}, {2}, {2, 1}, {2, 2}, {3}, {3, 1}, {3, 2}, {4}, {5}, {1, 1}} {
		specs = append(specs,
			&imap.FetchItemBodySection{Part: p},
			&imap.FetchItemBodySection{Part: p, Specifier: imap.PartSpecifierMIME},
			&imap.FetchItemBodySection{Part: p, Specifier: imap.PartSpecifierText},
			&imap.FetchItemBodySection{Part: p, Specifier: imap.PartSpecifierHeader},
		)
	}
	return specs
}

// TestSectionsMatchReference cuts sections out of the stored bytes with
// the precomputed offsets, and compares them with go-imap's reference
// extraction (which parses the message each time), on the nested post and
// on generated posts of every shape.
func TestSectionsMatchReference(t *testing.T) {
	msgs := [][]byte{[]byte(nested)}
	g := corpus.New(corpus.Options{Seed: 3})
	for i := 0; i < 40; i++ {
		msgs = append(msgs, g.Post(i).Raw)
	}
	for mi, raw := range msgs {
		idx := msgindex.Build(raw, time.Now())
		for _, spec := range sectionSpecs() {
			got := section(raw, &idx.Listing.Body, spec)
			want := imapserver.ExtractBodySection(bytes.NewReader(raw), spec)
			if spec.Specifier == imap.PartSpecifierHeader || spec.Specifier == imap.PartSpecifierMIME {
				// The reference rewrites header blocks; compare fields.
				got, want = normHeader(got), normHeader(want)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("message %d, BODY[%s]:\n got %q\nwant %q", mi, specString(spec), trunc(got), trunc(want))
			}
		}
	}
}

func normHeader(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n\t"), []byte(" ")), []byte("\r\n "), []byte(" "))
}

func trunc(b []byte) []byte { return b[:min(len(b), 120)] }

func specString(s *imap.FetchItemBodySection) string {
	out := fmt.Sprint(s.Part) + string(s.Specifier)
	if s.HeaderFields != nil || s.HeaderFieldsNot != nil {
		out += fmt.Sprint(s.HeaderFields, s.HeaderFieldsNot)
	}
	if s.Partial != nil {
		out += fmt.Sprintf("<%d.%d>", s.Partial.Offset, s.Partial.Size)
	}
	return out
}

// TestBodyStructureMatchesReference compares the stored structure with
// go-imap's reference extraction.
func TestBodyStructureMatchesReference(t *testing.T) {
	msgs := [][]byte{[]byte(nested)}
	g := corpus.New(corpus.Options{Seed: 4})
	for i := 0; i < 40; i++ {
		msgs = append(msgs, g.Post(i).Raw)
	}
	for mi, raw := range msgs {
		idx := msgindex.Build(raw, time.Now())
		got := bodyStructure(&idx.Listing.Body)
		want := imapserver.ExtractBodyStructure(bytes.NewReader(raw))
		normalize(got)
		normalize(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("message %d:\n got %s\nwant %s", mi, dump(got), dump(want))
		}
	}
}

// normalize removes what the reference leaves raw and the view decodes or
// lower-cases (both are valid).
func normalize(bs imap.BodyStructure) {
	bs.Walk(func(_ []int, p imap.BodyStructure) bool {
		if mp, ok := p.(*imap.BodyStructureMultiPart); ok {
			if len(mp.Extended.Params) == 0 {
				mp.Extended.Params = nil
			}
			if len(mp.Extended.Language) == 0 {
				mp.Extended.Language = nil
			}
		}
		if sp, ok := p.(*imap.BodyStructureSinglePart); ok {
			if len(sp.Params) == 0 {
				sp.Params = nil
			}
			if len(sp.Extended.Language) == 0 {
				sp.Extended.Language = nil
			}
			sp.Encoding = strings.ToLower(sp.Encoding)
			sp.Description = ""
			if sp.MessageRFC822 != nil {
				normalize(sp.MessageRFC822.BodyStructure)
				e := sp.MessageRFC822.Envelope
				e.Sender, e.ReplyTo = nil, nil
			}
		}
		return true
	})
}

func dump(bs imap.BodyStructure) string {
	var b strings.Builder
	bs.Walk(func(path []int, p imap.BodyStructure) bool {
		fmt.Fprintf(&b, "%v:%s ", path, p.MediaType())
		if sp, ok := p.(*imap.BodyStructureSinglePart); ok {
			fmt.Fprintf(&b, "%+v %+v %+v; ", *sp, sp.Extended, sp.Text)
		}
		return true
	})
	return b.String()
}

func TestFindPart(t *testing.T) {
	idx := msgindex.Build([]byte(nested), time.Now())
	raw := []byte(nested)
	for path, want := range map[string]string{
		"1":   "Hello all,\r\nsee below.",
		"2.1": "plain version",
		"2.2": "<p>html version</p>",
		"3.1": "inner text",
		"3.2": "AAECAw==",
		"4":   "iVBORw0KGgo=",
	} {
		var p []int
		for _, s := range strings.Split(path, ".") {
			var n int
			fmt.Sscan(s, &n)
			p = append(p, n)
		}
		if got := string(section(raw, &idx.Listing.Body, &imap.FetchItemBodySection{Part: p})); got != want {
			t.Errorf("BODY[%s] = %q, want %q", path, got, want)
		}
	}
	if got := section(raw, &idx.Listing.Body, &imap.FetchItemBodySection{Part: []int{9}}); got != nil {
		t.Errorf("BODY[9] = %q, want nothing", got)
	}
}
