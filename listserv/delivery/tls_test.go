package delivery

import (
	"listserv/internal/testcert"
	"strings"

	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// tlsServer is a go-smtp server offering STARTTLS and AUTH PLAIN that
// records, per message, whether it came over TLS and who authenticated.
type tlsServer struct {
	mu   sync.Mutex
	got  []tlsRecord
	user string
	pass string
}

type tlsRecord struct {
	tls  bool
	user string
}

type tlsSession struct {
	srv  *tlsServer
	conn *smtp.Conn
	user string
}

func (s *tlsSession) Reset()                               {}
func (s *tlsSession) Logout() error                        { return nil }
func (s *tlsSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *tlsSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *tlsSession) AuthMechanisms() []string             { return []string{sasl.Plain} }
func (s *tlsSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, tlsRecord{tls: isTLS, user: s.user})
	s.srv.mu.Unlock()
	return nil
}

func (s *tlsSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.srv.user || pass != s.srv.pass {
			return errors.New("bad credentials")
		}
		s.user = user
		return nil
	}), nil
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	c := testcert.New(t)
	return c.TLS, c.Pool
}

func TestSmarthostSTARTTLSAndAuth(t *testing.T) {
	cert, pool := selfSigned(t)
	rec := &tlsServer{user: "lists", pass: "s3cret"}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &tlsSession{srv: rec, conn: c}, nil
	}))
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	sh := &Smarthost{Addr: ln.Addr().String(), Hostname: "lists.test", TLS: "starttls",
		TLSConfig: &tls.Config{RootCAs: pool}, Username: "lists", Password: "s3cret"}
	conn, err := sh.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := conn.Send(context.Background(), "b@lists.test", "r@x.org", []byte("Subject: s\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	rec.mu.Lock()
	got := append([]tlsRecord(nil), rec.got...)
	rec.mu.Unlock()
	if len(got) != 2 || !got[0].tls || got[0].user != "lists" || !got[1].tls {
		t.Fatalf("server saw %+v, want two messages over TLS from user lists", got)
	}

	// A certificate the client does not trust is refused, not ignored.
	bad := &Smarthost{Addr: ln.Addr().String(), Hostname: "lists.test", TLS: "starttls"}
	if c, err := bad.Dial(context.Background()); err == nil {
		c.Close()
		t.Fatal("dialed a smarthost with an untrusted certificate")
	}
	// Wrong credentials fail the dial.
	wrong := &Smarthost{Addr: ln.Addr().String(), Hostname: "lists.test", TLS: "starttls",
		TLSConfig: &tls.Config{RootCAs: pool}, Username: "lists", Password: "nope"}
	if c, err := wrong.Dial(context.Background()); err == nil {
		c.Close()
		t.Fatal("AUTH with a wrong password succeeded")
	}

	// A server that offers no STARTTLS (stripped on the way) never sees
	// the password.
	plain := &tlsServer{user: "lists", pass: "s3cret"}
	psrv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &tlsSession{srv: plain, conn: c}, nil
	}))
	psrv.AllowInsecureAuth = true
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go psrv.Serve(pln)
	defer psrv.Close()
	stripped := &Smarthost{Addr: pln.Addr().String(), Hostname: "lists.test", TLS: "starttls", Username: "lists", Password: "s3cret"}
	if c, err := stripped.Dial(context.Background()); err == nil || !strings.Contains(err.Error(), "no STARTTLS") {
		if c != nil {
			c.Close()
		}
		t.Fatalf("AUTH without TLS: err %v", err)
	}
}
