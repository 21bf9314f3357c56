package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/idna"
)

// MXResolver is the DNS the mx transport asks. *net.Resolver implements
// it, and so does senderauth.Resolver, so the server hands the transport
// the same resolver dns.resolver configures for sender authentication.
// A name that does not exist must give a *net.DNSError with IsNotFound
// set: that, and only that, is taken as an answer ("no MX").
type MXResolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// MX delivers straight to each recipient domain's mail exchangers.
//
// Routing (RFC 5321 §5.1): the MX records of the recipient's domain, in
// preference order, equal preferences in random order; a domain without
// MX records is its own exchanger (its A/AAAA addresses); a null MX
// (RFC 7505: a single MX "."), or a domain that does not exist, fails at
// once (5.1.10, 5.1.2). Up to mxMaxAddrs addresses are tried per
// attempt: a refused connection, a timeout, or a greeting or EHLO
// answered with an error moves on to the next address.
//
// TLS is opportunistic, as between MTAs: STARTTLS is used when the
// server offers it, a certificate that does not verify is used anyway
// (logged as tls=unverified), and a failed handshake makes the transport
// reconnect and deliver in clear. There is no MTA-STS or DANE yet, so a
// network attacker can strip STARTTLS or present any certificate.
//
// Sessions: the queue holds one job per recipient, each with its own VERP
// envelope sender, so recipients are never grouped into one transaction;
// what saves round trips is reuse. Open sessions are kept per
// destination domain in a pool shared by every worker's Conn: a Send
// takes an idle session to the domain if there is one, opens a new one
// while the domain has fewer than MaxPerDomain open, and otherwise waits
// for one to come back. An idle session is closed after maxIdle; a
// session older than mxMaxSessionAge is closed after its message. Since
// idle sessions count against the cap but belong to no worker, one
// worker can never hold a domain's connections while waiting for another.
type MX struct {
	// Hostname is our EHLO name (config hostname).
	Hostname string
	// Resolver answers MX and address lookups; nil means the system's.
	Resolver MXResolver
	// MaxPerDomain caps the open connections to one recipient domain,
	// across all workers; 0 means 4.
	MaxPerDomain int
	// Port is the port dialed on every exchanger; 0 means 25. MX records
	// carry no port: another value exists for tests (delivery.mx_port).
	Port int
	// TLSConfig supplies RootCAs to judge certificates by (nil: the
	// system's). A certificate that does not verify is never fatal.
	TLSConfig *tls.Config
	// DialTimeout bounds each TCP connect (0: 30 s); CommandTimeout each
	// command's reply (0: 5 min); DataTimeout the reply after the message
	// (0: 10 min), as RFC 5321 §4.5.3.2 recommends.
	DialTimeout, CommandTimeout, DataTimeout time.Duration
	// Logger; nil means slog.Default(). It never gets an address, a
	// domain or a host name: routes and TLS are logged by codes.
	Logger *slog.Logger

	mu     sync.Mutex
	pools  map[string]*domainPool
	down   map[string]downDomain // domains no exchanger answered lately
	conns  int                   // Conns handed out by Dial and not closed
	reaper *time.Timer           // pending sweep of idle sessions
}

// downDomain remembers that no exchanger of a domain could be reached,
// so that the other jobs for it are deferred at once for a while instead
// of each worker waiting out the same timeouts in turn (a tarpit MX would
// otherwise hold every worker, and every other domain's mail, for hours).
type downDomain struct {
	until time.Time
	err   error
}

const (
	// mxDownFor is how long a domain whose exchangers all failed is
	// deferred without trying (Postfix's is similar).
	mxDownFor = time.Minute
	// mxMaxWait bounds how long a Send waits for a connection to a
	// domain at its cap before deferring the job.
	mxMaxWait = 2 * time.Minute
)

const (
	// mxMaxAddrs is how many addresses one attempt tries (Postfix's
	// smtp_mx_address_limit is 5 too).
	mxMaxAddrs = 5
	// mxMaxSessionAge retires a busy session after this long.
	mxMaxSessionAge = 5 * time.Minute
)

// domainPool is the sessions open to one domain.
type domainPool struct {
	open int          // idle + busy + being opened
	idle []*mxSession // most recently used last
	wake chan struct{}
}

// notify wakes every Send waiting for a session of p.
func (p *domainPool) notify() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// mxSession is one open SMTP connection to an exchanger of domain.
type mxSession struct {
	c        *smtp.Client
	domain   string
	tls      string // none, verified, unverified, refused, failed (clear after a failed handshake)
	created  time.Time
	lastUsed time.Time
	sends    int
}

// close says QUIT (briefly) and closes.
func (s *mxSession) close() {
	s.c.CommandTimeout = 5 * time.Second
	if err := s.c.Quit(); err != nil {
		s.c.Close()
	}
}

