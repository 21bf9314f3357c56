package anon

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strings"
	"testing"
	"time"
)

// run parses raw (LF line ends allowed: they become CRLF), anonymizes it
// with the golden Params, checks the output and parses it again.
func run(t *testing.T, raw string, p Params) (*Message, []byte) {
	t.Helper()
	raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	out, err := Anonymize(m, p)
	if err != nil {
		t.Fatalf("Anonymize: %v", err)
	}
	checkOutput(t, out, p)
	back, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	return back, out
}

func fieldNames(m *Message) string {
	var names []string
	for f := m.Header.Fields(); f.Next(); {
		names = append(names, f.Key())
	}
	return strings.Join(names, " ")
}

const junkHeader = `Received: from host.example ([192.0.2.7]) by mx.example
Return-Path: <a@b.example>
Sender: a@b.example
Reply-To: other@b.example
Cc: friend@c.example
Bcc: hidden@c.example
X-Mailer: Foo 1.0
X-Originating-IP: [192.0.2.7]
DKIM-Signature: v=1; d=b.example
ARC-Seal: i=1
Authentication-Results: mx.example; spf=pass
Autocrypt: addr=a@b.example; keydata=AAAA
OpenPGP: id=ABCDEF
Face: iVBORw0KGgo=
Disposition-Notification-To: a@b.example
Return-Receipt-To: a@b.example
Thread-Index: AQHZ
Content-Language: en-GB
Organization: B Corp
User-Agent: Foo/1.0
Comments: written at home
Keywords: private
Mime-Version: 1.0 (Mac OS X Mail 16.0 \(3774.600.62\))
List-Unsubscribe: <mailto:leave@other.example>
Precedence: first-class
Unknown-Field: value
`

func TestHeaderAllowlistAndOrder(t *testing.T) {
	raw := junkHeader + `From: A <a@b.example>
To: recovery@lists.example.org
Subject: order
Date: Fri, 14 Mar 2025 10:00:00 +0100
Message-ID: <x1@b.example>
In-Reply-To: <golden-01-thunderbird@lists.example.org>
References: <golden-01-thunderbird@lists.example.org>
Content-Disposition: inline
Content-Transfer-Encoding: 8bit
Content-Type: text/plain; charset=utf-8

body
`
	m, _ := run(t, raw, testParams("order"))
	want := "Mime-Version From Reply-To To Subject Date Message-Id In-Reply-To References " +
		"List-Id List-Post List-Help List-Unsubscribe List-Archive Precedence " +
		"Content-Type Content-Transfer-Encoding Content-Disposition"
	if got := fieldNames(m); got != want {
		t.Errorf("fields:\n got %s\nwant %s", got, want)
	}

	p := testParams("private")
	m, _ = run(t, raw, p)
	want = "Mime-Version From Reply-To To Subject Date Message-Id In-Reply-To References " +
		"Content-Type Content-Transfer-Encoding Content-Disposition"
	if got := fieldNames(m); got != want {
		t.Errorf("private fields:\n got %s\nwant %s", got, want)
	}
	if got := m.Header.Get("To"); got != `"Gentle Otter" <recovery+gentle-otter@lists.example.org>` {
		t.Errorf("private To = %q", got)
	}

	p.PrivateTo.Name = ""
	m, _ = run(t, raw, p)
	if got := m.Header.Get("To"); got != "<recovery+gentle-otter@lists.example.org>" {
		t.Errorf("private To without name = %q", got)
	}

	p = testParams("no-archive")
	p.Hostname = ""
	if m, _ = run(t, raw, p); m.Header.Has("List-Archive") {
		t.Errorf("List-Archive written without Hostname")
	}
}

