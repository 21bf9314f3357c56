package anon

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMalformed(t *testing.T) {
	pad := "X-Pad: " + strings.Repeat("a", 990) + "\r\n"
	huge := "From: a@b.example\r\n" + strings.Repeat(pad, MaxHeaderBytes/len(pad)+1) + "\r\nbody\r\n"
	tests := map[string]string{
		"empty":               "",
		"no blank line":       "From: secret@private.example\r\nSubject: hi\r\n",
		"no blank line, text": "From: secret@private.example\r\nSubject: hi\r\nbody text",
		"huge header":         huge,
		"NUL in header":       "From: secret@private.example\r\nSubject: a\x00b\r\n\r\nbody\r\n",
		"NUL in body":         "From: secret@private.example\r\n\r\nbo\x00dy\r\n",
		"bare LF in header":   "From: secret@private.example\nSubject: x\r\n\r\nbody\r\n",
		"bare LF in body":     "From: secret@private.example\r\n\r\nline one\nline two\r\n",
		"bare CR":             "From: secret@private.example\r\nSubject: x\rBcc: y\r\n\r\nbody\r\n",
		"LF only":             "From: secret@private.example\n\nbody\n",
		"no colon":            "From secret@private.example Fri Mar 14 10:00:00 2025\r\n\r\nbody\r\n",
		"leading space":       " From: secret@private.example\r\n\r\nbody\r\n",
		"space in name":       "Bad Key: secret@private.example\r\n\r\nbody\r\n",
		"8-bit in name":       "Fr\xf6m: secret@private.example\r\n\r\nbody\r\n",
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := Parse([]byte(raw))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", m)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if m != nil {
				t.Errorf("message returned with the error")
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error quotes the message: %v", err)
			}
		})
	}
}

func TestParseHeaderCap(t *testing.T) {
	build := func(size int) []byte {
		head := "From: a@b.example\r\nX-Pad: "
		pad := size - len(head) - len("\r\n\r\n")
		return []byte(head + strings.Repeat("a", pad) + "\r\n\r\nbody\r\n")
	}
	if _, err := Parse(build(MaxHeaderBytes)); err != nil {
		t.Errorf("header of exactly MaxHeaderBytes: %v", err)
	}
	if _, err := Parse(build(MaxHeaderBytes + 1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("header of MaxHeaderBytes+1: err = %v, want ErrMalformed", err)
	}
}

func TestParseParts(t *testing.T) {
	raw := "From: Jane <jane@Example.ORG>\r\nSubject: hi\r\n folded\r\n\r\nline 1\r\n\r\nline 3\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(m.Body); got != "line 1\r\n\r\nline 3\r\n" {
		t.Errorf("Body = %q", got)
	}
	if got := m.Header.Get("Subject"); got != "hi folded" {
		t.Errorf("Subject = %q", got)
	}
	if m.From != (Address{Addr: "jane@example.org", Name: "Jane"}) {
		t.Errorf("From = %+v", m.From)
	}

	m, err = Parse([]byte("\r\nno header at all\r\n"))
	if err != nil {
		t.Fatalf("empty header: %v", err)
	}
	if m.From != (Address{}) || m.MessageID != "" || string(m.Body) != "no header at all\r\n" {
		t.Errorf("empty header: %+v", m)
	}

	m, err = Parse([]byte("Subject: header only\r\n\r\n"))
	if err != nil || len(m.Body) != 0 {
		t.Errorf("empty body: %v %q", err, m.Body)
	}
}

func TestParseFrom(t *testing.T) {
	tests := []struct {
		from string
		want Address
	}{
		{"jane@example.org", Address{Addr: "jane@example.org"}},
		{"Jane Doe <Jane.Doe@Example.ORG>", Address{Addr: "Jane.Doe@example.org", Name: "Jane Doe"}},
		{`"Doe, Jane" <jane@example.org>`, Address{Addr: "jane@example.org", Name: "Doe, Jane"}},
		{"Jane <jane@example.org> (home)", Address{Addr: "jane@example.org", Name: "Jane"}},
		{"=?utf-8?q?Jos=C3=A9_N=C3=BA=C3=B1ez?= <jose@example.es>", Address{Addr: "jose@example.es", Name: "José Núñez"}},
		{"=?windows-1252?q?Ren=E9_=96_Dubois?= <r@example.fr>", Address{Addr: "r@example.fr", Name: "René – Dubois"}},
		{"=?x-unknown?q?Bob?= <bob@example.org>", Address{Addr: "bob@example.org", Name: "Bob"}},
		{"Ren\xe9 Dubois <rene@example.fr>", Address{Addr: "rene@example.fr", Name: "René Dubois"}},
		{"José <jose@example.es>", Address{Addr: "jose@example.es", Name: "José"}},
		{"a@one.example, b@two.example", Address{Addr: "a@one.example"}},
		{"", Address{}},
		{"undisclosed-recipients:;", Address{}},
		{"not an address", Address{}},
		{"<@>", Address{}},
		{"Jane <jane@>", Address{}},
	}
	for _, tt := range tests {
		raw := "From: " + tt.from + "\r\n\r\n"
		if tt.from == "" {
			raw = "Subject: no from\r\n\r\n"
		}
		m, err := Parse([]byte(raw))
		if err != nil {
			t.Errorf("%q: %v", tt.from, err)
			continue
		}
		if m.From != tt.want {
			t.Errorf("From %q = %+v, want %+v", tt.from, m.From, tt.want)
		}
	}
}

func TestParseMessageID(t *testing.T) {
	tests := map[string]string{
		"<abc@host.example>":                   "abc@host.example",
		"  <abc@host.example>  ":               "abc@host.example",
		"(comment <x@y>) <abc@host.example>":   "abc@host.example",
		"< abc@host.example >":                 "abc@host.example",
		"abc@host.example":                     "",
		"<no-at-sign>":                         "",
		"<two@at@signs>":                       "",
		"<with space@host>":                    "",
		"<abc@[192.0.2.1]>":                    "",
		"<" + strings.Repeat("a", 300) + "@h>": "",
		"<unterminated@host":                   "",
	}
	for v, want := range tests {
		m, err := Parse([]byte("Message-ID: " + v + "\r\n\r\n"))
		if err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		if m.MessageID != want {
			t.Errorf("Message-ID %q gives %q, want %q", v, m.MessageID, want)
		}
	}
}

func TestMsgIDs(t *testing.T) {
	got := msgIDs(`<a@x> (old <c@x>) <b@y><d@z> junk@w <e@v`)
	want := []string{"a@x", "b@y", "d@z"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("msgIDs = %q, want %q", got, want)
	}
}
