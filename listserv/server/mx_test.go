package server_test

// delivery.transport = "mx" through server.Start: the members' domains
// are answered by a DNS server on 127.0.0.1 (dns.resolver), their MX
// hosts are SMTP sinks on loopback aliases sharing one port
// (delivery.mx_port, the test-only override). Nothing leaves the machine.

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"listserv/internal/dnstest"
	"listserv/internal/smtpsink"
	"listserv/listserv/config"
)

func TestMXTransportDeliversToEveryMember(t *testing.T) {
	// The first sink picks the port; the others share it.
	first, err := smtpsink.StartAt("127.0.0.2:0", smtpsink.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Close() })
	_, port, _ := net.SplitHostPort(first.Addr())
	sinks := map[string]*smtpsink.Sink{"127.0.0.2": first}
	for _, ip := range []string{"127.0.0.3", "127.0.0.4"} {
		s, err := smtpsink.StartAt(net.JoinHostPort(ip, port), smtpsink.Faults{})
		if err != nil {
			t.Skipf("port %s is taken on %s: %v", port, ip, err)
		}
		t.Cleanup(func() { s.Close() })
		sinks[ip] = s
	}
	const danAddr = "dan@nullmx.example"
	dns := dnstest.Start(t, &dnstest.Server{
		MX: map[string][]*net.MX{
			// Alice's domain: the backup MX listens nowhere (127.0.0.5).
			"example.org": {{Host: "mx2.example.org.", Pref: 20}, {Host: "mx1.example.org.", Pref: 10}},
			// Bruno's: its first preference is down.
			"example.net":    {{Host: "down.example.net.", Pref: 5}, {Host: "mx.example.net.", Pref: 10}},
			"nullmx.example": {{Host: ".", Pref: 0}},
		},
		A: map[string][]string{
			"mx1.example.org":  {"127.0.0.2"},
			"mx2.example.org":  {"127.0.0.5"},
			"down.example.net": {"127.0.0.6"},
			"mx.example.net":   {"127.0.0.3"},
			// Carmen's domain has no MX: its address is its exchanger.
			"example.com": {"127.0.0.4"},
		},
	})
	p := 0
	fmt.Sscan(port, &p)
	e := newEnv(t, setup{config: func(c *config.Config) {
		c.Delivery.Transport = "mx"
		c.Delivery.MXPort = p
		c.DNS.Resolver = dns.Addr()
	}})
	// The log names no member's domain, let alone an address.
	e.secret("example.net", "example.com", "nullmx.example") // example.org is in the list domain
	e.fixture()
	if _, err := e.srv.Service.AddMember(t.Context(), testGroup, danAddr, false); err != nil {
		t.Fatal(err)
	}
	e.secret(danAddr)
	e.post(aliceAddr, simple(aliceName+" <"+aliceAddr+">", "through mx", "mx1@example.org"))

	want := map[string]string{aliceAddr: "127.0.0.2", brunoAddr: "127.0.0.3", carmenAddr: "127.0.0.4"}
	deadline := time.Now().Add(10 * time.Second)
	for rcpt, ip := range want {
		for {
			found := false
			for _, m := range sinks[ip].Messages() {
				if m.To == rcpt && strings.Contains(string(m.Data), "Subject: through mx") {
					found = true
					if !strings.HasPrefix(m.From, testGroup+"-bounces+") {
						t.Errorf("envelope sender %q, want a VERP address", m.From)
					}
				}
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the post did not reach %s's MX (%s)", rcpt, ip)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	e.waitQueueEmpty()
	// Dan's domain publishes a null MX: his welcome and copy failed at
	// once, for good.
	failed, err := e.srv.Store.FailedJobs()
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 2 {
		t.Fatalf("%d failed deliveries, want Dan's welcome and post", len(failed))
	}
	for _, j := range failed {
		if j.Rcpt != danAddr || !strings.HasPrefix(j.LastErr, "5.1.10 ") || j.Attempts != 1 {
			t.Errorf("failed job %+v, want Dan's, 5.1.10 after one attempt", j)
		}
	}
	// Each sink got welcome and post, nothing else.
	for ip, s := range sinks {
		if n := s.Count(); n != 2 {
			t.Errorf("%s received %d messages, want 2 (welcome and post)", ip, n)
		}
	}
}
