package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Smarthost relays every message through one SMTP server.
type Smarthost struct {
	// Addr is host:port.
	Addr string
	// Hostname is our EHLO name.
	Hostname string
	// TLS is "starttls" (upgrade when the server offers it), "tls"
	// (implicit TLS) or "none".
	TLS string
	// TLSConfig verifies the server; nil means the system roots and the
	// host part of Addr.
	TLSConfig *tls.Config
	// Username and Password, when set, authenticate with AUTH PLAIN.
	Username, Password string
	// Timeout bounds dialing and each command; 0 means 30 seconds.
	Timeout time.Duration
}

// Dial implements Transport.
func (s *Smarthost) Dial(ctx context.Context) (Conn, error) {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	c, err := s.dial(ctx, timeout)
	if err != nil {
		return nil, err
	}
	if s.Username != "" {
		// The password never goes in clear: with "starttls" a server (or
		// someone in the path) that does not offer STARTTLS gets no AUTH,
		// and the delivery is retried. "none" is the operator's explicit
		// choice (a smarthost on loopback).
		if _, isTLS := c.TLSConnectionState(); !isTLS && s.TLS != "none" {
			c.Close()
			return nil, fmt.Errorf("smarthost offers no STARTTLS: not sending the password in clear")
		}
		if err := c.Auth(sasl.NewPlainClient("", s.Username, s.Password)); err != nil {
			c.Close()
			return nil, fmt.Errorf("smarthost AUTH: %w", err)
		}
	}
	return &smtpConn{c: c}, nil
}

// dial connects and says EHLO (after TLS, when there is TLS).
func (s *Smarthost) dial(ctx context.Context, timeout time.Duration) (*smtp.Client, error) {
	d := net.Dialer{Timeout: timeout}
	tcfg := &tls.Config{}
	if s.TLSConfig != nil {
		tcfg = s.TLSConfig.Clone()
	}
	if tcfg.ServerName == "" {
		tcfg.ServerName, _, _ = net.SplitHostPort(s.Addr)
	}
	switch s.TLS {
	case "tls":
		conn, err := (&tls.Dialer{NetDialer: &d, Config: tcfg}).DialContext(ctx, "tcp", s.Addr)
		if err != nil {
			return nil, err
		}
		return s.hello(smtp.NewClient(conn), timeout)
	case "none":
		conn, err := d.DialContext(ctx, "tcp", s.Addr)
		if err != nil {
			return nil, err
		}
		return s.hello(smtp.NewClient(conn), timeout)
	}
	// STARTTLS when offered. go-smtp has no call to upgrade a connected
	// client, so probe with EHLO and redial with STARTTLS when offered.
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, err
	}
	c, err := s.hello(smtp.NewClient(conn), timeout)
	if err != nil {
		return nil, err
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return c, nil
	}
	c.Quit()
	conn, err = d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, err
	}
	c, err = smtp.NewClientStartTLS(conn, tcfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return s.hello(c, timeout)
}

// hello sets c's timeouts and says EHLO with our name.
func (s *Smarthost) hello(c *smtp.Client, timeout time.Duration) (*smtp.Client, error) {
	c.CommandTimeout = timeout
	c.SubmissionTimeout = 4 * timeout
	if err := c.Hello(s.Hostname); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// smtpConn is one open SMTP client connection.
type smtpConn struct{ c *smtp.Client }

func (s *smtpConn) Send(ctx context.Context, from, to string, msg []byte) error {
	if err := s.c.Mail(from, nil); err != nil {
		return err
	}
	if err := s.c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := s.c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func (s *smtpConn) Reset() error {
	err := s.c.Reset()
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return nil // the server answered: the connection still works
	}
	return err
}

func (s *smtpConn) Close() error { return s.c.Close() }
