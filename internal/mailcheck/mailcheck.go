// Package mailcheck is for tests: it loads the anonymization corpus
// (listserv/anon/testdata/corpus, see its README) and checks a relayed
// copy against a corpus message's declarations, reading the copy with
// go-message, a MIME parser other than listserv's own, as a reader's
// client would.
package mailcheck

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode every charset go-message knows
)

// Members are the group's other members as the corpus names them: real
// address → alias.
var Members = map[string]Alias{
	"bob.smith@example.net": {Name: "Gentle Otter", Slug: "gentle-otter"},
	"carol.w@example.org":   {Name: "Brave Wren", Slug: "brave-wren"},
	"dave99@example.com":    {Name: "Calm River", Slug: "calm-river"},
}

// Alias is a member's pseudonym.
type Alias struct{ Name, Slug string }

// Case is one corpus message and what its .secrets file declares.
type Case struct {
	Name    string // file name without .eml
	Raw     []byte // the message as the author's client sends it
	From    string // the author, as the From field says
	Secrets []string
	Members []string // real addresses of other members named in it
	Keep    []string
}

// Load reads every corpus message in dir.
func Load(t testing.TB, dir string) []Case {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(paths) < 12 {
		t.Fatalf("want at least 12 corpus messages in %s, got %d (%v)", dir, len(paths), err)
	}
	var cs []Case
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sec, err := os.ReadFile(strings.TrimSuffix(p, ".eml") + ".secrets")
		if err != nil {
			t.Fatal(err)
		}
		c := Case{Name: strings.TrimSuffix(filepath.Base(p), ".eml"), Raw: raw}
		for _, line := range strings.Split(string(sec), "\n") {
			k, v, ok := strings.Cut(line, ":")
			v = strings.TrimSpace(v)
			if !ok || strings.HasPrefix(line, "#") || v == "" {
				continue
			}
			switch k {
			case "from":
				c.From = v
			case "secret":
				c.Secrets = append(c.Secrets, v)
			case "member":
				c.Members = append(c.Members, v)
				c.Secrets = append(c.Secrets, v)
			case "keep":
				c.Keep = append(c.Keep, v)
			default:
				t.Fatalf("%s.secrets: unknown key %q", c.Name, k)
			}
		}
		cs = append(cs, c)
	}
	return cs
}

// Check checks a relayed copy of c: no secret anywhere (the bytes, any
// decoded header or part), every member it names replaced by their alias
// (alias returns a member's alias name and address), every kept text
// present. Each secret must be in the original, or it would test nothing.
func Check(t testing.TB, c Case, out []byte, alias func(real string) (name, addr string)) {
	t.Helper()
	origText := DecodedText(t, c.Raw)
	outText := DecodedText(t, out)
	for _, s := range c.Secrets {
		if !strings.Contains(origText, strings.ToLower(s)) {
			t.Errorf("%s: secret %q is not in the original: it tests nothing", c.Name, s)
		}
		if strings.Contains(outText, strings.ToLower(s)) {
			t.Errorf("%s: secret %q survived", c.Name, s)
		}
	}
	for _, a := range c.Members {
		name, addr := alias(a)
		if !strings.Contains(outText, strings.ToLower(addr)) && !strings.Contains(outText, strings.ToLower(name)) {
			t.Errorf("%s: member %s's alias is missing", c.Name, a)
		}
	}
	for _, k := range c.Keep {
		if !strings.Contains(outText, strings.ToLower(k)) {
			t.Errorf("%s: kept text %q is missing", c.Name, k)
		}
	}
}

// DecodedText returns everything a reader of raw could see, lower case:
// the raw bytes, every header field decoded, and every part decoded
// (transfer encoding and charset), attachments and attached messages
// included.
func DecodedText(t testing.TB, raw []byte) string {
	t.Helper()
	var b strings.Builder
	b.Write(raw)
	b.WriteByte('\n')
	Walk(t, raw, func(h message.Header, body []byte) {
		for f := h.Fields(); f.Next(); {
			v, err := f.Text()
			if err != nil {
				v = f.Value()
			}
			b.WriteString(f.Key() + ": " + v + "\n")
		}
		b.Write(body)
		b.WriteByte('\n')
	})
	return strings.ToLower(b.String())
}

// Walk calls fn with the message's own header (and a nil body) first,
// then with the header and decoded body of every non-multipart part. A
// message/rfc822 part is visited and then walked itself.
func Walk(t testing.TB, raw []byte, fn func(h message.Header, body []byte)) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		t.Fatalf("go-message cannot read the message: %v", err)
	}
	fn(e.Header, nil)
	err = e.Walk(func(_ []int, part *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return err
		}
		if part.MultipartReader() != nil {
			return nil
		}
		body, err := io.ReadAll(part.Body)
		if err != nil {
			return err
		}
		fn(part.Header, body)
		if mt, _, _ := part.Header.ContentType(); mt == "message/rfc822" {
			Walk(t, body, fn)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("go-message cannot walk the message: %v", err)
	}
}
