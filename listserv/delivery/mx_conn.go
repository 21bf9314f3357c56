package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"time"

	"github.com/emersion/go-smtp"
)

// connect opens a session to one exchanger address: EHLO, then
// STARTTLS when offered. A failed TLS handshake costs one reconnection,
// in clear.
func (t *MX) connect(ctx context.Context, host string, ip net.IP) (*mxSession, error) {
	port := t.Port
	if port == 0 {
		port = 25
	}
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(port))
	s, err := t.handshake(ctx, host, addr, true)
	var tf *tlsFailure
	if errors.As(err, &tf) {
		t.log().Info("mx STARTTLS handshake failed; delivering in clear", "tls_error", tlsErrorCode(tf.err))
		s, err = t.handshake(ctx, host, addr, false)
		if s != nil {
			s.tls = "failed"
		}
	}
	return s, err
}

// tlsFailure is a STARTTLS that broke the connection.
type tlsFailure struct{ err error }

func (e *tlsFailure) Error() string { return "STARTTLS failed: " + e.err.Error() }
func (e *tlsFailure) Unwrap() error { return e.err }

// handshake dials addr, reads the greeting, says EHLO and, when tryTLS
// and the server offers it, upgrades with STARTTLS.
//
// go-smtp has no call that upgrades a connected client, and its
// NewClientStartTLS says EHLO as "localhost" before STARTTLS. So the
// upgrade is done here on the same connection: after the client's EHLO
// (SMTP is lockstep: the server sends nothing more until the next
// command) STARTTLS is sent and its 220 read on the raw connection, the
// TLS handshake runs, and a new client takes over the TLS connection with
// a greeting supplied locally (after STARTTLS the server sends none), so
// its first command is our EHLO. One TCP connection, our name in both
// EHLOs.
func (t *MX) handshake(ctx context.Context, host, addr string, tryTLS bool) (*mxSession, error) {
	d := net.Dialer{Timeout: orDefault(t.DialTimeout, 30*time.Second)}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := t.client(conn)
	if err := c.Hello(t.Hostname); err != nil {
		c.Close()
		return nil, err
	}
	now := time.Now()
	s := &mxSession{c: c, tls: "none", created: now, lastUsed: now}
	if ok, _ := c.Extension("STARTTLS"); !ok || !tryTLS {
		return s, nil
	}
	tc, verified, err := t.startTLS(ctx, conn, host)
	if errors.Is(err, errSTARTTLSRefused) {
		s.tls = "refused" // the server said no; the session goes on in clear
		return s, nil
	}
	if err != nil {
		conn.Close()
		return nil, &tlsFailure{err}
	}
	c = t.client(&greetedConn{Conn: tc, pending: []byte("220 " + host + " ESMTP (after STARTTLS)\r\n")})
	if err := c.Hello(t.Hostname); err != nil {
		c.Close()
		return nil, err
	}
	s.c, s.tls = c, "unverified"
	if verified {
		s.tls = "verified"
	}
	return s, nil
}

func (t *MX) client(conn net.Conn) *smtp.Client {
	c := smtp.NewClient(conn)
	c.CommandTimeout = orDefault(t.CommandTimeout, 5*time.Minute)
	c.SubmissionTimeout = orDefault(t.DataTimeout, 10*time.Minute)
	return c
}

var errSTARTTLSRefused = errors.New("STARTTLS refused")

// startTLS sends STARTTLS on conn, whose EHLO was answered, and runs
// the handshake. verified says whether the certificate verified for host
// (it is accepted either way).
func (t *MX) startTLS(ctx context.Context, conn net.Conn, host string) (tc *tls.Conn, verified bool, err error) {
	timeout := orDefault(t.CommandTimeout, 5*time.Minute)
	conn.SetDeadline(time.Now().Add(timeout))
	defer conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "STARTTLS\r\n"); err != nil {
		return nil, false, err
	}
	// The server sends nothing after this reply until our ClientHello,
	// so a buffered reader here cannot swallow TLS bytes.
	if _, _, err := textproto.NewReader(bufio.NewReader(conn)).ReadResponse(220); err != nil {
		var pe *textproto.Error
		if errors.As(err, &pe) {
			return nil, false, errSTARTTLSRefused
		}
		return nil, false, err
	}
	var roots *x509.CertPool
	if t.TLSConfig != nil {
		roots = t.TLSConfig.RootCAs
	}
	cfg := &tls.Config{
		// Opportunistic TLS: any certificate beats clear text; whether
		// it verified is recorded, never enforced.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
			verified = err == nil
			return nil
		},
	}
	if net.ParseIP(host) == nil {
		cfg.ServerName = host
	}
	tc = tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, false, err
	}
	return tc, verified, nil
}

// greetedConn hands its reader a greeting before the connection's bytes.
type greetedConn struct {
	net.Conn
	pending []byte
}

func (g *greetedConn) Read(p []byte) (int, error) {
	if len(g.pending) > 0 {
		n := copy(p, g.pending)
		g.pending = g.pending[n:]
		return n, nil
	}
	return g.Conn.Read(p)
}

// tlsErrorCode names a handshake failure for the log without any host.
func tlsErrorCode(err error) string {
	var ne net.Error
	var alert tls.AlertError
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &alert):
		return "alert"
	case errors.As(err, &rh):
		return "not_tls"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	}
	return "handshake"
}
