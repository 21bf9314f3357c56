package server_test

// The config key dns.resolver drives the real server.Start against a tiny
// DNS server on 127.0.0.1: no injected resolver, the production wiring.

import (
	"testing"

	"github.com/emersion/go-smtp"

	"listserv/internal/dnstest"
	"listserv/listserv/config"
)

func TestDNSResolverConfig(t *testing.T) {
	f := &fakeDNS{txt: map[string][]string{}}
	sign := dkimKey(t, f, "example.org") // f only collects the records
	f.txt["example.net"] = []string{"v=spf1 ip4:127.0.0.1 -all"}
	dns := dnstest.Start(t, &dnstest.Server{TXT: f.txt})
	e := newEnv(t, setup{config: func(c *config.Config) {
		c.Auth.SenderAuth = "dmarc"
		c.DNS.Resolver = dns.Addr()
	}})
	e.fixture()
	aliceFrom := aliceName + " <" + aliceAddr + ">"

	e.post(aliceAddr, sign(simple(aliceFrom, "signed", "r1@example.org")))
	if dns.Queries("s1._domainkey.example.org") == 0 {
		t.Error("the DKIM key was not asked of the configured resolver")
	}
	e.post(brunoAddr, simple("Bruno <"+brunoAddr+">", "spf", "r2@example.net"))
	st, err := e.send(aliceAddr, []string{groupAddr}, simple(aliceFrom, "forged", "r3@example.org"))
	wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
	if n := e.archiveCount(testGroup); n != 2 {
		t.Errorf("archive holds %d posts, want 2", n)
	}
	e.waitQueueEmpty()
}
