package main

// `listserv dkim keygen` as an operator runs it: a key file only its
// owner reads, never written over, and a DNS record that, once
// published, verifies what the key signs.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"listserv/listserv/dkimsign"
)

var dkimZoneRE = regexp.MustCompile(`^(\S+) IN TXT ((?:"[^"]*" ?)+)$`)

// dkimParseRecord reads keygen's stdout: one zone-file line.
func dkimParseRecord(t *testing.T, out string) (name, value string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("keygen printed %d lines, want 1: %q", len(lines), out)
	}
	m := dkimZoneRE.FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("not a TXT record line: %q", lines[0])
	}
	for _, s := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[2], -1) {
		if len(s[1]) > 255 {
			t.Fatalf("a TXT string of %d bytes", len(s[1]))
		}
		value += s[1]
	}
	return m[1], value
}

func TestDKIMKeygen(t *testing.T) {
	for _, typ := range []string{"rsa", "ed25519", ""} {
		t.Run("type="+typ, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data") // never created: keygen needs no data dir
			cfg := filepath.Join(dir, "listserv.toml")
			body := fmt.Sprintf("domain = %q\ndata_dir = %q\n[dkim]\nselector = \"2026a\"\n", cliDomain, data)
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			key := filepath.Join(dir, "dkim.key")
			argv := []string{"-config", cfg, "dkim", "keygen", "-out", key}
			want := typ
			if typ != "" {
				argv = []string{"-config", cfg, "dkim", "keygen", "-type", typ, "-out", key}
			} else {
				want = "rsa" // the default
			}
			r := cliRun(argv...)
			if r.code != 0 {
				t.Fatalf("keygen: %v", r)
			}
			if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v (err %v), want mode 0600", fi, err)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("keygen touched the data dir (err %v)", err)
			}
			name, value := dkimParseRecord(t, r.out)
			if name != "2026a._domainkey."+cliDomain || !strings.HasPrefix(value, "v=DKIM1; k="+want+"; p=") {
				t.Fatalf("record %s %q", name, value)
			}
			// What the key signs verifies against the printed record.
			s, err := dkimsign.Load(cliDomain, "2026a", key)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := s.Sign([]byte("From: <g@" + cliDomain + ">\r\nSubject: hi\r\n\r\nbody\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: func(q string) ([]string, error) {
				if q != name {
					return nil, fmt.Errorf("no record %s", q)
				}
				return []string{value}, nil
			}})
			if err != nil || len(vs) != 1 || vs[0].Err != nil {
				t.Fatalf("verify: %v %+v", err, vs)
			}
			// A second run never replaces the key.
			before, _ := os.ReadFile(key)
			r = cliRun(argv...)
			if r.code != 1 || !strings.Contains(r.errout, "exists") || r.out != "" {
				t.Fatalf("second keygen: %v, want exit 1 naming the existing file", r)
			}
			if after, _ := os.ReadFile(key); !bytes.Equal(before, after) {
				t.Fatal("the key file changed")
			}
		})
	}
}

func TestDKIMKeygenUsage(t *testing.T) {
	dir := t.TempDir()
	for _, argv := range [][]string{
		{"dkim"},
		{"dkim", "show"},
		{"dkim", "keygen", "-type", "dsa", "-out", filepath.Join(dir, "k")},
		{"dkim", "keygen"}, // no -out and no dkim.key_file
		{"dkim", "keygen", "-out", filepath.Join(dir, "k"), "extra"},
	} {
		if r := cliRun(argv...); r.code != 2 || !strings.Contains(r.errout, "usage") {
			t.Errorf("%q: %v, want exit 2 with the usage", argv, r)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "k")); !os.IsNotExist(err) {
		t.Error("a refused keygen wrote a key")
	}
}
