package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"listserv/listserv"
	"listserv/listserv/config"
	"listserv/listserv/delivery"
	"listserv/listserv/dkimsign"
	"listserv/listserv/server"
	"listserv/mailstore"
)

const (
	domain = "lists.bench"
	group  = "g"
)

// harness is a started listserv with one group whose members' mail goes
// to a counting sink.
type harness struct {
	srv     *server.Server
	sink    sink
	members []string
}

// newHarness starts a server on a temporary data directory with members
// in group g (rate limit off) and waits until their welcomes are
// delivered, so that the sink's count starts from a quiet queue.
func newHarness(tb testing.TB, members, workers int) *harness {
	return newHarnessWith(tb, members, workers, nil)
}

// newHarnessWith is newHarness with a transport replacing the smarthost
// (nil: the smarthost, to the sink).
func newHarnessWith(tb testing.TB, members, workers int, tr delivery.Transport) *harness {
	tb.Helper()
	sk := startSink(tb)
	cfg := config.Default()
	cfg.Domain = domain
	cfg.Hostname = "listserv.bench"
	cfg.DataDir = tb.TempDir()
	cfg.SMTP.Listen = "127.0.0.1:0"
	cfg.IMAP.Listen = ""
	cfg.Delivery.Transport = "smarthost"
	cfg.Delivery.Smarthost = sk.Addr()
	cfg.Delivery.SmarthostTLS = "none"
	cfg.Delivery.Workers = workers
	cfg.Delivery.RetryInitial = config.Duration{Duration: 100 * time.Millisecond}
	cfg.Delivery.RetryMax = config.Duration{Duration: time.Second}
	// Adding a member hashes an archive password; bcrypt's minimum cost
	// keeps the (unmeasured) setup of 1,000 members short.
	cfg.Auth.PasswordCost = 4
	// BENCH_DKIM=rsa|ed25519 signs what the server sends (a post once).
	if typ := os.Getenv("BENCH_DKIM"); typ != "" {
		_, pemBytes, err := dkimsign.GenerateKey(typ)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.DKIM.KeyFile, cfg.DKIM.Selector = filepath.Join(tb.TempDir(), "dkim.key"), "bench"
		if err := dkimsign.WriteKeyFile(cfg.DKIM.KeyFile, pemBytes); err != nil {
			tb.Fatal(err)
		}
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(quietHandler{slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})})
	srv, err := server.Start(cfg, server.Options{Logger: log, Transport: tr})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	if tr != nil {
		// Welcomes never reach the sink: count them as delivered.
		return newMembers(tb, srv, sk, members, func() bool { n, _, err := srv.Store.QueueStats(); return err == nil && n == 0 })
	}
	return newMembers(tb, srv, sk, members, func() bool { return sk.Count() >= members })
}

