package anon

import (
	"bytes"
	"strings"
	"testing"
)

// allowedFields is every field name an anonymized copy may carry.
var allowedFields = map[string]bool{
	"Mime-Version": true, "From": true, "Reply-To": true, "To": true,
	"Subject": true, "Date": true, "Message-Id": true, "In-Reply-To": true,
	"References": true, "List-Id": true, "List-Post": true, "List-Help": true,
	"List-Unsubscribe": true, "List-Archive": true, "Precedence": true,
	"Content-Type": true, "Content-Transfer-Encoding": true,
	"Content-Disposition": true, "Content-Id": true,
}

// partFields is every field name a MIME part of a copy may carry.
var partFields = map[string]bool{
	"Content-Type": true, "Content-Transfer-Encoding": true,
	"Content-Disposition": true, "Content-Id": true,
}

// checkOutput asserts what every successful Anonymize output must
// satisfy: CRLF only, it parses again, only allowed fields, each at most
// once, header lines at most 998 bytes, the fresh fields as expected.
func checkOutput(t testing.TB, out []byte, p Params) {
	t.Helper()
	if i := bareEOL(out); i >= 0 {
		t.Fatalf("bare CR/LF at %d", i)
	}
	m, err := Parse(out)
	if err != nil {
		t.Fatalf("output does not parse: %v\n%q", err, out)
	}
	seen := map[string]bool{}
	for f := m.Header.Fields(); f.Next(); {
		k := f.Key()
		if !allowedFields[k] {
			t.Fatalf("output has field %q outside the allowlist\n%q", k, out)
		}
		if seen[k] {
			t.Fatalf("output has field %q twice\n%q", k, out)
		}
		seen[k] = true
	}
	head := out[:len(out)-len(m.Body)]
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		if len(line) > 998 {
			t.Fatalf("header line of %d bytes", len(line))
		}
	}
	want := map[string]string{
		"Mime-Version": "1.0",
		"From":         `"` + p.AliasName + `" <` + p.AliasAddr() + `>`,
		"Message-Id":   "<" + p.MessageID + ">",
		"Date":         p.Date.UTC().Format("Mon, 02 Jan 2006 15:04:05") + " +0000",
	}
	if p.Private {
		want["Reply-To"] = "<" + p.AliasAddr() + ">"
		for _, k := range []string{"List-Id", "List-Post", "Precedence"} {
			if seen[k] {
				t.Errorf("private message has %s", k)
			}
		}
	} else {
		want["Reply-To"] = "<" + p.Group + "@" + p.Domain + ">"
		want["To"] = want["Reply-To"]
		want["List-Id"] = ListID(p.Group, p.Domain)
		want["Precedence"] = "list"
		if r := m.Robot(ListID(p.Group, p.Domain)); r != RobotLoop {
			t.Errorf("our own copy coming back is not a loop: Robot = %q", r)
		}
	}
	for k, v := range want {
		if got := m.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if m.From.Addr != p.AliasAddr() {
		t.Errorf("From parses as %q", m.From.Addr)
	}
	top, err := (&treeParser{}).parseEntity(m.Header, m.Body, 0, false)
	if err != nil {
		t.Fatalf("output's MIME does not parse: %v\n%q", err, out)
	}
	checkParts(t, top, out)
}

// checkParts asserts that every part below e was written by the
// rewriter: allowlisted fields only, our boundaries.
func checkParts(t testing.TB, e *entity, out []byte) {
	t.Helper()
	if b := e.mi.params["boundary"]; b != "" && !strings.HasPrefix(b, "=_ls_") {
		t.Fatalf("boundary %q is not ours\n%q", b, out)
	}
	for _, c := range e.children {
		for f := c.header.Fields(); f.Next(); {
			if !partFields[f.Key()] {
				t.Fatalf("part has field %q outside the allowlist\n%q", f.Key(), out)
			}
		}
		checkParts(t, c, out)
	}
}
