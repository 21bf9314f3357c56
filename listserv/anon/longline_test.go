package anon

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
)

func TestLongLineReencoded(t *testing.T) {
	long := strings.Repeat("word ", 1200) // 6000 octets on one line
	raw := "From: Alice <alice@example.org>\r\nSubject: long\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nshort line\r\n" + long + "\r\nend\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Anonymize(m, testParams("longline"))
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	if !bytes.Contains(head, []byte("\r\nContent-Transfer-Encoding: quoted-printable")) {
		t.Fatalf("no QP header:\n%s", head)
	}
	if longLine(out) {
		t.Fatal("output still has a line over 998 octets")
	}
	dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	if want := "short line\r\n" + long + "\r\nend\r\n"; string(dec) != want {
		t.Fatalf("content changed: got %d octets, want %d", len(dec), len(want))
	}

	// Inside a multipart the part is re-encoded the same way.
	multi := "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=xx\r\n\r\n--xx\r\n\r\n" + long + "\r\n--xx--\r\n"
	m, err = Parse([]byte(multi))
	if err != nil {
		t.Fatal(err)
	}
	out, err = Anonymize(m, testParams("longline"))
	if err != nil {
		t.Fatalf("multipart with a long line: %v", err)
	}
	if longLine(out) || !bytes.Contains(out, []byte("Content-Transfer-Encoding: quoted-printable")) {
		t.Fatalf("long line inside a multipart not re-encoded:\n%.600s", out)
	}
}

func TestLongLineDetect(t *testing.T) {
	for _, c := range []struct {
		b    string
		want bool
	}{
		{"", false},
		{strings.Repeat("a", 998), false},
		{strings.Repeat("a", 999), true},
		{"x\r\n" + strings.Repeat("a", 998) + "\r\n", false},
		{"x\r\n" + strings.Repeat("a", 999) + "\r\ny", true},
	} {
		if got := longLine([]byte(c.b)); got != c.want {
			t.Errorf("longLine(%d octets) = %v", len(c.b), got)
		}
	}
}
