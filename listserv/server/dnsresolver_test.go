package server_test

// The config key dns.resolver drives the real server.Start against a tiny
// DNS server on 127.0.0.1: no injected resolver, the production wiring.

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/dns/dnsmessage"

	"listserv/listserv/config"
)

// dnsServer answers TXT, MX and A queries from txt, mx and a over UDP;
// a name in none of them gets NXDOMAIN, a known name asked for a type it
// lacks an empty answer (NODATA). It counts the TXT queries it answered.
type dnsServer struct {
	conn net.PacketConn
	txt  map[string][]string
	mx   map[string][]*net.MX // Host "." is a null MX
	a    map[string][]string  // IPv4 addresses
	mu   sync.Mutex
	hits map[string]int
}

func startDNS(t *testing.T, txt map[string][]string) *dnsServer {
	t.Helper()
	return serveDNS(t, &dnsServer{txt: txt})
}

// serveDNS serves s's records on 127.0.0.1.
func serveDNS(t *testing.T, s *dnsServer) *dnsServer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.conn, s.hits = conn, map[string]int{}
	done := make(chan struct{})
	go func() { defer close(done); s.serve() }()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, addr, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if out, ok := s.answer(buf[:n]); ok {
			s.conn.WriteTo(out, addr)
		}
	}
}

func (s *dnsServer) answer(q []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, false
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return nil, false
	}
	question := qs[0]
	name := strings.TrimSuffix(strings.ToLower(question.Name.String()), ".")
	recs, found := s.txt[name]
	mxs, isMX := s.mx[name]
	addrs, isA := s.a[name]
	found = found || isMX || isA
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if !found {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(question) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	if found && question.Type == dnsmessage.TypeTXT {
		s.mu.Lock()
		s.hits[name]++
		s.mu.Unlock()
		for _, r := range recs {
			var parts []string
			for len(r) > 255 {
				parts, r = append(parts, r[:255]), r[255:]
			}
			parts = append(parts, r)
			rrh := dnsmessage.ResourceHeader{Name: question.Name, Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET, TTL: 60}
			if b.TXTResource(rrh, dnsmessage.TXTResource{TXT: parts}) != nil {
				return nil, false
			}
		}
	}
	if question.Type == dnsmessage.TypeMX {
		for _, mx := range mxs {
			target, err := dnsmessage.NewName(strings.TrimSuffix(mx.Host, ".") + ".")
			if err != nil {
				return nil, false
			}
			rrh := dnsmessage.ResourceHeader{Name: question.Name, Type: dnsmessage.TypeMX, Class: dnsmessage.ClassINET, TTL: 60}
			if b.MXResource(rrh, dnsmessage.MXResource{Pref: mx.Pref, MX: target}) != nil {
				return nil, false
			}
		}
	}
	if question.Type == dnsmessage.TypeA {
		for _, ip := range addrs {
			rrh := dnsmessage.ResourceHeader{Name: question.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60}
			if b.AResource(rrh, dnsmessage.AResource{A: [4]byte(net.ParseIP(ip).To4())}) != nil {
				return nil, false
			}
		}
	}
	out, err := b.Finish()
	return out, err == nil
}

func (s *dnsServer) queries(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[name]
}

func TestDNSResolverConfig(t *testing.T) {
	f := &fakeDNS{txt: map[string][]string{}}
	sign := dkimKey(t, f, "example.org") // f only collects the records
	f.txt["example.net"] = []string{"v=spf1 ip4:127.0.0.1 -all"}
	dns := startDNS(t, f.txt)
	e := newEnv(t, setup{config: func(c *config.Config) {
		c.Auth.SenderAuth = "dmarc"
		c.DNS.Resolver = dns.conn.LocalAddr().String()
	}})
	e.fixture()
	aliceFrom := aliceName + " <" + aliceAddr + ">"

	e.post(aliceAddr, sign(simple(aliceFrom, "signed", "r1@example.org")))
	if dns.queries("s1._domainkey.example.org") == 0 {
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
