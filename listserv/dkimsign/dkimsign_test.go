package dkimsign_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"listserv/listserv/dkimsign"
)

const testDomain = "lists.example.org"

// post is an anonymized post as the service writes it.
var post = []byte(strings.Join([]string{
	"MIME-Version: 1.0",
	`From: "Quiet Heron" <recovery+quiet-heron@lists.example.org>`,
	"Reply-To: recovery@lists.example.org",
	"To: recovery@lists.example.org",
	"Subject: Day 12",
	"Date: Tue, 03 Mar 2026 17:15:00 +0000",
	"Message-ID: <abc@lists.example.org>",
	"List-Id: <recovery.lists.example.org>",
	"List-Post: <mailto:recovery@lists.example.org>",
	"Precedence: list",
	"Content-Type: text/plain; charset=utf-8",
	"Content-Transfer-Encoding: 7bit",
	"",
	strings.Repeat("Some days are harder than others, and that is fine.\r\n", 60),
}, "\r\n"))

var zoneRE = regexp.MustCompile(`^(\S+) IN TXT ((?:"[^"]*" ?)+)$`)

// parseZoneLine checks a keygen line and returns its name and the TXT
// value its quoted strings make.
func parseZoneLine(t testing.TB, line string) (string, string) {
	t.Helper()
	m := zoneRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		t.Fatalf("not a zone-file TXT line: %q", line)
	}
	var v strings.Builder
	for _, part := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[2], -1) {
		if len(part[1]) > 255 {
			t.Fatalf("TXT string of %d bytes (DNS allows 255)", len(part[1]))
		}
		v.WriteString(part[1])
	}
	return m[1], v.String()
}

// lookup serves one TXT record.
func lookup(name, value string) func(string) ([]string, error) {
	return func(q string) ([]string, error) {
		if q == name {
			return []string{value}, nil
		}
		return nil, fmt.Errorf("no TXT for %s", q)
	}
}

// verify checks that msg carries exactly one signature, valid for d= domain.
func verify(t testing.TB, msg []byte, look func(string) ([]string, error)) {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: look})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d signatures, want 1", len(vs))
	}
	if vs[0].Err != nil || vs[0].Domain != testDomain {
		t.Fatalf("verification: domain %q, err %v", vs[0].Domain, vs[0].Err)
	}
}

func newSigner(t testing.TB, typ string) (*dkimsign.Signer, func(string) ([]string, error)) {
	t.Helper()
	key, pemBytes, err := dkimsign.GenerateKey(typ)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dkim.key")
	if err := dkimsign.WriteKeyFile(path, pemBytes); err != nil {
		t.Fatal(err)
	}
	s, err := dkimsign.Load(testDomain, "sel1", path)
	if err != nil {
		t.Fatal(err)
	}
	line, err := dkimsign.ZoneLine("sel1", testDomain, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	name, value := parseZoneLine(t, line)
	if name != "sel1._domainkey."+testDomain || !strings.HasPrefix(value, "v=DKIM1; k="+typ+"; p=") {
		t.Fatalf("record %q %q", name, value)
	}
	if value != s.TXT() {
		t.Fatalf("zone line value %q != TXT() %q", value, s.TXT())
	}
	return s, lookup(name, value)
}

func TestSignVerifies(t *testing.T) {
	for _, typ := range []string{dkimsign.RSA, dkimsign.Ed25519} {
		t.Run(typ, func(t *testing.T) {
			s, look := newSigner(t, typ)
			out, err := s.Sign(post)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(out, post) || !bytes.HasPrefix(out, []byte("DKIM-Signature: ")) {
				t.Fatalf("signed message is not a header in front of the message:\n%s", out)
			}
			for _, want := range []string{"c=relaxed/relaxed", "d=" + testDomain, "s=sel1", "a=" + typ + "-sha256"} {
				if !bytes.Contains(out[:len(out)-len(post)], []byte(want)) {
					t.Errorf("signature lacks %s", want)
				}
			}
			sig := string(out[:len(out)-len(post)])
			h := regexp.MustCompile(`;h=([^;]*);`).FindStringSubmatch(strings.NewReplacer("\r\n", "", " ", "", "\t", "").Replace(sig))
			for _, k := range []string{"From", "To", "Subject", "Date", "Message-ID", "List-Id", "Content-Type", "Reply-To", "References"} {
				if h == nil || !strings.Contains(strings.ToLower(":"+h[1]+":"), ":"+strings.ToLower(k)+":") {
					t.Errorf("%s not signed (h=%v)", k, h)
				}
			}
			// A Return-Path or Received in front does not matter; a
			// changed body or subject does.
			verify(t, append([]byte("Return-Path: <recovery-bounces+x@lists.example.org>\r\n"), out...), look)
			for _, bad := range [][]byte{
				bytes.Replace(out, []byte("harder"), []byte("easier"), 1),
				bytes.Replace(out, []byte("Subject: Day 12"), []byte("Subject: Day 13"), 1),
				append(out[:len(out):len(out)], "P.S. added on the way\r\n"...),
			} {
				vs, err := dkim.VerifyWithOptions(bytes.NewReader(bad), &dkim.VerifyOptions{LookupTXT: look})
				if err != nil || len(vs) != 1 || vs[0].Err == nil {
					t.Errorf("an edited message still verifies (err %v)", err)
				}
			}
		})
	}
}

func TestNilSignerSignsNothing(t *testing.T) {
	var s *dkimsign.Signer
	out, err := s.Sign(post)
	if err != nil || !bytes.Equal(out, post) {
		t.Fatalf("nil signer changed the message (err %v)", err)
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(small)
	big, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, good, _ := dkimsign.GenerateKey(dkimsign.Ed25519)
	cases := []struct{ name, path, selector, want string }{
		{"missing", filepath.Join(dir, "none"), "s", "no such file"},
		{"garbage", write("garbage", []byte("not a key")), "s", "no PEM block"},
		{"rsa-1024", write("small", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "s", "1024 bits"},
		{"pkcs1", write("pkcs1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(big)})), "s", "PKCS#8"},
		{"no selector", write("good", good), "", "selector"},
	}
	for _, c := range cases {
		_, err := dkimsign.Load(testDomain, c.selector, c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

func TestWriteKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	_, pemBytes, _ := dkimsign.GenerateKey(dkimsign.Ed25519)
	if err := dkimsign.WriteKeyFile(path, pemBytes); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (err %v), want 0600", fi.Mode(), err)
	}
	if err := dkimsign.WriteKeyFile(path, []byte("other")); !os.IsExist(err) {
		t.Fatalf("second write: %v, want an exists error", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, pemBytes) {
		t.Fatal("the existing key was changed")
	}
}

// BenchmarkSign measures one post's signature (a post is signed once,
// whatever its number of recipients).
func BenchmarkSign(b *testing.B) {
	for _, typ := range []string{dkimsign.Ed25519, dkimsign.RSA} {
		b.Run(typ, func(b *testing.B) {
			s, _ := newSigner(b, typ)
			b.SetBytes(int64(len(post)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(post); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