// newMembers creates group g with members and waits until done reports
// that their welcomes are out.
func newMembers(tb testing.TB, srv *server.Server, sk sink, members int, done func() bool) *harness {
	tb.Helper()
	ctx := context.Background()
	if _, err := srv.Service.CreateGroup(ctx, listserv.GroupSpec{Name: group, JoinPolicy: "open"}); err != nil {
		tb.Fatal(err)
	}
	// A benchmark posts far more than a member may in an hour.
	if _, err := srv.Store.UpdateGroup(group, func(g *mailstore.Group) error { g.PostsPerHour = 0; return nil }); err != nil {
		tb.Fatal(err)
	}
	h := &harness{srv: srv, sink: sk}
	for i := 0; i < members; i++ {
		h.members = append(h.members, fmt.Sprintf("member%04d@example.net", i))
	}
	var next atomic.Int64
	err := parallel(16, func() error {
		for {
			i := int(next.Add(1)) - 1
			if i >= members {
				return nil
			}
			if _, err := srv.Service.AddMember(ctx, group, h.members[i], false); err != nil {
				return err
			}
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !done() {
		if time.Now().After(deadline) {
			tb.Fatalf("the %d welcomes were not delivered within 2 minutes", members)
		}
		time.Sleep(time.Millisecond)
	}
	return h
}

// discard is a delivery transport that accepts every message at once:
// the queue (dispatcher, workers, finisher commits) runs at full speed
// without SMTP.
type discard struct{ n atomic.Int64 }

func (d *discard) Dial(context.Context) (delivery.Conn, error) { return discardConn{d}, nil }

type discardConn struct{ d *discard }

func (c discardConn) Send(_ context.Context, _, _ string, _ []byte) error {
	c.d.n.Add(1)
	return nil
}
func (discardConn) Reset() error { return nil }
func (discardConn) Close() error { return nil }

// quietHandler logs warnings and errors, but not the one every start
// prints about sender_auth = "none".
type quietHandler struct{ slog.Handler }

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "sender_auth is") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

// cpuTime is the CPU time (user and system) this process has used so
// far. On a shared machine, CPU per delivery is steadier than wall-clock
// rates: other processes' load stretches the latter, not the former.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parallel runs fn in n goroutines and joins their errors.
func parallel(n int, fn func() error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// body is about 3 KB of plain text (BENCH_POST_BYTES sets another size),
// the same for every post.
var body = func() string {
	size := 3000
	if v, err := strconv.Atoi(os.Getenv("BENCH_POST_BYTES")); err == nil && v > 0 {
		size = v
	}
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "Line %02d: some days are harder than others, and writing it down here helps.\r\n", i)
	}
	return b.String()
}()

var postSeq atomic.Int64

// message is one post from `from`, with a unique Message-ID.
func message(from string) []byte {
	n := postSeq.Add(1)
	return []byte(fmt.Sprintf("From: <%s>\r\nTo: <%s@%s>\r\nSubject: Benchmark post %d\r\nDate: %s\r\nMessage-ID: <bench-%d-%d@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
		from, group, domain, n, time.Now().UTC().Format(time.RFC1123Z), time.Now().UnixNano(), n, body))
}

// dial opens an SMTP client connection and says EHLO.
func dial(addr string) (*smtp.Client, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.Hello("client.bench"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// send runs one MAIL/RCPT/DATA transaction and returns nil on 250.
func send(c *smtp.Client, from, to string, msg []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// ingest sends n posts over `senders` connections, members taking turns
// as authors, and returns how long it took until the last 250.
func (h *harness) ingest(senders, n int) (time.Duration, error) {
	conns := make([]*smtp.Client, senders)
	for i := range conns {
		c, err := dial(h.srv.SMTPAddr())
		if err != nil {
			return 0, err
		}
		defer c.Close()
		conns[i] = c
	}
	rcpt := group + "@" + domain
	var next atomic.Int64
	var who atomic.Int64
	start := time.Now()
	err := parallelEach(conns, func(c *smtp.Client) error {
		for next.Add(1) <= int64(n) {
			from := h.members[int(who.Add(1))%len(h.members)]
			if err := send(c, from, rcpt, message(from)); err != nil {
				return err
			}
		}
		return nil
	})
	return time.Since(start), err
}

// fanout sends n posts over one connection and waits until the sink has
// every copy; it returns the time the posts took and the time until the
// last copy arrived, both from the first post.
func (h *harness) fanout(n int, timeout time.Duration) (posting, total time.Duration, err error) {
	c, err := dial(h.srv.SMTPAddr())
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	want := h.sink.Count() + n*len(h.members)
	rcpt := group + "@" + domain
	start := time.Now()
	for i := 0; i < n; i++ {
		from := h.members[i%len(h.members)]
		if err := send(c, from, rcpt, message(from)); err != nil {
			return 0, 0, err
		}
	}
	posting = time.Since(start)
	if !h.sink.WaitCount(want, timeout) {
		return posting, 0, fmt.Errorf("sink counted %d of %d deliveries within %v", h.sink.Count(), want, timeout)
	}
	return posting, time.Since(start), nil
}

// baseline sends n transactions of msg to sk over `conns` connections, no
// store involved, and returns how long it took.
func baseline(sk sink, conns, n int, msg []byte) (time.Duration, error) {
	clients := make([]*smtp.Client, conns)
	for i := range clients {
		c, err := dial(sk.Addr())
		if err != nil {
			return 0, err
		}
		defer c.Close()
		clients[i] = c
	}
	// A VERP envelope sender is this long.
	from := group + "-bounces+" + strings.Repeat("a", 26) + "@" + domain
	var next atomic.Int64
	start := time.Now()
	err := parallelEach(clients, func(c *smtp.Client) error {
		for {
			i := next.Add(1)
			if i > int64(n) {
				return nil
			}
			if err := send(c, from, fmt.Sprintf("member%04d@example.net", i%1000), msg); err != nil {
				return err
			}
		}
	})
	return time.Since(start), err
}

func parallelEach(clients []*smtp.Client, fn func(*smtp.Client) error) error {
	var i atomic.Int64
	return parallel(len(clients), func() error { return fn(clients[i.Add(1)-1]) })
}
