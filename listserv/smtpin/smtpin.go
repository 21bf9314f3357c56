// Package smtpin is the SMTP (and LMTP) front of the service: a go-smtp
// backend that checks each RCPT against the service, reads DATA with the
// size and line limits, normalizes line endings, and hands the bytes to
// listserv.Service.Receive. It owns the one mapping from the service's
// errors to SMTP replies (reply), and answers 250 only after the service
// says the message is durably stored.
//
// It never logs addresses, names, IPs or bodies: a connection is named by
// a random id.
package smtpin

import (
	"context"
	"crypto/rand"
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
	// LMTP serves LMTP instead of SMTP.
	LMTP bool
	// Logger; nil means slog.Default().
	Logger *slog.Logger
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
	s := &Server{svc: opts.Service, log: opts.Logger, opts: opts}
	srv := smtp.NewServer(s)
	srv.Domain = opts.Hostname
	srv.LMTP = opts.LMTP
	srv.MaxMessageBytes = opts.MaxMessageBytes
	srv.MaxLineLength = MaxLine + 2 // the limit counts CRLF
	srv.ReadTimeout = opts.DataTimeout
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = slogErrorLog{opts.Logger}
	s.srv = srv
	return s
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
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
	if a, ok := c.Conn().RemoteAddr().(*net.TCPAddr); ok {
		ip = a.IP
	}
	return &session{srv: s, ip: ip, id: newConnID()}, nil
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
