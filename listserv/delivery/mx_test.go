package delivery

// Tests of the mx transport against real SMTP servers on loopback
// addresses (127.0.0.2, 127.0.0.3, ... share one port, since MX records
// carry none) and an injected resolver. Nothing leaves the machine.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"listserv/internal/testcert"
	"listserv/mailstore"
)

// fakeResolver answers from maps; a missing name is NXDOMAIN, a name in
// fail a SERVFAIL.
type fakeResolver struct {
	mu      sync.Mutex
	mx      map[string][]*net.MX
	ip      map[string][]string
	fail    map[string]bool
	mxAsked int
}

func (r *fakeResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mxAsked++
	if r.fail[name] {
		return nil, &net.DNSError{Err: "server failure", Name: name, IsTemporary: true}
	}
	if mx, ok := r.mx[name]; ok {
		return mx, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (r *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ips, ok := r.ip[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

// mxHost is a receiving MTA on one loopback address.
type mxHost struct {
	name string
	ln   net.Listener
	srv  *smtp.Server

	rcptErr map[string]*smtp.SMTPError // by recipient
	dataErr *smtp.SMTPError
	delay   time.Duration

	accepts atomic.Int32
	active  atomic.Int32
	maxAct  atomic.Int32

	mu    sync.Mutex
	got   []mxGot
	helo  []string
	conns []net.Conn
}

// dropAll closes every connection from the server's side.
func (h *mxHost) dropAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
}

type mxGot struct {
	from, to string
	tls      bool
	data     []byte
}

func (h *mxHost) messages() []mxGot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]mxGot(nil), h.got...)
}

// countingListener counts accepted and open connections.
type countingListener struct {
	net.Listener
	h *mxHost
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.h.accepts.Add(1)
	n := l.h.active.Add(1)
	for {
		m := l.h.maxAct.Load()
		if n <= m || l.h.maxAct.CompareAndSwap(m, n) {
			break
		}
	}
	cc := &countingConn{Conn: c, h: l.h}
	l.h.mu.Lock()
	l.h.conns = append(l.h.conns, cc)
	l.h.mu.Unlock()
	return cc, nil
}

type countingConn struct {
	net.Conn
	h    *mxHost
	once sync.Once
}

func (c *countingConn) Close() error {
	c.once.Do(func() { c.h.active.Add(-1) })
	return c.Conn.Close()
}

type mxSess struct {
	h    *mxHost
	conn *smtp.Conn
	from string
	to   []string
}

func (s *mxSess) Reset()        { s.from, s.to = "", nil }
func (s *mxSess) Logout() error { return nil }
func (s *mxSess) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	s.h.mu.Lock()
	s.h.helo = append(s.h.helo, s.conn.Hostname())
	s.h.mu.Unlock()
	return nil
}

func (s *mxSess) Rcpt(to string, _ *smtp.RcptOptions) error {
	if e := s.h.rcptErr[to]; e != nil {
		return e
	}
	s.to = append(s.to, to)
	return nil
}

func (s *mxSess) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	time.Sleep(s.h.delay)
	if s.h.dataErr != nil {
		return s.h.dataErr
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.h.mu.Lock()
	for _, to := range s.to {
		s.h.got = append(s.h.got, mxGot{from: s.from, to: to, tls: isTLS, data: b})
	}
	s.h.mu.Unlock()
	return nil
}

// mxNet is a set of loopback MX hosts on one port.
type mxNet struct {
	t     testing.TB
	port  int
	hosts map[string]*mxHost // by IP
	res   *fakeResolver
}

func newMXNet(t testing.TB) *mxNet {
	return &mxNet{t: t, hosts: map[string]*mxHost{}, res: &fakeResolver{mx: map[string][]*net.MX{}, ip: map[string][]string{}, fail: map[string]bool{}}}
}

// listen opens ip on the net's port (the first call picks the port).
func (n *mxNet) listen(ip string) net.Listener {
	n.t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(n.port)))
		if err == nil {
			if n.port == 0 {
				n.port = ln.Addr().(*net.TCPAddr).Port
			}
			n.t.Cleanup(func() { ln.Close() })
			return ln
		}
		if n.port == 0 {
			n.t.Fatal(err)
		}
		n.t.Skipf("port %d taken on %s: %v", n.port, ip, err)
	}
	return nil
}

