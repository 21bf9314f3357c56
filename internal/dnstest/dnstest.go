// Package dnstest is a tiny authoritative DNS server on loopback for
// tests: it answers the TXT, MX and A records a test gives it, so that the
// real resolver wiring (dns.resolver) can be driven without a network.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Server answers TXT, MX and A queries from TXT, MX and A over UDP on
// 127.0.0.1; a name in none of them gets NXDOMAIN, a known name asked for
// a type it lacks an empty answer (NODATA). It counts the TXT queries it
// answered. Names are lower case, without the final dot.
type Server struct {
	TXT map[string][]string
	MX  map[string][]*net.MX // Host "." is a null MX
	A   map[string][]string  // IPv4 addresses

	conn net.PacketConn
	mu   sync.Mutex
	hits map[string]int
}

// Start serves s's records on 127.0.0.1 until the test ends.
func Start(t testing.TB, s *Server) *Server {
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

func (s *Server) serve() {
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

func (s *Server) answer(q []byte) ([]byte, bool) {
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
	recs, found := s.TXT[name]
	mxs, isMX := s.MX[name]
	addrs, isA := s.A[name]
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

// Addr is the server's address, for dns.resolver.
func (s *Server) Addr() string { return s.conn.LocalAddr().String() }

// Queries is how many TXT queries for name were answered.
func (s *Server) Queries(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[name]
}
