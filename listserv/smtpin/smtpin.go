// Package smtpin is the SMTP (and LMTP) front of the service: a go-smtp
// backend that checks each RCPT against the service, reads DATA with the
// size and line limits, normalizes line endings, and hands the bytes to
// listserv.Service.Receive. It owns the one mapping from the service's
// errors to SMTP replies (reply), and answers 250 only after the service
// says the message is durably stored.
//
// With Options.Submission it is the submission port instead (SPEC §5):
// members authenticate with AUTH PLAIN or LOGIN and their archive
// credentials, MAIL without AUTH gets 530 5.7.0, and the From of what
// they send must be their own address (listserv.Envelope.AuthUser).
// AUTH is offered over TLS (STARTTLS when Options.TLS is set); without a
// certificate, only to loopback clients. Failed AUTH attempts are slowed
// per address and per client IP (listserv/internal/loginlimit).
//
// Abuse limits (SPEC §5, limits.go): per client IP, a cap on open
// connections and on new connections a minute (421 4.7.0 before the
// greeting); per connection, a cap on refused commands (421 4.7.0, then
// the connection is closed) and a growing delay before each refused
// RCPT after the third, which makes guessing aliases slow. The per-member
// posting rate (451 4.7.1) and the one recipient per transaction (452
// 4.5.3) are the service's. Each limit is logged at info with the
// connection id, its name and counts. None of them applies to LMTP
// (lmtp.go), whose client is the operator's own MTA.
//
// It never logs addresses, names, IPs, passwords or bodies: a connection
// is named by a random id.
package smtpin

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"listserv/listserv"
	"listserv/listserv/internal/loginlimit"
)

// MaxLine is the longest line accepted inside DATA (SPEC §10: over 64 KiB
// in one line gets 554).
const MaxLine = 64 * 1024

// Options configure a Server. Service is required; zero values elsewhere
// mean the documented defaults.
type Options struct {
	Service *listserv.Service
	// Hostname is the name in the greeting; "" means "localhost".
	Hostname string
	// MaxMessageBytes is the SIZE limit; 0 means 10 MiB.
	MaxMessageBytes int64
	// DataTimeout bounds a whole DATA transfer; 0 means 5 minutes.
	DataTimeout time.Duration
	// LMTP serves LMTP instead of SMTP (lmtp.go): several recipients per
	// transaction with a reply each, and none of the abuse limits below
	// (the client is a trusted MTA).
	LMTP bool
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// OnRefused, if set, is told of every refusal the service's answers
	// cause: the stage ("rcpt" or "data") and the reason (a
	// listserv.Kind's name). For metrics; it must return quickly.
	OnRefused func(stage, reason string)

	// Submission serves the submission port: AUTH required before MAIL.
	Submission bool
	// TLS, when set, is offered with STARTTLS.
	TLS *tls.Config
	// LoginFailures, LoginDelay and LoginMaxWait tune the AUTH failure
	// limiter (see loginlimit.New; zero values mean its defaults).
	LoginFailures int
	LoginDelay    time.Duration
	LoginMaxWait  time.Duration

	// Abuse limits (SPEC §5); loopback clients are not exempt. A
	// negative value turns a limit off.
	//
	// MaxConnectionsPerIP caps one client IP's open connections; 0 means
	// 20. A connection over it gets 421 4.7.0 before the greeting.
	MaxConnectionsPerIP int
	// ConnectionsPerMinutePerIP caps the connections one IP opens within
	// a sliding ConnectionWindow; 0 means 60. Over it: 421 4.7.0.
	ConnectionsPerMinutePerIP int
	// ConnectionWindow is that window; 0 means a minute (tests shorten it).
	ConnectionWindow time.Duration
	// MaxErrorsPerConnection is how many refused commands (5xx or 452
	// replies to MAIL, RCPT, DATA, BDAT, AUTH-less MAIL) a connection may
	// have: the next one gets 421 4.7.0 and the connection is closed;
	// 0 means 10.
	MaxErrorsPerConnection int
	// TarpitDelay is the sleep before refusing the 4th refused RCPT of a
	// connection, doubling for each further one up to TarpitMaxDelay; 0
	// means 250 ms and 5 s.
	TarpitDelay    time.Duration
	TarpitMaxDelay time.Duration
}