// host starts a receiving MTA on ip; tlsCfg (may be nil) makes it offer
// STARTTLS.
func (n *mxNet) host(ip string, tlsCfg *tls.Config) *mxHost {
	n.t.Helper()
	h := &mxHost{name: ip, rcptErr: map[string]*smtp.SMTPError{}}
	h.ln = n.listen(ip)
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mxSess{h: h, conn: c}, nil
	}))
	srv.Domain = "mx.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.TLSConfig = tlsCfg
	srv.ErrorLog = nopLogger{}
	h.srv = srv
	go srv.Serve(countingListener{Listener: h.ln, h: h})
	n.t.Cleanup(func() { srv.Close() })
	n.hosts[ip] = h
	return h
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

// refuser answers every connection on ip with greeting and closes.
func (n *mxNet) refuser(ip, greeting string) *atomic.Int32 {
	ln := n.listen(ip)
	var count atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			count.Add(1)
			io.WriteString(c, greeting)
			c.Close()
		}
	}()
	return &count
}

// mx sets domain's MX records: host names with their preference, each
// host name resolving to the IP it is named after (h-127.0.0.2 → 127.0.0.2).
func (n *mxNet) mx(domain string, recs ...any) {
	n.res.mu.Lock()
	defer n.res.mu.Unlock()
	var mxs []*net.MX
	for i := 0; i < len(recs); i += 2 {
		host := recs[i].(string)
		mxs = append(mxs, &net.MX{Host: host + ".", Pref: uint16(recs[i+1].(int))})
		if ip, ok := strings.CutPrefix(host, "h-"); ok {
			n.res.ip[host] = []string{ip}
		}
	}
	n.res.mx[domain] = mxs
}

func (n *mxNet) transport() *MX {
	return &MX{Hostname: "lists.sender.test", Resolver: n.res, Port: n.port, DialTimeout: 2 * time.Second,
		CommandTimeout: 5 * time.Second, DataTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)}
}

// send dials one Conn and sends one message to each recipient over it.
func send(t *testing.T, tr *MX, rcpts ...string) []error {
	t.Helper()
	c, err := tr.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var errs []error
	for _, to := range rcpts {
		errs = append(errs, c.Send(context.Background(), "g-bounces+tok@lists.test", to, []byte("Subject: hi\r\n\r\nhello\r\n")))
	}
	return errs
}

