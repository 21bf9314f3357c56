package imapview

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"listserv/listserv"
	"listserv/listserv/internal/loginlimit"
	"listserv/mailstore"
)

// Options configure a Server. Service is required; zero values elsewhere
// mean the documented default.
type Options struct {
	Service *listserv.Service
	// TLS is the certificate for STARTTLS and implicit TLS; nil offers
	// neither, and only loopback clients can log in.
	TLS *tls.Config
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// LoginFailures is how many failed logins a minute an address or an
	// IP may make before attempts are slowed; 0 means 10.
	LoginFailures int
	// LoginDelay spaces the attempts of a slowed address or IP; 0 means
	// 2 s.
	LoginDelay time.Duration
	// LoginMaxWait is the longest an attempt waits for its turn before it
	// is refused outright; 0 means 30 s.
	LoginMaxWait time.Duration
}

// caps are the capabilities this view implements. go-imap adds by itself
// those that need nothing from a backend: SASL-IR, LITERAL-, IDLE,
// UNSELECT, ENABLE, UTF8=ACCEPT, AUTH=PLAIN, STARTTLS, LOGINDISABLED.
var caps = imap.CapSet{
	imap.CapIMAP4rev1:    {},
	imap.CapNamespace:    {},
	imap.CapESearch:      {},
	imap.CapListExtended: {},
	imap.CapListStatus:   {},
	imap.CapChildren:     {},
	imap.CapStatusSize:   {},
}

// Server serves the archives over IMAP.
type Server struct {
	svc     *listserv.Service
	db      *mailstore.DB
	log     *slog.Logger
	tls     *tls.Config
	limiter *loginlimit.Limiter

	// Two imapserver instances differ only in whether a password may be
	// sent without TLS; each accepted connection is handed to one.
	plain, secure     *imapserver.Server
	plainLn, secureLn *chanListener

	mu        sync.Mutex
	listeners map[net.Listener]bool
	archives  map[string]*archive
	helds     map[string]*heldBox
	books     map[bookKey]*flagBook
	sessions  map[*session]bool
	closed    bool
	done      chan struct{}
	// running counts sessions and archive and held goroutines, which may write to
	// the store: Close waits for them.
	running sync.WaitGroup
}

// New returns a Server; it serves once given listeners (Serve).
func New(opts Options) (*Server, error) {
	if opts.Service == nil {
		return nil, errors.New("imapview: no service")
	}
	s := &Server{
		svc:       opts.Service,
		db:        opts.Service.Store(),
		log:       opts.Logger,
		tls:       opts.TLS,
		limiter:   loginlimit.New(opts.LoginFailures, opts.LoginDelay, opts.LoginMaxWait),
		listeners: map[net.Listener]bool{},
		archives:  map[string]*archive{},
		helds:     map[string]*heldBox{},
		books:     map[bookKey]*flagBook{},
		sessions:  map[*session]bool{},
		done:      make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	logger := imapLogger{s.log}
	s.plain = imapserver.New(&imapserver.Options{NewSession: s.newSession, Caps: caps, Logger: logger, InsecureAuth: true})
	s.secure = imapserver.New(&imapserver.Options{NewSession: s.newSession, Caps: caps, Logger: logger, TLSConfig: s.tls})
	s.plainLn, s.secureLn = newChanListener(), newChanListener()
	go s.plain.Serve(s.plainLn)
	go s.secure.Serve(s.secureLn)
	s.svc.Subscribe(s.onEvent)
	s.running.Add(1)
	go func() { defer s.running.Done(); s.indexAll() }()
	return s, nil
}

// Serve accepts IMAP connections on ln until Close (STARTTLS is offered
// when Options.TLS is set).
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, false) }

// ServeTLS accepts implicit-TLS connections on ln (a plain TCP listener)
// until Close. It needs Options.TLS.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.tls == nil {
		return errors.New("imapview: implicit TLS needs a certificate")
	}
	return s.serve(ln, true)
}

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("imapview: server closed")
	}
	s.listeners[ln] = true
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		var conn net.Conn = newBufConn(c)
		if implicitTLS {
			conn = tls.Server(conn, s.tls)
		}
		s.route(conn).push(conn)
	}
}

// route picks the server for a new connection: a password may be sent in
// clear text only from loopback, and only when no certificate is
// configured.
func (s *Server) route(c net.Conn) *chanListener {
	if _, isTLS := c.(*tls.Conn); !isTLS && s.tls == nil && isLoopback(c.RemoteAddr()) {
		return s.plainLn
	}
	return s.secureLn
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// Close stops the listeners, closes every connection and returns once no
// session or background work uses the store any more.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	// imapserver.Server.Close must not run before Serve has started
	// (their WaitGroup would race): Serve has once it calls Accept.
	<-s.plainLn.started
	<-s.secureLn.started
	s.plain.Close()
	s.secure.Close()
	s.running.Wait()
	return nil
}

// newSession is imapserver's NewSession.
func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	id := make([]byte, 6)
	rand.Read(id)
	sess := &session{
		srv:  s,
		conn: c,
		id:   hex.EncodeToString(id),
		wake: make(chan struct{}, 1),
	}
	if tcp, ok := c.NetConn().RemoteAddr().(*net.TCPAddr); ok {
		sess.ip = tcp.IP.String()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Shutting down"}
	}
	s.sessions[sess] = true
	s.running.Add(1)
	s.mu.Unlock()
	s.log.Debug("imap connection", "conn", sess.id)
	return sess, nil, nil
}

// Sessions is the number of open IMAP sessions (for metrics).
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// onEvent is the service's event listener: it runs on the committing
// goroutine, so it only flags and wakes.
func (s *Server) onEvent(e listserv.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Kind {
	case listserv.PostArchived:
		if a := s.archives[e.Group]; a != nil {
			a.kick()
		}
	case listserv.PostsRemoved:
		if a := s.archives[e.Group]; a != nil {
			a.remove(e.UIDs)
		}
	case listserv.HeldChanged:
		if h := s.helds[e.Group]; h != nil {
			h.kick()
		}
	case listserv.MembershipChanged:
		for sess := range s.sessions {
			sess.membershipChanged()
		}
	}
}

// imapLogger sends go-imap's own messages (connection errors, mostly
// clients hanging up) to the debug log. Only the format is logged: the
// arguments are network errors that carry the client's IP address, or
// parts of what the client sent.
type imapLogger struct{ log *slog.Logger }

// Printf logs one go-imap message at debug level, without its values.
func (l imapLogger) Printf(format string, args ...any) {
	l.log.Debug("imap library message", "format", format)
}

// chanListener hands accepted connections to an imapserver.Server.
type chanListener struct {
	conns   chan net.Conn
	done    chan struct{}
	started chan struct{} // closed at the first Accept
	once    sync.Once
	first   sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{conns: make(chan net.Conn), done: make(chan struct{}), started: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// Accept returns the next connection handed over, or net.ErrClosed.
func (l *chanListener) Accept() (net.Conn, error) {
	l.first.Do(func() { close(l.started) })
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept.
func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is a placeholder: the real listeners are the Server's.
func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