// Server is an SMTP listener for the service.
type Server struct {
	srv  *smtp.Server
	svc  *listserv.Service
	log  *slog.Logger
	opts Options

	// go-smtp's Shutdown closes only the listeners its Serve has already
	// registered: a Serve goroutine that starts after it would accept
	// for ever. These guard against that race (Close right after start).
	mu     sync.Mutex
	closed bool
	lns    []net.Listener
	done   chan struct{} // closed when the server stops accepting

	limiter *loginlimit.Limiter // failed AUTH attempts (submission)
	ips     *ipLimiter          // connections per client IP
}

// New returns a Server; call Serve with a listener.
func New(opts Options) *Server {
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.MaxMessageBytes == 0 {
		opts.MaxMessageBytes = 10 << 20
	}
	if opts.DataTimeout == 0 {
		opts.DataTimeout = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LMTP {
		// The client is the front MTA (lmtp.go): it has limits of its
		// own, and ours would throttle all mail at once.
		opts.MaxConnectionsPerIP, opts.ConnectionsPerMinutePerIP = -1, -1
		opts.MaxErrorsPerConnection, opts.TarpitDelay = -1, -1
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&opts.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	def(&opts.ConnectionsPerMinutePerIP, DefaultConnectionsPerMinutePerIP)
	def(&opts.MaxErrorsPerConnection, DefaultMaxErrorsPerConnection)
	if opts.ConnectionWindow <= 0 {
		opts.ConnectionWindow = time.Minute
	}
	if opts.TarpitDelay == 0 {
		opts.TarpitDelay = DefaultTarpitDelay
	}
	if opts.TarpitMaxDelay <= 0 {
		opts.TarpitMaxDelay = DefaultTarpitMaxDelay
	}
	s := &Server{svc: opts.Service, log: opts.Logger, opts: opts, done: make(chan struct{}),
		ips: newIPLimiter(opts.MaxConnectionsPerIP, opts.ConnectionsPerMinutePerIP, opts.ConnectionWindow)}
	srv := smtp.NewServer(s)
	if opts.Submission {
		s.limiter = loginlimit.New(opts.LoginFailures, opts.LoginDelay, opts.LoginMaxWait)
		srv.TLSConfig = opts.TLS
		// Without a certificate go-smtp would offer AUTH to nobody; the
		// session then offers it to loopback clients only (authAllowed).
		srv.AllowInsecureAuth = opts.TLS == nil
	}
	srv.Domain = opts.Hostname
	srv.LMTP = opts.LMTP
	if opts.LMTP {
		srv.MaxRecipients = MaxLMTPRecipients
	}
	srv.MaxMessageBytes = opts.MaxMessageBytes
	srv.MaxLineLength = MaxLine + 2 // the limit counts CRLF
	srv.ReadTimeout = opts.DataTimeout
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = slogErrorLog{opts.Logger}
	s.srv = srv
	return s
}

// Serve accepts connections on ln until Close. ln should be a TCP
// listener: the per-IP limits count its connections (LMTP: a TCP or a
// unix socket listener, no limits).
func (s *Server) Serve(ln net.Listener) error {
	ln = limitListener{Listener: ln, srv: s}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	err := s.srv.Serve(ln)
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if errors.Is(err, smtp.ErrServerClosed) || closed && errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// stopAccepting closes the listeners given to Serve, and those given to
// it later.
func (s *Server) stopAccepting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		close(s.done)
	}
	s.closed = true
	for _, ln := range s.lns {
		ln.Close()
	}
}

// Close stops accepting and closes open connections.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.stopAccepting()
	return err
}

// Shutdown stops accepting and waits for open sessions to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	return s.srv.Shutdown(ctx)
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	var ip net.IP
	if a, ok := c.Conn().RemoteAddr().(*net.TCPAddr); ok && !s.opts.LMTP {
		ip = a.IP
	}
	_, isTLS := c.TLSConnectionState()
	st, wrapped := stateOf(c)
	return &session{srv: s, ip: ip, id: st.id, tls: isTLS, c: c, conn: st, wrapped: wrapped}, nil
}

func newConnID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// slogErrorLog routes go-smtp's own error log (which prints remote
// addresses) to slog at debug level, without the arguments.
type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Printf(format string, v ...any) {
	if strings.HasPrefix(format, "panic") && len(v) == 3 {
		l.log.Error("panic in SMTP session", "err", fmt.Sprint(v[1]), "stack", fmt.Sprintf("%s", v[2]))
		return
	}
	l.log.Debug("smtp library error", "format", format)
}

func (l slogErrorLog) Println(v ...any) { l.log.Debug("smtp library error") }
