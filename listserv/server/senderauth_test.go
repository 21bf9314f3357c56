package server_test

// End-to-end tests of sender_auth = "dmarc" (SPEC §5): posts over real
// SMTP, judged by DKIM and SPF against an offline resolver.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"listserv/listserv"
	"listserv/listserv/config"
	"listserv/listserv/senderauth"
	"listserv/listserv/server"
)

// fakeDNS serves TXT records by name; names in temp fail temporarily,
// every other name does not exist.
type fakeDNS struct {
	txt  map[string][]string
	temp map[string]bool
}

func (f *fakeDNS) err(name string) error {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if f.temp[name] {
		return &net.DNSError{Err: "server failure", Name: name, IsTemporary: true}
	}
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (f *fakeDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	n := strings.TrimSuffix(strings.ToLower(name), ".")
	if v, ok := f.txt[n]; ok && !f.temp[n] {
		return v, nil
	}
	return nil, f.err(name)
}
func (f *fakeDNS) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return nil, f.err(name)
}
func (f *fakeDNS) LookupIPAddr(_ context.Context, name string) ([]net.IPAddr, error) {
	return nil, f.err(name)
}
func (f *fakeDNS) LookupAddr(_ context.Context, addr string) ([]string, error) {
	return nil, f.err(addr)
}

// dkimKey makes an ed25519 key for domain (selector "s1"), publishes its
// public half in f and returns a function that signs a message with it.
func dkimKey(t *testing.T, f *fakeDNS, domain string) func([]byte) []byte {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.txt["s1._domainkey."+domain] = []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}
	return func(msg []byte) []byte {
		var b bytes.Buffer
		if err := dkim.Sign(&b, bytes.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: "s1", Signer: priv}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
}

func dmarcEnv(t *testing.T, f *fakeDNS) *env {
	e := newEnv(t, setup{
		config:   func(c *config.Config) { c.Auth.SenderAuth = "dmarc" },
		resolver: f,
	})
	e.fixture()
	return e
}

