package anon

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

var (
	hostRE = regexp.MustCompile(`(?i)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+`)
	ipv4RE = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)
	ipv6RE = regexp.MustCompile(`(?i)\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}\b`)
)

// ourHost reports whether h names the list server itself: the copy
// legitimately names it.
func ourHost(h string) bool {
	return h == "lists.example.org" || strings.HasSuffix(h, ".lists.example.org")
}

// secrets returns what must not survive anonymization of m: the author's
// address, domain and display name, the right-hand side of the original
// Message-ID, every host name and IP address of the fields we drop (a host
// name's first label too when it looks like a server's name), all lower
// case.
func secrets(m *Message) []string {
	s := map[string]bool{}
	add := func(v string) {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
			s[v] = true
		}
	}
	add(m.From.Addr)
	add(m.From.Name)
	if at := strings.LastIndexByte(m.From.Addr, '@'); at >= 0 {
		add(m.From.Addr[at+1:])
	}
	if at := strings.LastIndexByte(m.MessageID, '@'); at >= 0 {
		add(m.MessageID[at+1:])
	}
	kept := map[string]bool{"Subject": true, "In-Reply-To": true, "References": true,
		"Content-Type": true, "Content-Transfer-Encoding": true, "Content-Disposition": true}
	for f := m.Header.Fields(); f.Next(); {
		if kept[f.Key()] {
			continue
		}
		v := f.Value()
		for _, h := range hostRE.FindAllString(v, -1) {
			h = strings.ToLower(h)
			last := h[strings.LastIndexByte(h, '.')+1:]
			if ourHost(h) || strings.Trim(last, "0123456789") == "" {
				continue // ours, or a version/time, not a host
			}
			add(h)
			if first := h[:strings.IndexByte(h, '.')]; len(first) >= 8 && strings.ContainsAny(first, "0123456789") {
				add(first)
			}
		}
		for _, ip := range ipv4RE.FindAllString(v, -1) {
			add(ip)
		}
		for _, ip := range ipv6RE.FindAllString(v, -1) {
			if strings.Count(ip, ":") >= 3 || strings.Contains(ip, "::") {
				add(ip)
			}
		}
	}
	var out []string
	for k := range s {
		out = append(out, k)
	}
	return out
}

func TestNoLeaks(t *testing.T) {
	for _, g := range goldenInputs(t) {
		t.Run(g.name, func(t *testing.T) {
			m, out := anonymizeGolden(t, g)
			// Read the output both as UTF-8 and as Latin-1, so that a
			// name leaking in a Latin-1 body is found too.
			views := [][]byte{bytes.ToLower(out), []byte(strings.ToLower(decodeCP1252(out)))}
			ss := secrets(m)
			if len(ss) < 4 {
				t.Fatalf("only %d secrets found in the input, the test checks little: %q", len(ss), ss)
			}
			for _, s := range ss {
				for _, v := range views {
					if bytes.Contains(v, []byte(s)) {
						t.Errorf("output contains %q", s)
						break
					}
				}
			}
		})
	}
}

// TestSecretsFound guards the leak test itself: on a known input it must
// find the hosts and addresses a reader would.
func TestSecretsFound(t *testing.T) {
	m, err := Parse(mustRead(t, "testdata/in/02-outlook.eml"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(secrets(m), " ")
	for _, want := range []string{
		"robert.smith@contoso.example", "smith, robert", "contoso.example",
		"am9pr07mb7219.eurprd07.prod.outlook.example", "am9pr07mb7219",
		"40.107.22.101", "81.171.22.143", "2603:10a6:20b:3e1::17",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("secrets miss %q: %s", want, got)
		}
	}
}
