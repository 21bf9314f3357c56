// Package smtpsink is a receiving SMTP server for tests and benchmarks
// (it lives at the module root so that every package's tests can use it):
// it stands in for a smarthost, records every message it accepts, and can
// misbehave on purpose (temporary failures, dropped connections, slow
// replies) so tests can check that deliveries survive.
package smtpsink

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one accepted transaction.
type Message struct {
	From string
	To   string
	Data []byte
}

// Faults make the sink misbehave. The zero value accepts everything.
type Faults struct {
	// TempFailEvery answers 451 to every Nth DATA (0: never).
	TempFailEvery int
	// DropEvery closes the connection instead of answering every Nth
	// DATA (0: never); the message is not recorded.
	DropEvery int
	// Delay is slept before each DATA reply.
	Delay time.Duration
	// Discard counts messages without keeping their bytes (benchmarks).
	Discard bool
}

// Sink is a running test SMTP server.
type Sink struct {
	srv    *smtp.Server
	ln     net.Listener
	faults Faults

	mu    sync.Mutex
	msgs  []Message
	n     int // DATA commands seen
	temps int // answered 451
	drops int // connections dropped
	count int // messages accepted
	wait  chan struct{}
}

// Start serves on 127.0.0.1:0.
func Start(f Faults) (*Sink, error) { return StartAt("127.0.0.1:0", f) }

// StartAt serves on addr (e.g. "127.0.0.2:2525": several sinks on
// loopback aliases sharing a port stand in for MX hosts).
func StartAt(addr string, f Faults) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Sink{ln: ln, faults: f, wait: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = nopLog{}
	s.srv = srv
	go srv.Serve(ln)
	return s, nil
}

type nopLog struct{}

func (nopLog) Printf(string, ...any) {}
func (nopLog) Println(...any)        {}

// Addr is host:port.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Close stops the sink.
func (s *Sink) Close() error { return s.srv.Close() }

// Messages returns a copy of what was accepted so far.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// MessagesFrom returns a copy of the accepted messages from index i on.
func (s *Sink) MessagesFrom(i int) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.msgs) {
		return nil
	}
	return append([]Message(nil), s.msgs[i:]...)
}

// Stats returns the DATA commands seen, the 451 answers given and the
// connections dropped.
func (s *Sink) Stats() (datas, temps, drops int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.temps, s.drops
}

// Count is how many messages were accepted.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// WaitCount waits until at least n messages were accepted or d passes,
// and reports whether they were.
func (s *Sink) WaitCount(n int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		s.mu.Lock()
		c, ch := s.count, s.wait
		s.mu.Unlock()
		if c >= n {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		select {
		case <-ch:
		case <-time.After(min(left, 100*time.Millisecond)):
		}
	}
}

type session struct {
	s    *Sink
	conn *smtp.Conn
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

var errDropped = errors.New("dropped")

func (x *session) Data(r io.Reader) error {
	s := x.s
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	if s.faults.Delay > 0 {
		time.Sleep(s.faults.Delay)
	}
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	if s.faults.DropEvery > 0 && n%s.faults.DropEvery == 0 {
		s.mu.Lock()
		s.drops++
		s.mu.Unlock()
		x.conn.Conn().Close()
		return errDropped
	}
	if s.faults.TempFailEvery > 0 && n%s.faults.TempFailEvery == 0 {
		s.mu.Lock()
		s.temps++
		s.mu.Unlock()
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.mu.Lock()
	for _, to := range x.to {
		s.count++
		if !s.faults.Discard {
			s.msgs = append(s.msgs, Message{From: x.from, To: to, Data: bytes.Clone(buf.Bytes())})
		}
	}
	close(s.wait)
	s.wait = make(chan struct{})
	s.mu.Unlock()
	return nil
}
