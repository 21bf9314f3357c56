package smtpin

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"listserv/listserv"
	"listserv/mailstore"
)

// syncBuffer is a log sink shared by the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// limitServer serves a group of one member on 127.0.0.1 with opts (its
// Service and Logger filled in) and returns its address and its log,
// which is checked at the end to name no IP and no address.
func limitServer(t *testing.T, opts Options) (string, *syncBuffer) {
	t.Helper()
	db, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := listserv.New(listserv.Options{Store: db, Domain: fuzzDomain, PasswordCost: 4, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.CreateGroup(ctx, listserv.GroupSpec{Name: fuzzGroup}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddMember(ctx, fuzzGroup, fuzzMember, false); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Service, opts.Logger, opts.Hostname = svc, log, "mx."+fuzzDomain
	srv := New(opts)
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		out := logs.String()
		if strings.Contains(out, "127.0.0.1") || strings.Contains(out, "@") {
			t.Errorf("the log names an IP or an address:\n%s", out)
		}
	})
	return ln.Addr().String(), logs
}

type client struct {
	t *testing.T
	c *textproto.Conn
}

// dial connects and reads the first reply (the greeting, or a refusal).
func dial(t *testing.T, addr string) (*client, int, string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	c := &client{t: t, c: textproto.NewConn(nc)}
	t.Cleanup(func() { c.c.Close() })
	code, msg, err := c.c.ReadResponse(0)
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return c, code, msg
}

func (c *client) cmd(line string) (int, string) {
	c.t.Helper()
	if err := c.c.PrintfLine("%s", line); err != nil {
		c.t.Fatalf("%s: %v", line, err)
	}
	code, msg, err := c.c.ReadResponse(0)
	if err != nil {
		c.t.Fatalf("%s: %v", line, err)
	}
	return code, msg
}

// closed checks that the server closed the connection.
func (c *client) closed() {
	c.t.Helper()
	if line, err := c.c.ReadLine(); err == nil {
		c.t.Fatalf("the connection is still open: %q", line)
	}
}

func TestConnectionsPerIP(t *testing.T) {
	addr, logs := limitServer(t, Options{MaxConnectionsPerIP: 3, ConnectionsPerMinutePerIP: -1})
	var open []*client
	for i := 0; i < 3; i++ {
		c, code, _ := dial(t, addr)
		if code != 220 {
			t.Fatalf("connection %d: %d, want 220", i+1, code)
		}
		open = append(open, c)
	}
	c, code, msg := dial(t, addr)
	if code != 421 || !strings.HasPrefix(msg, "4.7.0") {
		t.Fatalf("the 4th connection: %d %s, want 421 4.7.0", code, msg)
	}
	c.closed()
	// Once one ends, a new one is let in.
	open[0].cmd("QUIT")
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, code, _ := dial(t, addr)
		if code == 220 {
			break
		}
		c.closed()
		if time.Now().After(deadline) {
			t.Fatal("no connection let in after one ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "limit=connections_per_ip count=4 max=3") {
		t.Errorf("the refusal is not logged:\n%s", logs)
	}
}

func TestConnectionRatePerIP(t *testing.T) {
	const window = time.Second
	addr, logs := limitServer(t, Options{ConnectionsPerMinutePerIP: 3, ConnectionWindow: window})
	start := time.Now()
	for i := 0; i < 3; i++ {
		c, code, _ := dial(t, addr)
		if code != 220 {
			t.Fatalf("connection %d: %d, want 220", i+1, code)
		}
		c.cmd("QUIT")
	}
	c, code, msg := dial(t, addr)
	if time.Since(start) < window && (code != 421 || !strings.HasPrefix(msg, "4.7.0")) {
		t.Fatalf("the 4th connection within the window: %d %s, want 421 4.7.0", code, msg)
	}
	c.closed()
	time.Sleep(window)
	if c, code, msg := dial(t, addr); code != 220 {
		t.Fatalf("after the window: %d %s, want 220", code, msg)
	} else {
		c.cmd("QUIT")
	}
	if !strings.Contains(logs.String(), "limit=connection_rate_per_ip count=4 max=3") {
		t.Errorf("the refusal is not logged:\n%s", logs)
	}
}

// guess is an alias guess at the group: unknown, so refused 550.
func guess(i int) string { return fmt.Sprintf("RCPT TO:<%s+guess%d@%s>", fuzzGroup, i, fuzzDomain) }

func TestErrorsPerConnection(t *testing.T) {
	addr, logs := limitServer(t, Options{TarpitDelay: time.Millisecond, TarpitMaxDelay: 2 * time.Millisecond})
	c, _, _ := dial(t, addr)
	c.cmd("EHLO c.example")
	if code, msg := c.cmd("MAIL FROM:<x@example.net>"); code != 250 {
		t.Fatalf("MAIL: %d %s", code, msg)
	}
	for i := 1; i <= 10; i++ {
		if code, msg := c.cmd(guess(i)); code != 550 {
			t.Fatalf("RCPT %d: %d %s, want 550", i, code, msg)
		}
	}
	if code, msg := c.cmd(guess(11)); code != 421 || !strings.HasPrefix(msg, "4.7.0") {
		t.Fatalf("RCPT 11: %d %s, want 421 4.7.0", code, msg)
	}
	c.closed()
	out := logs.String()
	for _, want := range []string{"limit=errors_per_connection count=11 max=10", "limit=tarpit count=4"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
}

// TestTarpit checks that refused RCPTs after the third are slowed, more
// and more (defaults: 250 ms, 500 ms, 1 s).
func TestTarpit(t *testing.T) {
	addr, _ := limitServer(t, Options{})
	c, _, _ := dial(t, addr)
	c.cmd("EHLO c.example")
	c.cmd("MAIL FROM:<x@example.net>")
	var took []time.Duration
	for i := 1; i <= 6; i++ {
		start := time.Now()
		if code, msg := c.cmd(guess(i)); code != 550 {
			t.Fatalf("RCPT %d: %d %s, want 550", i, code, msg)
		}
		took = append(took, time.Since(start))
	}
	if took[2] > 150*time.Millisecond {
		t.Errorf("the 3rd refused RCPT took %v: slowed too early", took[2])
	}
	if took[3] < 150*time.Millisecond || took[5] < 200*time.Millisecond || took[5] < took[3] {
		t.Errorf("refused RCPTs took %v: want the 4th ≥ 150 ms and the 6th ≥ 200 ms and more", took)
	}
	// A good recipient is not slowed.
	start := time.Now()
	if code, msg := c.cmd("RCPT TO:<" + fuzzGroup + "@" + fuzzDomain + ">"); code != 250 || time.Since(start) > 150*time.Millisecond {
		t.Errorf("the group: %d %s in %v", code, msg, time.Since(start))
	}
}

// TestIPLimiterSweep checks that the per-IP memory forgets quiet IPs.
func TestIPLimiterSweep(t *testing.T) {
	now := time.Unix(1e9, 0)
	l := newIPLimiter(2, 5, time.Minute)
	l.now = func() time.Time { return now }
	var held func()
	for i := 0; i < 1000; i++ {
		release, limit, _, _ := l.admit(fmt.Sprintf("192.0.2.%d/%d", i%256, i))
		if limit != "" {
			t.Fatalf("ip %d refused: %s", i, limit)
		}
		if i == 0 {
			held = release
		} else {
			release()
		}
	}
	now = now.Add(2 * time.Minute)
	l.admit("198.51.100.1")
	if n := l.size(); n != 2 { // the one still open, the new one
		t.Errorf("%d IPs remembered after the window, want 2", n)
	}
	held()
	if _, limit, count, max := l.admit("198.51.100.1"); limit != "" {
		t.Errorf("a second connection refused: %s %d/%d", limit, count, max)
	}
	if _, limit, _, _ := l.admit("198.51.100.1"); limit != "connections_per_ip" {
		t.Errorf("a third open connection: %q, want connections_per_ip", limit)
	}
}