func (t *MX) log() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

func (t *MX) resolver() MXResolver {
	if t.Resolver != nil {
		return t.Resolver
	}
	return net.DefaultResolver
}

func (t *MX) maxPerDomain() int {
	if t.MaxPerDomain > 0 {
		return t.MaxPerDomain
	}
	return 4
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Dial implements Transport. It opens nothing: Send opens (or reuses)
// a session to the recipient's domain.
func (t *MX) Dial(ctx context.Context) (Conn, error) {
	t.mu.Lock()
	t.conns++
	t.mu.Unlock()
	return &mxConn{t: t}, nil
}

// mxConn is a worker's handle on the shared session pool.
type mxConn struct {
	t      *MX
	closed bool
}

// redialsItself: a failed Send has already dropped its broken session
// and retried a stale one, so the worker keeps this Conn.
func (c *mxConn) redialsItself() {}

// Send delivers one message to one recipient over a session to the
// recipient's domain.
func (c *mxConn) Send(ctx context.Context, from, to string, msg []byte) error {
	return c.t.send(ctx, from, to, msg)
}

// Reset implements Conn: sessions are reset when they go back to the pool.
func (c *mxConn) Reset() error { return nil }

// Close implements Conn. When the last Conn closes (the queue stops),
// the idle sessions are closed too.
func (c *mxConn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	t := c.t
	t.mu.Lock()
	t.conns--
	var idle []*mxSession
	if t.conns == 0 {
		idle = t.takeIdle(func(*mxSession) bool { return true })
		if t.reaper != nil {
			t.reaper.Stop()
			t.reaper = nil
		}
	}
	t.mu.Unlock()
	for _, s := range idle {
		s.close()
	}
	return nil
}

// takeIdle removes the idle sessions that drop reports true for from
// their pools and returns them to be closed. t.mu is held.
func (t *MX) takeIdle(drop func(*mxSession) bool) []*mxSession {
	var out []*mxSession
	for d, p := range t.pools {
		kept := p.idle[:0]
		for _, s := range p.idle {
			if drop(s) {
				out = append(out, s)
				p.open--
			} else {
				kept = append(kept, s)
			}
		}
		clear(p.idle[len(kept):])
		p.idle = kept
		if len(out) > 0 {
			p.notify()
		}
		if p.open == 0 {
			delete(t.pools, d)
		}
	}
	return out
}

// reap closes the sessions idle for longer than maxIdle.
func (t *MX) reap() {
	t.mu.Lock()
	t.reaper = nil
	old := t.takeIdle(func(s *mxSession) bool { return time.Since(s.lastUsed) >= maxIdle })
	t.scheduleReap()
	t.mu.Unlock()
	for _, s := range old {
		s.close()
	}
}

// scheduleReap arms the reaper while any session is idle. t.mu is held.
func (t *MX) scheduleReap() {
	if t.reaper != nil {
		return
	}
	for _, p := range t.pools {
		if len(p.idle) > 0 {
			t.reaper = time.AfterFunc(maxIdle, t.reap)
			return
		}
	}
}

// Failure phases of a transaction.
const (
	phaseMail = iota
	phaseRcpt
	phaseData
)

func (t *MX) send(ctx context.Context, from, to string, msg []byte) error {
	domain, err := rcptDomain(to)
	if err != nil {
		return err
	}
	for try := 0; ; try++ {
		s, err := t.acquire(ctx, domain)
		if err != nil {
			return err
		}
		reused := s.sends > 0
		phase, err := s.deliver(from, to, msg)
		t.release(s, err)
		if err == nil {
			return nil
		}
		// A reused session the server has dropped meanwhile fails at
		// MAIL: nothing was sent, so a fresh session may try at once.
		if reused && try == 0 && phase == phaseMail && brokenSession(err) {
			continue
		}
		return classify(err)
	}
}

// deliver runs one transaction.
func (s *mxSession) deliver(from, to string, msg []byte) (phase int, err error) {
	s.sends++
	opts := &smtp.MailOptions{Size: int64(len(msg))}
	if !isASCII(from) || !isASCII(to) {
		if ok, _ := s.c.Extension("SMTPUTF8"); !ok {
			return phaseMail, &mxError{enh: [3]int{5, 6, 7}, msg: "the address needs SMTPUTF8, which the receiving server does not offer"}
		}
		opts.UTF8 = true
	}
	if err := s.c.Mail(from, opts); err != nil {
		return phaseMail, err
	}
	if err := s.c.Rcpt(to, nil); err != nil {
		return phaseRcpt, err
	}
	w, err := s.c.Data()
	if err != nil {
		return phaseData, err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return phaseData, err
	}
	return phaseData, w.Close()
}

// brokenSession reports whether err means the connection is gone: a 421
// or no SMTP reply at all.
func brokenSession(err error) bool {
	var me *mxError
	if errors.As(err, &me) {
		return false
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code == 421
	}
	return true
}

// classify turns a transaction's error into what the queue expects: a
// 5xx reply or a local verdict that is permanent, anything else
// temporary.
func classify(err error) error {
	var me *mxError
	if errors.As(err, &me) {
		return err
	}
	if se, ok := err.(*smtp.SMTPError); ok && (se.Code/100 == 4 || se.Code/100 == 5) {
		return se
	}
	return &mxError{enh: [3]int{4, 4, 2}, msg: "connection trouble during delivery", temp: true, err: err}
}

// acquire returns a session to domain: an idle one, a new one while the
// domain is under its cap, or the next one released.
func (t *MX) acquire(ctx context.Context, domain string) (*mxSession, error) {
	waitUntil := time.Now().Add(mxMaxWait)
	for {
		var stale []*mxSession
		t.mu.Lock()
		if d, ok := t.down[domain]; ok {
			if time.Now().Before(d.until) {
				t.mu.Unlock()
				return nil, d.err
			}
			delete(t.down, domain)
		}
		if t.pools == nil {
			t.pools = make(map[string]*domainPool)
		}
		p := t.pools[domain]
		if p == nil {
			p = &domainPool{wake: make(chan struct{})}
			t.pools[domain] = p
		}
		var got *mxSession
		for len(p.idle) > 0 && got == nil {
			s := p.idle[len(p.idle)-1]
			p.idle[len(p.idle)-1] = nil
			p.idle = p.idle[:len(p.idle)-1]
			if time.Since(s.lastUsed) >= maxIdle {
				p.open--
				stale = append(stale, s)
				continue
			}
			got = s
		}
		opening := got == nil && p.open < t.maxPerDomain()
		if opening {
			p.open++
		}
		wake := p.wake
		t.mu.Unlock()
		for _, s := range stale {
			s.close()
		}
		if got != nil {
			return got, nil
		}
		if opening {
			s, err := t.open(ctx, domain)
			if err != nil {
				t.mu.Lock()
				if !Permanent(err) && ctx.Err() == nil {
					if t.down == nil {
						t.down = make(map[string]downDomain)
					}
					t.down[domain] = downDomain{until: time.Now().Add(mxDownFor), err: err}
				}
				p.open--
				p.notify()
				if p.open == 0 && t.pools[domain] == p {
					delete(t.pools, domain)
				}
				t.mu.Unlock()
				return nil, err
			}
			return s, nil
		}
		timer := time.NewTimer(time.Until(waitUntil))
		select {
		case <-wake:
			timer.Stop()
		case <-timer.C:
			return nil, &mxError{enh: [3]int{4, 4, 5}, msg: "waited too long for a connection to the domain", temp: true}
		case <-ctx.Done():
			timer.Stop()
			return nil, &mxError{enh: [3]int{4, 4, 5}, msg: "stopped while waiting for a connection to the domain", temp: true, err: ctx.Err()}
		}
	}
}

// release puts s back in its pool after a transaction that ended with
// err, or closes it when it is no longer usable.
func (t *MX) release(s *mxSession, err error) {
	usable := err == nil
	if err != nil && !brokenSession(err) {
		usable = s.c.Reset() == nil
	}
	if usable && time.Since(s.created) >= mxMaxSessionAge {
		usable = false
	}
	t.mu.Lock()
	p := t.pools[s.domain]
	if usable {
		s.lastUsed = time.Now()
		p.idle = append(p.idle, s)
		t.scheduleReap()
	} else {
		p.open--
		if p.open == 0 {
			delete(t.pools, s.domain)
		}
	}
	p.notify()
	t.mu.Unlock()
	if !usable {
		s.close()
	}
}

// open connects to the first exchanger of domain that accepts us.
func (t *MX) open(ctx context.Context, domain string) (*mxSession, error) {
	hosts, implicit, err := t.route(ctx, domain)
	if err != nil {
		return nil, err
	}
	tried := 0
	var last error
	for rank, host := range hosts {
		ips, err := t.resolver().LookupIPAddr(ctx, host)
		if err != nil || len(ips) == 0 {
			if implicit && isNotFound(err) {
				return nil, &mxError{enh: [3]int{5, 1, 2}, msg: "the recipient's domain has neither MX nor address records"}
			}
			if err == nil {
				err = errors.New("no address")
			}
			last = &mxError{enh: [3]int{4, 4, 3}, msg: "an exchanger's address lookup failed", temp: true, err: err}
			continue
		}
		for _, ip := range ips {
			if ip.IP.IsUnspecified() || ip.IP.IsMulticast() {
				continue
			}
			if tried == mxMaxAddrs {
				break
			}
			tried++
			s, err := t.connect(ctx, host, ip.IP)
			if err == nil {
				s.domain = domain
				t.log().Debug("mx session opened", "mx_rank", rank, "addresses_tried", tried, "tls", s.tls)
				return s, nil
			}
			last = err
			if ctx.Err() != nil {
				break
			}
		}
	}
	return nil, connectFailure(tried, last)
}

// connectFailure is the temporary error of an attempt whose every
// exchanger failed; a reply the last one gave keeps its codes.
func connectFailure(tried int, last error) error {
	var me *mxError
	if errors.As(last, &me) && tried == 0 {
		return me
	}
	e := &mxError{enh: [3]int{4, 4, 1}, msg: fmt.Sprintf("no exchanger accepted a connection (%d tried)", tried), temp: true, err: last}
	if se, ok := last.(*smtp.SMTPError); ok {
		e.code, e.enh = se.Code, se.EnhancedCode
		if e.enh == [3]int{} {
			e.enh = [3]int{4, 4, 1}
		}
	}
	return e
}

// route lists the exchangers of domain in the order to try them.
// implicit is true when the domain has no MX and is its own exchanger.
func (t *MX) route(ctx context.Context, domain string) (hosts []string, implicit bool, err error) {
	mxs, err := t.resolver().LookupMX(ctx, domain)
	var real []*net.MX
	null := false
	for _, mx := range mxs {
		h := strings.TrimSuffix(mx.Host, ".")
		if h == "" {
			null = true
			continue
		}
		real = append(real, &net.MX{Host: h, Pref: mx.Pref})
	}
	if len(real) == 0 {
		if null {
			return nil, false, &mxError{enh: [3]int{5, 1, 10}, msg: "the recipient's domain publishes a null MX: it accepts no mail"}
		}
		if err != nil && !isNotFound(err) {
			return nil, false, &mxError{enh: [3]int{4, 4, 3}, msg: "MX lookup failed", temp: true, err: err}
		}
		return []string{domain}, true, nil
	}
	rand.Shuffle(len(real), func(i, j int) { real[i], real[j] = real[j], real[i] })
	slices.SortStableFunc(real, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	for _, mx := range real {
		if !slices.Contains(hosts, strings.ToLower(mx.Host)) {
			hosts = append(hosts, strings.ToLower(mx.Host))
		}
	}
	return hosts, false, nil
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// rcptDomain is the recipient's domain in the form DNS asks for it.
func rcptDomain(to string) (string, error) {
	i := strings.LastIndexByte(to, '@')
	if i < 0 || i == len(to)-1 {
		return "", &mxError{enh: [3]int{5, 1, 3}, msg: "the recipient address has no domain"}
	}
	d := strings.TrimSuffix(strings.ToLower(to[i+1:]), ".")
	if strings.HasPrefix(d, "[") {
		return "", &mxError{enh: [3]int{5, 1, 2}, msg: "address literals are not delivered to"}
	}
	a, err := idna.Lookup.ToASCII(d)
	if err != nil || a == "" {
		return "", &mxError{enh: [3]int{5, 1, 2}, msg: "the recipient's domain is not a valid domain name"}
	}
	return a, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// mxError is a verdict of the mx transport itself (no route, no
// connection, a null MX). It reads like a reply: the enhanced status
// code first, preceded by the reply code when a server gave one, so the
// queue shows it like a remote answer. It names no address or domain.
type mxError struct {
	code int    // the server's reply code, 0 when no server replied
	enh  [3]int // RFC 3463
	msg  string
	temp bool
	err  error // the cause
}

func (e *mxError) Error() string {
	s := fmt.Sprintf("%d.%d.%d %s", e.enh[0], e.enh[1], e.enh[2], e.msg)
	if e.code != 0 {
		s = strconv.Itoa(e.code) + " " + s
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// logText is the error for the log: the codes and the verdict, and of
// the cause only its kind (a dial error names the host's IP address).
func (e *mxError) logText() string {
	s := fmt.Sprintf("%d.%d.%d %s", e.enh[0], e.enh[1], e.enh[2], e.msg)
	if e.code != 0 {
		s = strconv.Itoa(e.code) + " " + s
	}
	if e.err != nil {
		s += " (" + causeKind(e.err) + ")"
	}
	return s
}

// causeKind names an error's kind without its text.
func causeKind(err error) string {
	var se *smtp.SMTPError
	var ne net.Error
	var de *net.DNSError
	var tf *tlsFailure
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("replied %d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	case errors.As(err, &tf):
		return "tls " + tlsErrorCode(tf.err)
	case errors.As(err, &de):
		if de.IsNotFound {
			return "dns not found"
		}
		return "dns failure"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "connection closed"
	}
	return "error"
}

func (e *mxError) Temporary() bool { return e.temp }
func (e *mxError) Unwrap() error   { return e.err }