func wantOK(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

func TestMXPreferenceOrder(t *testing.T) {
	n := newMXNet(t)
	primary := n.host("127.0.0.2", nil)
	backup := n.host("127.0.0.3", nil)
	n.mx("example.org", "h-127.0.0.3", 20, "h-127.0.0.2", 10)
	wantOK(t, send(t, n.transport(), "a@example.org", "b@Example.ORG"))
	if got := len(primary.messages()); got != 2 {
		t.Errorf("preferred MX got %d messages, want 2", got)
	}
	if got := len(backup.messages()); got != 0 {
		t.Errorf("backup MX got %d messages, want 0", got)
	}
	if h := primary.helo; len(h) == 0 || h[0] != "lists.sender.test" {
		t.Errorf("EHLO names %v, want the configured hostname", h)
	}
}

func TestMXEqualPreferencesShareLoad(t *testing.T) {
	n := newMXNet(t)
	a := n.host("127.0.0.2", nil)
	b := n.host("127.0.0.3", nil)
	n.mx("example.org", "h-127.0.0.2", 10, "h-127.0.0.3", 10)
	for range 40 {
		tr := n.transport()
		wantOK(t, send(t, tr, "a@example.org"))
	}
	if len(a.messages()) == 0 || len(b.messages()) == 0 {
		t.Errorf("equal-preference MX hosts got %d and %d of 40 sessions: not randomized", len(a.messages()), len(b.messages()))
	}
}

func TestMXFirstHostDown(t *testing.T) {
	n := newMXNet(t)
	n.listen("127.0.0.2").Close() // nobody listens there: connection refused
	refused := n.refuser("127.0.0.4", "421 4.3.2 busy, try later\r\n")
	second := n.host("127.0.0.3", nil)
	n.mx("example.org", "h-127.0.0.2", 5, "h-127.0.0.4", 10, "h-127.0.0.3", 20)
	wantOK(t, send(t, n.transport(), "a@example.org"))
	if len(second.messages()) != 1 {
		t.Fatalf("the reachable MX got %d messages", len(second.messages()))
	}
	if refused.Load() != 1 {
		t.Errorf("the MX greeting 421 was tried %d times, want 1", refused.Load())
	}
}

func TestMXAllHostsDownIsTemporary(t *testing.T) {
	n := newMXNet(t)
	n.refuser("127.0.0.2", "554 5.7.1 go away\r\n")
	n.listen("127.0.0.3").Close()
	n.mx("example.org", "h-127.0.0.2", 10, "h-127.0.0.3", 20)
	err := send(t, n.transport(), "a@example.org")[0]
	if err == nil || Permanent(err) {
		t.Fatalf("every MX down: %v (permanent %v), want a temporary error", err, Permanent(err))
	}
	if !strings.HasPrefix(describe(err), "4.4.1 ") {
		t.Errorf("recorded as %q, want it to start with 4.4.1", describe(err))
	}
	// The log gets codes and kinds, no host address.
	if l := logSafe(err, "a@example.org"); strings.Contains(l, "127.0.0") || !strings.Contains(l, "4.4.1") || !strings.Contains(l, "connection refused") {
		t.Errorf("logged as %q", l)
	}
}

func TestMXFallbackToAddress(t *testing.T) {
	n := newMXNet(t)
	h := n.host("127.0.0.2", nil)
	n.res.ip["nomx.example"] = []string{"127.0.0.2"}
	wantOK(t, send(t, n.transport(), "a@nomx.example"))
	if len(h.messages()) != 1 {
		t.Fatalf("the domain's own address got %d messages", len(h.messages()))
	}
}

func TestMXPermanentVerdicts(t *testing.T) {
	n := newMXNet(t)
	h := n.host("127.0.0.2", nil)
	n.mx("example.org", "h-127.0.0.2", 10)
	n.res.mx["null.example"] = []*net.MX{{Host: ".", Pref: 0}}
	n.res.fail["broken.example"] = true
	h.rcptErr["gone@example.org"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user <gone@example.org>"}
	h.rcptErr["full@example.org"] = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
	tr := n.transport()
	errs := send(t, tr, "gone@example.org", "null@null.example", "x@nxdomain.example", "full@example.org", "x@broken.example", "ok@example.org")
	for i, c := range []struct {
		permanent bool
		prefix    string
	}{
		{true, "550 5.1.1 "},
		{true, "5.1.10 "},
		{true, "5.1.2 "},
		{false, "452 4.2.2 "},
		{false, "4.4.3 "},
	} {
		err := errs[i]
		if err == nil || Permanent(err) != c.permanent || !strings.HasPrefix(describe(err), c.prefix) {
			t.Errorf("send %d: %v (permanent %v), want permanent=%v and %q first", i, err, Permanent(err), c.permanent, c.prefix)
		}
	}
	if errs[5] != nil {
		t.Errorf("after refusals the session did not deliver: %v", errs[5])
	}
	if n := h.accepts.Load(); n != 1 {
		t.Errorf("%d connections to the MX for 3 transactions, want 1 (a refusal keeps the session)", n)
	}
}

func TestMXQueueRetriesAndFails(t *testing.T) {
	n := newMXNet(t)
	h := n.host("127.0.0.2", nil)
	n.mx("example.org", "h-127.0.0.2", 10)
	h.rcptErr["gone@example.org"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	h.rcptErr["later@example.org"] = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted"}
	db, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rc := []mailstore.Recipient{{MemberID: 1, Addr: "ok@example.org"}, {MemberID: 2, Addr: "gone@example.org"}, {MemberID: 3, Addr: "later@example.org"}}
	if err := db.Enqueue("g", []byte("Subject: hi\r\n\r\nhi\r\n"), rc); err != nil {
		t.Fatal(err)
	}
	var retried atomic.Int32
	q := New(Options{Store: db, Transport: n.transport(), Domain: "lists.test", Workers: 2,
		RetryInitial: time.Hour, GiveUpAfter: 24 * time.Hour, Logger: slog.New(slog.DiscardHandler),
		OnResult: func(r mailstore.Result) {
			if r.Outcome == mailstore.Retry {
				retried.Add(1)
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { q.Run(ctx); close(stopped) }()
	deadline := time.Now().Add(10 * time.Second)
	for retried.Load() == 0 || len(h.messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("deliveries did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		failed, _ := db.FailedJobs()
		if len(failed) == 1 {
			if failed[0].Rcpt != "gone@example.org" || !strings.HasPrefix(failed[0].LastErr, "550 5.1.1") {
				t.Errorf("failed: %+v", failed[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the 550 was not recorded as failed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-stopped
	jobs, err := db.QueuedJobs()
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Rcpt != "later@example.org" || jobs[0].Attempts != 1 || !strings.HasPrefix(jobs[0].LastErr, "451 4.7.1") ||
		time.Until(jobs[0].Due) < 50*time.Minute {
		t.Errorf("queued after a 451: %+v, want the job with 1 attempt, 451 4.7.1, due in an hour", jobs)
	}
}

func TestMXSTARTTLS(t *testing.T) {
	cert := testcert.New(t)
	n := newMXNet(t)
	h := n.host("127.0.0.2", &tls.Config{Certificates: []tls.Certificate{cert.TLS}})
	n.mx("example.org", "h-127.0.0.2", 10)
	n.mx("verified.example", "localhost", 10)
	n.res.ip["localhost"] = []string{"127.0.0.2"}
	var logs bytes.Buffer
	tr := n.transport()
	tr.TLSConfig = &tls.Config{RootCAs: cert.Pool}
	tr.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wantOK(t, send(t, tr, "a@example.org", "b@example.org", "c@verified.example"))
	got := h.messages()
	if len(got) != 3 || !got[0].tls || !got[1].tls || !got[2].tls {
		t.Fatalf("messages %+v, want 3 over TLS", got)
	}
	// One connection per session: the upgrade happened on it, and both
	// EHLOs (before and after STARTTLS) said our name.
	if n := h.accepts.Load(); n != 2 {
		t.Errorf("%d connections for two domains' sessions, want 2", n)
	}
	for _, name := range h.helo {
		if name != "lists.sender.test" {
			t.Errorf("EHLO name %q after STARTTLS", name)
		}
	}
	l := logs.String()
	if !strings.Contains(l, "tls=unverified") || !strings.Contains(l, "tls=verified") {
		t.Errorf("log does not record tls=unverified (a certificate not for the MX's name) and tls=verified:\n%s", l)
	}
	if strings.Contains(l, "example") || strings.Contains(l, "127.0.0") {
		t.Errorf("log names a domain or host:\n%s", l)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestMXBrokenTLSFallsBackToClear(t *testing.T) {
	n := newMXNet(t)
	h := n.host("127.0.0.2", &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return nil, errors.New("no certificate here")
	}})
	n.mx("example.org", "h-127.0.0.2", 10)
	var logs bytes.Buffer
	tr := n.transport()
	tr.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, nil))
	wantOK(t, send(t, tr, "a@example.org", "b@example.org"))
	got := h.messages()
	if len(got) != 2 || got[0].tls || got[1].tls {
		t.Fatalf("messages %+v, want 2 in clear", got)
	}
	if n := h.accepts.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the failed handshake, then one clear session for both)", n)
	}
	if !strings.Contains(logs.String(), "STARTTLS handshake failed") {
		t.Errorf("log: %s", logs.String())
	}
}

func TestMXReusesSessionsAcrossConns(t *testing.T) {
	n := newMXNet(t)
	h := n.host("127.0.0.2", nil)
	o := n.host("127.0.0.3", nil)
	n.mx("example.org", "h-127.0.0.2", 10)
	n.mx("other.example", "h-127.0.0.3", 10)
	tr := n.transport()
	c1, _ := tr.Dial(context.Background())
	c2, _ := tr.Dial(context.Background())
	msg := []byte("Subject: hi\r\n\r\nhi\r\n")
	for i := range 10 {
		c := c1
		if i%2 == 1 {
			c = c2
		}
		for _, to := range []string{fmt.Sprintf("m%d@example.org", i), fmt.Sprintf("m%d@other.example", i)} {
			if err := c.Send(context.Background(), fmt.Sprintf("g-bounces+t%d@lists.test", i), to, msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(h.messages()) != 10 || len(o.messages()) != 10 {
		t.Fatalf("delivered %d and %d, want 10 and 10", len(h.messages()), len(o.messages()))
	}
	if a, b := h.accepts.Load(), o.accepts.Load(); a != 1 || b != 1 {
		t.Errorf("%d and %d connections for 10 messages per domain, want 1 each", a, b)
	}
	if n.res.mxAsked != 2 {
		t.Errorf("%d MX lookups, want 2 (one per session)", n.res.mxAsked)
	}
	// Distinct envelopes over one session: VERP copies are never merged.
	if got := h.messages(); got[0].from == got[1].from {
		t.Errorf("two copies share the envelope sender %q", got[0].from)
	}
	c1.Close()
	c2.Close()
	// The last Conn closed: the pooled sessions are closed too.
	deadline := time.Now().Add(5 * time.Second)
	for h.active.Load() != 0 || o.active.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sessions still open after the last Conn closed: %d, %d", h.active.Load(), o.active.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMXStaleSessionReplaced(t *testing.T) {
	n := newMXNet(t)
	h := n.host("127.0.0.2", nil)
	n.mx("example.org", "h-127.0.0.2", 10)
	tr := n.transport()
	c, _ := tr.Dial(context.Background())
	defer c.Close()
	msg := []byte("Subject: hi\r\n\r\nhi\r\n")
	if err := c.Send(context.Background(), "a@lists.test", "a@example.org", msg); err != nil {
		t.Fatal(err)
	}
	// The server drops every connection (an idle timeout on its side).
	h.dropAll()
	time.Sleep(20 * time.Millisecond)
	if err := c.Send(context.Background(), "b@lists.test", "b@example.org", msg); err != nil {
		t.Fatalf("after the server dropped the idle session: %v", err)
	}
	if len(h.messages()) != 2 || h.accepts.Load() != 2 {
		t.Errorf("%d messages over %d connections, want 2 over 2", len(h.messages()), h.accepts.Load())
	}
}

func TestMXPerDomainCap(t *testing.T) {
	n := newMXNet(t)
	h := n.host("127.0.0.2", nil)
	o := n.host("127.0.0.3", nil)
	h.delay, o.delay = 20*time.Millisecond, 20*time.Millisecond
	n.mx("example.org", "h-127.0.0.2", 10)
	n.mx("other.example", "h-127.0.0.3", 10)
	tr := n.transport()
	tr.MaxPerDomain = 3
	const workers, each = 10, 6
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := tr.Dial(context.Background())
			defer c.Close()
			for i := range each {
				// Each worker alternates domains: a worker holding no
				// session waits, none waits while holding one.
				domain := []string{"example.org", "other.example"}[(w+i)%2]
				errc <- c.Send(context.Background(), "g@lists.test", fmt.Sprintf("w%di%d@%s", w, i, domain), []byte("Subject: x\r\n\r\nx\r\n"))
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(h.messages()) + len(o.messages()); got != workers*each {
		t.Fatalf("delivered %d, want %d", got, workers*each)
	}
	if a, b := h.maxAct.Load(), o.maxAct.Load(); a > 3 || b > 3 {
		t.Errorf("up to %d and %d connections at once to one domain, cap 3", a, b)
	} else if a < 2 {
		t.Errorf("at most %d connection at once with %d workers: the cap is not used", a, workers)
	}
	t.Logf("connections: %d and %d for %d messages each; at most %d and %d at once",
		h.accepts.Load(), o.accepts.Load(), workers*each/2, h.maxAct.Load(), o.maxAct.Load())
}

func TestPermanentIgnoresNetErrors(t *testing.T) {
	// A broken pipe's Temporary() is false: still no verdict.
	err := &net.OpError{Op: "write", Net: "tcp", Err: errors.New("broken pipe")}
	if Permanent(err) {
		t.Error("a network error counted as permanent")
	}
	if !Permanent(&smtp.SMTPError{Code: 550}) || Permanent(&smtp.SMTPError{Code: 451}) {
		t.Error("SMTP replies misclassified")
	}
}

// BenchmarkMXSend measures one message to a domain over a reused session
// against a new session per message (MX and address lookups, connect,
// EHLO, and STARTTLS with a handshake when offered).
func BenchmarkMXSend(b *testing.B) {
	cert := testcert.New(b)
	for _, withTLS := range []bool{false, true} {
		n := newMXNet(b)
		var cfg *tls.Config
		if withTLS {
			cfg = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
		}
		n.host("127.0.0.2", cfg)
		n.mx("example.org", "h-127.0.0.2", 10)
		msg := bytes.Repeat([]byte("A line of a post of about four kilobytes in all.\r\n"), 80)
		name := map[bool]string{false: "clear", true: "starttls"}[withTLS]
		b.Run("reuse/"+name, func(b *testing.B) {
			c, _ := n.transport().Dial(context.Background())
			defer c.Close()
			for b.Loop() {
				if err := c.Send(context.Background(), "g@lists.test", "a@example.org", msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("fresh/"+name, func(b *testing.B) {
			for b.Loop() {
				c, _ := n.transport().Dial(context.Background())
				if err := c.Send(context.Background(), "g@lists.test", "a@example.org", msg); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}