func TestSubject(t *testing.T) {
	long := strings.Repeat("word ", 400)
	tests := []struct {
		name, field string // field: the raw Subject line(s), "" for none
		want        string // decoded Subject of the copy, "" for none
	}{
		{"ascii", "Subject: Day 90", "Day 90"},
		{"folded", "Subject: Day\n  90", "Day 90"},
		{"utf-8", "Subject: Grüße aus Köln", "Grüße aus Köln"},
		{"latin-1 bytes", "Subject: Caf\xe9 \xe0 19h", "Café à 19h"},
		{"mixed", "Subject: =?iso-8859-1?q?Caf=E9?= und \xc3\xa9t\xe9", "Café und été"},
		{"encoded CRLF", "Subject: =?utf-8?q?hi=0D=0ABcc:_evil@x.example?=", "hi Bcc: evil@x.example"},
		{"control chars", "Subject: a\x01b\x1bc\x7fd", "a b c d"},
		{"literal encoded word", "Subject: =?utf-8?b?PT91dGYtOD9xP3g/PQ==?=", "=?utf-8?q?x?="},
		{"author named", "Subject: From A. Person (a@B.example) to all", "From Quiet Heron (recovery+quiet-heron@lists.example.org) to all"},
		{"first of two", "Subject: one\nSubject: two", "one"},
		{"missing", "", ""},
		{"blank", "Subject:   ", ""},
		{"long", "Subject: " + long, strings.TrimSpace(long[:maxSubjectBytes])},
		{"long word", "Subject: " + strings.Repeat("x", 3000), strings.Repeat("x", maxSubjectBytes)},
		{"long utf-8", "Subject: " + strings.Repeat("é", 2000), strings.Repeat("é", maxSubjectBytes/2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "From: A. Person <a@b.example>\n"
			if tt.field != "" {
				raw += tt.field + "\n"
			}
			m, out := run(t, raw+"\nbody\n", testParams("subject"))
			if tt.want == "" {
				if m.Header.Has("Subject") {
					t.Errorf("Subject written: %q", m.Header.Get("Subject"))
				}
				return
			}
			if got := decodeHeaderText(m.Header.Get("Subject")); got != tt.want {
				t.Errorf("Subject decodes to %q, want %q", got, tt.want)
			}
			head := string(out[:len(out)-len(m.Body)])
			for i := 0; i < len(head); i++ {
				if head[i] >= 0x80 {
					t.Fatalf("8-bit byte in header: %q", head)
				}
			}
		})
	}
}

func TestReferences(t *testing.T) {
	p := testParams("refs")
	raw := `From: a@b.example
In-Reply-To: <8c1f6e2a-3b7d-4f0e-9a51-2d6c0e7b9f13@posteo.example> <unknown@x.example>
References: <unknown@x.example> <own-2@lists.example.org>
 <8c1f6e2a-3b7d-4f0e-9a51-2d6c0e7b9f13@posteo.example> <own-1@lists.example.org>
References: <own-2@lists.example.org> <own-3@lists.example.org>

body
`
	m, _ := run(t, raw, p)
	if got := m.Header.Get("In-Reply-To"); got != "<golden-01-thunderbird@lists.example.org>" {
		t.Errorf("In-Reply-To = %q", got)
	}
	want := "<own-2@lists.example.org> <golden-01-thunderbird@lists.example.org> <own-1@lists.example.org> <own-3@lists.example.org>"
	if got := m.Header.Get("References"); got != want {
		t.Errorf("References = %q\nwant %q", got, want)
	}

	p.MapRef = nil
	if m, _ = run(t, raw, p); m.Header.Has("In-Reply-To") || m.Header.Has("References") {
		t.Errorf("nil MapRef kept references")
	}

	p.MapRef = func(string) (string, bool) { return "", false }
	if m, _ = run(t, raw, p); m.Header.Has("In-Reply-To") || m.Header.Has("References") {
		t.Errorf("refusing MapRef kept references")
	}

	for _, bad := range []string{"x\r\nBcc: evil@x.example", "a b@c", "<a@b>", "", "nodomain"} {
		p.MapRef = func(string) (string, bool) { return bad, true }
		if m, _ = run(t, raw, p); m.Header.Has("References") {
			t.Errorf("MapRef result %q written: %q", bad, m.Header.Get("References"))
		}
	}

	var refs strings.Builder
	for i := range 300 {
		fmt.Fprintf(&refs, " <r%d@lists.example.org>", i)
	}
	p.MapRef = testMapRef
	m, _ = run(t, "From: a@b.example\nReferences:"+refs.String()+"\n\nbody\n", p)
	ids := msgIDs(m.Header.Get("References"))
	if len(ids) != maxRefs || ids[0] != "r0@lists.example.org" || ids[maxRefs-1] != "r299@lists.example.org" ||
		ids[1] != fmt.Sprintf("r%d@lists.example.org", 300-maxRefs+1) {
		t.Errorf("long References kept %d ids: %q", len(ids), ids)
	}
}

