package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"listserv/internal/dnstest"
	"listserv/internal/smtpsink"
)

// TestMXThroughBinary runs `listserv serve` with transport = "mx" and
// dns.resolver pointing at a DNS server this test runs on 127.0.0.1. The
// members' domains have MX hosts that are SMTP sinks on loopback aliases
// sharing one port (delivery.mx_port, the test-only override): one domain
// whose preferred exchanger is down, one without MX (its A record is its
// exchanger). A post reaches every member; nothing leaves the machine.
func TestMXThroughBinary(t *testing.T) {
	bin := crashBuildBinary(t)
	first, err := smtpsink.StartAt("127.0.0.2:0", smtpsink.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Close() })
	_, port, _ := net.SplitHostPort(first.Addr())
	second, err := smtpsink.StartAt(net.JoinHostPort("127.0.0.3", port), smtpsink.Faults{})
	if err != nil {
		t.Skipf("port %s is taken on 127.0.0.3: %v", port, err)
	}
	t.Cleanup(func() { second.Close() })
	dns := dnstest.Start(t, &dnstest.Server{
		MX: map[string][]*net.MX{
			// The preferred exchanger (127.0.0.4) listens nowhere.
			"one.test": {{Host: "down.one.test.", Pref: 5}, {Host: "mx.one.test.", Pref: 10}},
		},
		A: map[string][]string{
			"down.one.test": {"127.0.0.4"},
			"mx.one.test":   {"127.0.0.2"},
			"two.test":      {"127.0.0.3"}, // no MX: the domain's own address
		},
	})

	dir := t.TempDir()
	smtpAddr := crashFreeAddr(t)
	cfg := filepath.Join(t.TempDir(), "listserv.toml")
	text := fmt.Sprintf(`domain = %q
hostname = "listserv.test"
data_dir = %q

[smtp]
listen = %q

[imap]
listen = ""

[delivery]
transport = "mx"
mx_port = %s
retry_initial = "200ms"
retry_max = "1s"

[dns]
resolver = %q

[auth]
password_cost = 4
`, crashDomain, dir, smtpAddr, port, dns.Addr())
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	members := []string{"ann@one.test", "ben@one.test", "cat@two.test"}
	crashCLI(t, bin, cfg, "group", "create", crashGroup)
	for _, m := range members {
		crashCLI(t, bin, cfg, "member", "add", crashGroup, m)
	}
	logPath := filepath.Join(t.TempDir(), "serve.log")
	crashServe(t, bin, cfg, smtpAddr, logPath)
	if err := crashPost(smtpAddr, members[0], crashGroup+"@"+crashDomain, "through mx"); err != nil {
		t.Fatalf("post: %v", err)
	}

	// Each member gets the welcome and the post, at their own exchanger.
	want := map[string]*smtpsink.Sink{members[0]: first, members[1]: first, members[2]: second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		missing := ""
		for rcpt, sink := range want {
			found := false
			for _, m := range sink.Messages() {
				if m.To == rcpt && strings.Contains(string(m.Data), "Subject: through mx") {
					found = true
				}
			}
			if !found {
				missing = rcpt
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no copy reached %s's exchanger in 20 s; log:\n%s", missing, crashTail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(logPath)
	for _, s := range []string{"one.test", "two.test", "127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		if strings.Contains(string(log), s) {
			t.Errorf("the log names %q (a member's domain or an exchanger):\n%s", s, log)
		}
	}
}