func TestSenderAuthDMARC(t *testing.T) {
	f := &fakeDNS{txt: map[string][]string{
		// Alice's domain signs but its SPF never passes: only DKIM helps.
		"example.org": {"v=spf1 -all"},
		// Bruno's domain sends from the test client's address.
		"example.net": {"v=spf1 ip4:127.0.0.1 -all"},
		// Carmen's domain is unreachable.
		"example.com": {"v=spf1 ip4:127.0.0.1 -all"},
	}, temp: map[string]bool{"example.com": true}}
	signAlice := dkimKey(t, f, "example.org")
	signSub := dkimKey(t, f, "mail.example.org")
	signEvil := dkimKey(t, f, "evil.example")
	e := dmarcEnv(t, f)
	aliceFrom := aliceName + " <" + aliceAddr + ">"
	stored := 0
	refused := func(t *testing.T, mailFrom string, msg []byte, code int, enh smtp.EnhancedCode) {
		t.Helper()
		st, err := e.send(mailFrom, []string{groupAddr}, msg)
		wantRefused(t, st, err, stepEnd, code, enh)
		if n := e.archiveCount(testGroup); n != stored {
			t.Fatalf("archive holds %d posts, want %d", n, stored)
		}
	}
	accepted := func(t *testing.T, mailFrom string, msg []byte) {
		t.Helper()
		if st, err := e.send(mailFrom, []string{groupAddr}, msg); st != stepOK {
			t.Fatalf("post refused at %s: %v", st, err)
		}
		stored++
		if n := e.archiveCount(testGroup); n != stored {
			t.Fatalf("archive holds %d posts, want %d", n, stored)
		}
	}

	t.Run("DKIM by the member's domain", func(t *testing.T) {
		accepted(t, aliceAddr, signAlice(simple(aliceFrom, "signed", "d1@example.org")))
	})
	t.Run("body changed after signing", func(t *testing.T) {
		msg := signAlice(simple(aliceFrom, "tampered", "d2@example.org"))
		msg = append(msg[:len(msg)-2:len(msg)-2], " and more\r\n"...)
		refused(t, aliceAddr, msg, 550, smtp.EnhancedCode{5, 7, 1})
	})
	t.Run("signed by another domain", func(t *testing.T) {
		refused(t, "mallory@evil.example", signEvil(simple(aliceFrom, "impostor", "d3@evil.example")), 550, smtp.EnhancedCode{5, 7, 1})
	})
	t.Run("unsigned, SPF fails", func(t *testing.T) {
		refused(t, aliceAddr, simple(aliceFrom, "forged", "d4@example.org"), 550, smtp.EnhancedCode{5, 7, 1})
	})
	t.Run("subdomain signs, relaxed alignment", func(t *testing.T) {
		accepted(t, "bounce@mail.example.org", signSub(simple(aliceFrom, "from the sub", "d5@example.org")))
	})
	t.Run("SPF pass aligned", func(t *testing.T) {
		accepted(t, brunoAddr, simple("Bruno <"+brunoAddr+">", "spf", "d6@example.net"))
	})
	t.Run("SPF pass for an unaligned envelope", func(t *testing.T) {
		refused(t, brunoAddr, simple(aliceFrom, "spf unaligned", "d7@example.org"), 550, smtp.EnhancedCode{5, 7, 1})
	})
	t.Run("temporary DNS failure", func(t *testing.T) {
		refused(t, carmenAddr, simple("Carmen <"+carmenAddr+">", "temp", "d8@example.com"), 451, smtp.EnhancedCode{4, 3, 0})
	})
	t.Run("a private message needs authentication too", func(t *testing.T) {
		bruno := e.member(testGroup, brunoAddr)
		to := testGroup + "+" + bruno.Slug + "@" + testDomain
		st, err := e.send(aliceAddr, []string{to}, simple(aliceFrom, "private forged", "d9@example.org"))
		wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
	})
	t.Run("-owner: member and stranger get the same answer", func(t *testing.T) {
		e.group(listserv.GroupSpec{Name: "circle", JoinPolicy: "approve", PostPolicy: "members", Admins: []string{carmenAddr}}, aliceAddr)
		owner := "circle-owner@" + testDomain
		for _, from := range []string{aliceFrom, "Stranger <stranger@example.org>"} {
			st, err := e.send("x@example.org", []string{owner}, simple(from, "to the admins", "o1@example.org"))
			wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
		}
		// Authenticated, the stranger reaches the admins.
		if st, err := e.send("x@example.org", []string{owner}, signAlice(simple("Stranger <stranger@example.org>", "to the admins", "o3@example.org"))); st != stepOK {
			t.Fatalf("authenticated stranger refused at %s: %v", st, err)
		}
	})
	t.Run("the log names no address", func(t *testing.T) {
		logs := e.logs.String()
		if !strings.Contains(logs, "dkim=pass-unaligned spf=none aligned=false") {
			t.Errorf("the log does not say why the impostor was refused:\n%s", logs)
		}
		e.secret("@example.org", "example.net", "example.com", "evil.example")
	})
	e.waitQueueEmpty()
}

func TestSenderAuthSetting(t *testing.T) {
	cfg := config.Default()
	cfg.Auth.SenderAuth = "dmarc"
	if _, ok := server.SenderCheck(cfg, nil).(*senderauth.Checker); !ok {
		t.Errorf("dmarc: SenderCheck is %T, want *senderauth.Checker", server.SenderCheck(cfg, nil))
	}
	cfg.Auth.SenderAuth = "none"
	if _, ok := server.SenderCheck(cfg, nil).(listserv.AcceptFrom); !ok {
		t.Errorf("none: SenderCheck is %T, want listserv.AcceptFrom", server.SenderCheck(cfg, nil))
	}
}