func TestContentFields(t *testing.T) {
	tests := []struct {
		name, fields string
		want         map[string]string // "" means absent
	}{
		{"params filtered", "Content-Type: Text/Plain; CharSet=\"utf-8\"; x-mac-creator=4D4F5353; format=flowed; delsp=yes",
			map[string]string{"Content-Type": "text/plain; charset=utf-8; delsp=yes; format=flowed"}},
		{"disposition dates dropped", "Content-Type: application/pdf; name=\"a b.pdf\"\nContent-Disposition: attachment; filename=\"a b.pdf\"; creation-date=\"Fri, 14 Mar 2025 16:59:50 +0100\"; size=3\nContent-Transfer-Encoding: BASE64",
			map[string]string{"Content-Type": `application/pdf; name="a b.pdf"`, "Content-Disposition": `attachment; filename="a b.pdf"`, "Content-Transfer-Encoding": "base64"}},
		{"RFC 2231 filename", "Content-Type: application/pdf\nContent-Disposition: attachment; filename*=utf-8''Jos%C3%A9.pdf",
			map[string]string{"Content-Disposition": "attachment; filename*=utf-8''Jos%C3%A9.pdf"}},
		{"latin-1 filename", "Content-Type: application/pdf\nContent-Disposition: attachment; filename=\"Caf\xe9.pdf\"",
			map[string]string{"Content-Disposition": "attachment; filename*=utf-8''Caf%C3%A9.pdf"}},
		{"unparseable disposition params", "Content-Disposition: attachment; filename=a b.pdf",
			map[string]string{"Content-Disposition": "attachment"}},
		{"unparseable disposition", "Content-Disposition: ;;;",
			map[string]string{"Content-Disposition": ""}},
		{"transfer encoding junk", "Content-Transfer-Encoding: (((",
			map[string]string{"Content-Transfer-Encoding": ""}},
		{"transfer encoding comment", "Content-Transfer-Encoding: 7BIT (plain)",
			map[string]string{"Content-Transfer-Encoding": "7bit"}},
		{"unparseable type is plain text", "Content-Type: text/plain charset=utf-8",
			map[string]string{"Content-Type": "text/plain; charset=us-ascii"}},
		{"no type", "",
			map[string]string{"Content-Type": "", "Content-Transfer-Encoding": "", "Content-Disposition": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "From: a@b.example\n"
			if tt.fields != "" {
				raw += tt.fields + "\n"
			}
			m, _ := run(t, raw+"\nbody\n", testParams("content"))
			for k, want := range tt.want {
				if got := m.Header.Get(k); got != want || (want == "") == m.Header.Has(k) {
					t.Errorf("%s = %q (present %v), want %q", k, got, m.Header.Has(k), want)
				}
			}
		})
	}
}

// An unparseable Content-Type means text/plain (RFC 2045 §5.2), which is
// how readers show it: the body is scrubbed like any text.
func TestUnparseableTypeIsPlainText(t *testing.T) {
	raw := "From: Jane Doe <jane@b.example>\nContent-Type: text/plain charset=utf-8\n\nI am Jane Doe, jane@b.example\n-- \nsig\n"
	m, _ := run(t, raw, testParams("opaque"))
	if got := string(m.Body); got != "I am Quiet Heron, recovery+quiet-heron@lists.example.org\r\n" {
		t.Errorf("body not scrubbed: %q", got)
	}
}

