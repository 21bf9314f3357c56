package delivery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"listserv/internal/smtpsink"
	"listserv/mailstore"
)

// fakeTransport answers each recipient from a script: the nth attempt to
// a recipient returns script[rcpt][n] (nil past its end).
type fakeTransport struct {
	mu       sync.Mutex
	script   map[string][]error
	attempts map[string]int
	sent     map[string][]string // rcpt → envelope senders of successes
	dials    int
}

func newFake(script map[string][]error) *fakeTransport {
	return &fakeTransport{script: script, attempts: map[string]int{}, sent: map[string][]string{}}
}

func (f *fakeTransport) Dial(context.Context) (Conn, error) {
	f.mu.Lock()
	f.dials++
	f.mu.Unlock()
	return fakeConn{f}, nil
}

type fakeConn struct{ f *fakeTransport }

func (c fakeConn) Send(_ context.Context, from, to string, msg []byte) error {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.attempts[to]
	f.attempts[to]++
	if s := f.script[to]; n < len(s) && s[n] != nil {
		return s[n]
	}
	f.sent[to] = append(f.sent[to], from)
	return nil
}
func (c fakeConn) Reset() error { return nil }
func (c fakeConn) Close() error { return nil }

func runQueue(t *testing.T, db *mailstore.DB, tr Transport, want int) []mailstore.Result {
	t.Helper()
	var mu sync.Mutex
	var results []mailstore.Result
	done := make(chan struct{})
	q := New(Options{Store: db, Transport: tr, Domain: "lists.test", Workers: 3,
		RetryInitial: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond, GiveUpAfter: time.Hour,
		OnResult: func(r mailstore.Result) {
			mu.Lock()
			defer mu.Unlock()
			results = append(results, r)
			if r.Outcome != mailstore.Retry {
				want--
				if want == 0 {
					close(done)
				}
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { q.Run(ctx); close(stopped) }()
	q.Wake()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deliveries did not finish")
	}
	cancel()
	<-stopped
	mu.Lock()
	defer mu.Unlock()
	return results
}

func temp(code int) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "x"}
}

func TestRetriesAndFailures(t *testing.T) {
	db, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rc := []mailstore.Recipient{{MemberID: 1, Addr: "ok@x.org"}, {MemberID: 2, Addr: "flaky@x.org"}, {MemberID: 3, Addr: "gone@x.org"}}
	if err := db.Enqueue("g", []byte("Subject: hi\r\n\r\nhi\r\n"), rc); err != nil {
		t.Fatal(err)
	}
	tr := newFake(map[string][]error{
		"flaky@x.org": {temp(451), temp(452), nil},
		"gone@x.org":  {temp(550)},
	})
	results := runQueue(t, db, tr, 3)
	if len(tr.sent["ok@x.org"]) != 1 || len(tr.sent["flaky@x.org"]) != 1 || len(tr.sent["gone@x.org"]) != 0 {
		t.Fatalf("sent = %v", tr.sent)
	}
	if tr.attempts["flaky@x.org"] != 3 || tr.attempts["gone@x.org"] != 1 {
		t.Fatalf("attempts = %v", tr.attempts)
	}
	// Replies, even refusals, leave a connection usable: each of the 3
	// workers dialed at most once for the 5 attempts.
	if tr.dials > 3 {
		t.Fatalf("%d dials for 5 attempts by 3 workers: connections are not reused", tr.dials)
	}
	retries := 0
	for _, r := range results {
		if r.Outcome == mailstore.Retry {
			retries++
		}
	}
	if retries != 2 {
		t.Fatalf("%d retries recorded, want 2", retries)
	}
	failed, _ := db.FailedJobs()
	if len(failed) != 1 || failed[0].Rcpt != "gone@x.org" || !strings.Contains(failed[0].LastErr, "550") {
		t.Fatalf("failed = %+v", failed)
	}
	if n, _, _ := db.QueueStats(); n != 0 {
		t.Fatalf("%d jobs left", n)
	}
	// Envelope senders are VERP addresses that name the delivery.
	from := tr.sent["ok@x.org"][0]
	local, domain, _ := strings.Cut(from, "@")
	token, ok := strings.CutPrefix(local, "g-bounces+")
	if !ok || domain != "lists.test" {
		t.Fatalf("envelope sender %q", from)
	}
	if m, _, ok := ParseVERPToken(db.VERPKey(), "g", token); !ok || m != 1 {
		t.Fatalf("token %q: member %d ok %v", token, m, ok)
	}
	if strings.Contains(from, "ok") {
		t.Fatalf("VERP address %q shows the recipient", from)
	}
}

func TestGiveUpAfter(t *testing.T) {
	db, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Enqueue("g", []byte("x\r\n"), []mailstore.Recipient{{MemberID: 1, Addr: "slow@x.org"}})
	q := New(Options{Store: db, Transport: newFake(map[string][]error{"slow@x.org": {temp(451)}}), GiveUpAfter: time.Nanosecond})
	jobs, _, _ := db.DueJobs(time.Now(), 1, nil)
	var wc workerConn
	r := q.attempt(context.Background(), &wc, jobs[0])
	if r.Outcome != mailstore.Failed {
		t.Fatalf("outcome %v, want Failed after the retry window", r.Outcome)
	}
}

func TestVERPForgery(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	tok := VERPToken(key, "recovery", 42, 9000)
	if m, j, ok := ParseVERPToken(key, "Recovery", strings.ToUpper(tok)); !ok || m != 42 || j != 9000 {
		t.Fatalf("parse = %d %d %v", m, j, ok)
	}
	bad := []byte(tok)
	bad[0] ^= 1
	for _, s := range []string{string(bad), tok[:len(tok)-1], "", "!!", tok + "a"} {
		if _, _, ok := ParseVERPToken(key, "recovery", s); ok {
			t.Errorf("forged token %q accepted", s)
		}
	}
	if _, _, ok := ParseVERPToken(key, "other-group", tok); ok {
		t.Error("a token of one group accepted at another group's bounce address")
	}
	if _, _, ok := ParseVERPToken([]byte("other key"), "recovery", tok); ok {
		t.Error("token accepted under another key")
	}
}

func TestLogSafe(t *testing.T) {
	err := fmt.Errorf("dial: 550 <Alice.Smith@Example.org> unknown user alice.smith")
	got := logSafe(err, "alice.smith@example.org")
	if strings.Contains(strings.ToLower(got), "alice") {
		t.Fatalf("logSafe kept the address: %q", got)
	}
	if got := logSafe(temp(550), "a@b.c"); got != "remote replied 550 5.0.0" {
		t.Fatalf("smtp error logged as %q", got)
	}
}

func TestOutbox(t *testing.T) {
	dir := t.TempDir()
	c, _ := (&Outbox{Dir: dir}).Dial(context.Background())
	if err := c.Send(context.Background(), "g-bounces+tok@lists.test", "Bob@Example.org", []byte("Subject: x\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "bob@example.org", "new", "*"))
	if len(files) != 1 {
		t.Fatalf("files = %v", files)
	}
	b, _ := os.ReadFile(files[0])
	if string(b) != "Return-Path: <g-bounces+tok@lists.test>\r\nSubject: x\r\n\r\nhi\r\n" {
		t.Fatalf("maildir file = %q", b)
	}
	for _, bad := range []string{"../x@y", "a/b@c", ".."} {
		if err := c.Send(context.Background(), "f", bad, []byte("x")); err == nil || !Permanent(err) {
			t.Errorf("recipient %q: err %v, want a permanent refusal", bad, err)
		}
	}
}

// TestSmarthostSendsOverOneConnection sends several messages over one
// real SMTP client connection to a sink (dot-stuffing intact) and checks
// that a recipient with CR/LF cannot inject a command.
func TestSmarthostSendsOverOneConnection(t *testing.T) {
	sink, err := smtpsink.Start(smtpsink.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	sh := &Smarthost{Addr: sink.Addr(), Hostname: "lists.test", TLS: "starttls"}
	conn, err := sh.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; i < 5; i++ {
		if err := conn.Send(context.Background(), "b@lists.test", fmt.Sprintf("r%d@x.org", i), []byte("Subject: s\r\n\r\n.hidden dot\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	msgs := sink.Messages()
	if len(msgs) != 5 || msgs[4].To != "r4@x.org" || !strings.Contains(string(msgs[0].Data), "\r\n.hidden dot") {
		t.Fatalf("sink got %d messages: %+v", len(msgs), msgs)
	}
	if err := conn.Send(context.Background(), "b@lists.test", "bad\r\nRCPT TO:<x@y>", []byte("x")); err == nil {
		t.Fatal("a recipient with CRLF was sent")
	}
}

// staleTransport's connections fail their first Send after the first
// message with a 421, as a server does when it closed an idle client.
type staleTransport struct {
	mu    sync.Mutex
	dials int
	sent  int
}

func (s *staleTransport) Dial(context.Context) (Conn, error) {
	s.mu.Lock()
	s.dials++
	s.mu.Unlock()
	return &staleConnT{t: s}, nil
}

type staleConnT struct {
	t    *staleTransport
	used bool
}

func (c *staleConnT) Send(context.Context, string, string, []byte) error {
	if c.used {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "idle timeout"}
	}
	c.used = true
	c.t.mu.Lock()
	c.t.sent++
	c.t.mu.Unlock()
	return nil
}
func (c *staleConnT) Reset() error { return errors.New("closed") }
func (c *staleConnT) Close() error { return nil }

// TestStaleConnectionRedials: a kept connection that the server closed
// costs a redial, not a retry of the message.
func TestStaleConnectionRedials(t *testing.T) {
	db, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Enqueue("g", []byte("x\r\n"), []mailstore.Recipient{{MemberID: 1, Addr: "a@x.org"}, {MemberID: 2, Addr: "b@x.org"}})
	tr := &staleTransport{}
	q := New(Options{Store: db, Transport: tr, Domain: "lists.test"})
	jobs, _, _ := db.DueJobs(time.Now(), 2, nil)
	var wc workerConn
	for _, j := range jobs {
		if r := q.attempt(context.Background(), &wc, j); r.Outcome != mailstore.Delivered {
			t.Fatalf("job %d: outcome %v (%s), want Delivered", j.ID, r.Outcome, r.Err)
		}
	}
	if tr.dials != 2 || tr.sent != 2 {
		t.Fatalf("dials %d, sent %d; want 2 and 2", tr.dials, tr.sent)
	}
}

// TestShutdownStopsTakingJobs: stopping the queue does not work off the
// in-memory backlog; what was not started stays queued in the store.
func TestShutdownStopsTakingJobs(t *testing.T) {
	db, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rc []mailstore.Recipient
	for i := 1; i <= 200; i++ {
		rc = append(rc, mailstore.Recipient{MemberID: uint64(i), Addr: fmt.Sprintf("m%d@x.org", i)})
	}
	db.Enqueue("g", []byte("x\r\n"), rc)
	tr := &slowTransport{delay: 20 * time.Millisecond}
	q := New(Options{Store: db, Transport: tr, Domain: "lists.test", Workers: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	start := time.Now()
	<-done
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Run took %v to stop", d)
	}
	left, _, _ := db.QueueStats()
	if sent := int(tr.sent.Load()); sent+left != 200 || left < 150 {
		t.Fatalf("sent %d, left in the queue %d; want the rest kept (200 in all)", sent, left)
	}
}

type slowTransport struct {
	delay time.Duration
	sent  atomic.Int64
}

func (s *slowTransport) Dial(context.Context) (Conn, error) { return slowConn{s}, nil }

type slowConn struct{ s *slowTransport }

func (c slowConn) Send(context.Context, string, string, []byte) error {
	time.Sleep(c.s.delay)
	c.s.sent.Add(1)
	return nil
}
func (slowConn) Reset() error { return nil }
func (slowConn) Close() error { return nil }
