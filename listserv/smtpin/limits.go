package smtpin

import (
	"context"
	"crypto/tls"
	"hash/maphash"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Defaults of the abuse limits (SPEC §5); Options documents each.
const (
	DefaultMaxConnectionsPerIP       = 20
	DefaultConnectionsPerMinutePerIP = 60
	DefaultMaxErrorsPerConnection    = 10
	DefaultTarpitDelay               = 250 * time.Millisecond
	DefaultTarpitMaxDelay            = 5 * time.Second
	// tarpitAfter refused RCPTs in a connection go unslowed.
	tarpitAfter = 3
)

var errTooManyErrors = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "too many errors, closing the connection"}

// ipLimiter counts the open connections and the recent connection times
// of each client IP. It keeps keyed hashes of the IPs, never the IPs,
// and forgets quiet ones (sweep), so its memory is bounded by the
// connections of one window.
type ipLimiter struct {
	maxConns  int // < 0: no cap
	perWindow int // < 0: no rate limit
	window    time.Duration
	now       func() time.Time
	seed      maphash.Seed

	mu        sync.Mutex
	ips       map[uint64]*ipState
	lastSweep time.Time
}

type ipState struct {
	open  int
	times []time.Time // accepted connections within the window, oldest first
}

func newIPLimiter(maxConns, perWindow int, window time.Duration) *ipLimiter {
	return &ipLimiter{maxConns: maxConns, perWindow: perWindow, window: window,
		now: time.Now, seed: maphash.MakeSeed(), ips: map[uint64]*ipState{}}
}

// admit accounts for a new connection from ip. When it is over a limit
// it returns the limit's name, the count and the maximum; otherwise the
// connection is counted as open until release is called.
func (l *ipLimiter) admit(ip string) (release func(), limit string, count, max int) {
	k := maphash.String(l.seed, ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) > l.window {
		l.sweep(now)
	}
	st := l.ips[k]
	if st == nil {
		st = &ipState{}
		l.ips[k] = st
	}
	cut := 0
	for cut < len(st.times) && now.Sub(st.times[cut]) >= l.window {
		cut++
	}
	st.times = st.times[cut:]
	if l.maxConns >= 0 && st.open >= l.maxConns {
		return nil, "connections_per_ip", st.open + 1, l.maxConns
	}
	if l.perWindow >= 0 && len(st.times) >= l.perWindow {
		return nil, "connection_rate_per_ip", len(st.times) + 1, l.perWindow
	}
	st.open++
	st.times = append(st.times, now)
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			st.open--
			l.mu.Unlock()
		})
	}, "", 0, 0
}

// sweep forgets the IPs with no open connection and none in the window.
// An IP's state may be dropped while a release still holds it: that
// release then only updates the dropped copy.
func (l *ipLimiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, st := range l.ips {
		if st.open <= 0 && (len(st.times) == 0 || now.Sub(st.times[len(st.times)-1]) >= l.window) {
			delete(l.ips, k)
		}
	}
}

// size is the number of IPs remembered (tests).
func (l *ipLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ips)
}

// connState is what one connection remembers across its sessions (EHLO
// and STARTTLS start new ones): its id and its failures.
type connState struct {
	id string

	mu        sync.Mutex
	errors    int  // refused commands
	rcptFails int  // refused RCPTs
	closing   bool // close the connection after the next write
}

// limitedConn is an accepted connection counted by the ipLimiter.
type limitedConn struct {
	net.Conn
	state   *connState
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

// Write writes b, then closes the connection when a limit asked for it:
// the reply that announces the close is the last thing sent.
func (c *limitedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.state.mu.Lock()
	closing := c.state.closing
	c.state.mu.Unlock()
	if closing {
		c.Close()
	}
	return n, err
}

// limitListener refuses connections over the per-IP limits with 421
// 4.7.0 before the greeting, and wraps the others in a limitedConn.
type limitListener struct {
	net.Listener
	srv *Server
}

func (l limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if _, ok := c.(*tls.Conn); ok {
			return c, nil // implicit TLS is not wrapped: Serve wants TCP
		}
		ip := ""
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = a.IP.String()
		}
		id := newConnID()
		release, limit, count, max := l.srv.ips.admit(ip)
		if limit == "" {
			return &limitedConn{Conn: c, state: &connState{id: id}, release: release}, nil
		}
		l.srv.log.Info("connection refused", "conn", id, "limit", limit, "count", count, "max", max)
		go func() {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte("421 4.7.0 " + l.srv.opts.Hostname + " too many connections from your address, please try again later\r\n"))
			c.Close()
		}()
	}
}

// stateOf finds the connState of a go-smtp connection (through a TLS
// layer after STARTTLS); a connection not accepted by a limitListener
// gets a fresh one.
func stateOf(c *smtp.Conn) (st *connState, wrapped bool) {
	nc := c.Conn()
	if t, ok := nc.(*tls.Conn); ok {
		nc = t.NetConn()
	}
	if lc, ok := nc.(*limitedConn); ok {
		return lc.state, true
	}
	return &connState{id: newConnID()}, false
}

// refused records that a command of session s was refused with err. It
// returns err, or a 421 4.7.0 once the connection is over the error
// limit, in which case the connection is closed after that reply.
func (s *session) refused(cmd string, err error) error {
	se, ok := err.(*smtp.SMTPError)
	if !ok || se.Code < 500 && se.Code != 452 {
		return err // a temporary problem on our side is not the client's error
	}
	st := s.conn
	if st == nil { // a session built without a connection (unit tests)
		st = &connState{id: s.id}
		s.conn = st
	}
	st.mu.Lock()
	st.errors++
	n := st.errors
	fails := st.rcptFails
	if cmd == "RCPT" {
		st.rcptFails++
		fails = st.rcptFails
	}
	max := s.srv.opts.MaxErrorsPerConnection
	over := max >= 0 && n > max
	if over {
		st.closing = true
	}
	st.mu.Unlock()
	if over {
		s.srv.log.Info("connection closed", "conn", st.id, "limit", "errors_per_connection", "count", n, "max", max)
		if !s.wrapped && s.c != nil {
			s.c.Conn().SetReadDeadline(time.Now()) // ends the session after this reply
		}
		return errTooManyErrors
	}
	if cmd == "RCPT" && fails > tarpitAfter {
		s.tarpit(fails)
	}
	return err
}

// tarpit sleeps before refusing the fails-th RCPT of a connection: the
// delay doubles from TarpitDelay up to TarpitMaxDelay, and ends early
// when the server stops.
func (s *session) tarpit(fails int) {
	o := s.srv.opts
	if o.TarpitDelay < 0 {
		return
	}
	d := o.TarpitDelay
	for i := tarpitAfter + 1; i < fails && d < o.TarpitMaxDelay; i++ {
		d *= 2
	}
	d = min(d, o.TarpitMaxDelay)
	lvl := slog.LevelDebug
	if fails == tarpitAfter+1 {
		lvl = slog.LevelInfo // once per connection
	}
	s.srv.log.Log(context.Background(), lvl, "slowing down", "conn", s.conn.id, "limit", "tarpit", "count", fails, "delay", d.String())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.srv.done:
	}
}