func TestAnonymizeKeepsInput(t *testing.T) {
	for _, g := range goldenInputs(t) {
		in := bytes.Clone(g.in)
		m, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Anonymize(m, testParams(g.name)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(in, g.in) {
			t.Errorf("%s: Anonymize changed the input bytes", g.name)
		}
	}
}

func TestAnonymizeErrors(t *testing.T) {
	m, err := Parse([]byte("From: a@b.example\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Params){
		"Group empty":       func(p *Params) { p.Group = "" },
		"Group CRLF":        func(p *Params) { p.Group = "a\r\nBcc: x" },
		"Group at":          func(p *Params) { p.Group = "a@b" },
		"Domain empty":      func(p *Params) { p.Domain = "" },
		"Domain space":      func(p *Params) { p.Domain = "lists example.org" },
		"Domain port":       func(p *Params) { p.Domain = "lists.example.org:25" },
		"Domain dots":       func(p *Params) { p.Domain = "lists..example.org" },
		"Hostname bad":      func(p *Params) { p.Hostname = "imap.example.org/evil" },
		"AliasSlug":         func(p *Params) { p.AliasSlug = "quiet heron" },
		"AliasName empty":   func(p *Params) { p.AliasName = " " },
		"AliasName CR":      func(p *Params) { p.AliasName = "Quiet\rHeron" },
		"AliasName bad utf": func(p *Params) { p.AliasName = "Quiet \xff" },
		"MessageID empty":   func(p *Params) { p.MessageID = "" },
		"MessageID bracket": func(p *Params) { p.MessageID = "<a@b>" },
		"MessageID no at":   func(p *Params) { p.MessageID = "abc" },
		"Date zero":         func(p *Params) { p.Date = time.Time{} },
		"PrivateTo empty":   func(p *Params) { p.Private = true },
		"PrivateTo CRLF":    func(p *Params) { p.Private = true; p.PrivateTo.Addr = "a@b.example\r\nBcc: x@y" },
		"PrivateTo name":    func(p *Params) { p.Private = true; p.PrivateTo = Address{Addr: "a@b.example", Name: "x\ny"} },
	}
	for name, mutate := range bad {
		p := testParams("errors")
		mutate(&p)
		if _, err := Anonymize(m, p); !errors.Is(err, ErrParams) {
			t.Errorf("%s: err = %v, want ErrParams", name, err)
		}
	}
	p := testParams("errors")
	p.Domain, p.Hostname = "Lists.Example.ORG", "IMAP.Example.ORG:993"
	out, err := Anonymize(m, p)
	if err != nil {
		t.Fatalf("upper-case domain: %v", err)
	}
	if !bytes.Contains(out, []byte("List-Id: <recovery.lists.example.org>")) || !bytes.Contains(out, []byte("<imap://imap.example.org:993/recovery>")) {
		t.Errorf("domain not lower-cased:\n%s", out)
	}
	if _, err := Anonymize(nil, testParams("errors")); err == nil {
		t.Errorf("nil message accepted")
	}
}

// A huge attachment name is cut, so that every copy we emit parses
// again and no header line grows past the limits.
func TestHugeFilenameCut(t *testing.T) {
	raw := "From: a@b.example\r\nContent-Type: application/pdf; name=\"" +
		strings.Repeat("\u00e9", 30000) + "\"\r\n\r\nbody\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Anonymize(m, testParams("big"))
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(back.Header.Get("Content-Type"))
	if err != nil || len(params["name"]) > maxFilename || !strings.HasPrefix(params["name"], "\u00e9\u00e9") {
		t.Errorf("name = %q (%v), want at most %d bytes of it", params["name"], err, maxFilename)
	}
}
