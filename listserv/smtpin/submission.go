package smtpin

import (
	"bytes"
	"errors"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"listserv/mailstore"
)

var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	errAuthFailed   = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
	errAuthTLS      = &smtp.SMTPError{Code: 523, EnhancedCode: smtp.EnhancedCode{5, 7, 10}, Message: "TLS is required to authenticate"}
	errAuthBusy     = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "too many failed attempts, please try again later"}
	errAuthTemp     = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "temporary authentication failure, please try again later"}
)

// authAllowed says whether this session may authenticate: over TLS, or
// from a loopback client when no certificate is configured (the IMAP
// rule: with a certificate, plaintext never carries a password).
func (s *session) authAllowed() bool {
	if !s.srv.opts.Submission {
		return false
	}
	return s.tls || s.srv.opts.TLS == nil && s.ip != nil && s.ip.IsLoopback()
}

// AuthMechanisms implements smtp.AuthSession: none where AUTH is not
// allowed, so that EHLO does not offer it.
func (s *session) AuthMechanisms() []string {
	if !s.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.srv.opts.Submission {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	if !s.authAllowed() {
		return nil, errAuthTLS
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && mailstore.NormAddr(identity) != mailstore.NormAddr(username) {
				return errAuthFailed
			}
			return s.login(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{check: s.login}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// login checks an address and its archive password, slowed per address
// and per client IP after repeated failures. Neither is ever logged.
func (s *session) login(username, password string) error {
	if s.authUser() != "" {
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "already authenticated"}
	}
	addr := mailstore.NormAddr(username)
	lim := s.srv.limiter
	keys := []uint64{lim.Key("addr", addr), lim.Key("ip", s.ip.String())}
	wait, ok := lim.Turn(keys...)
	if !ok {
		s.srv.log.Info("submission auth refused", "conn", s.id, "reason", "too many failures")
		return errAuthBusy
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.srv.done:
			return errAuthTemp
		}
	}
	good, err := s.srv.svc.CheckPassword(addr, password)
	if err != nil {
		s.srv.log.Error("submission auth: password check failed", "conn", s.id, "err", err)
		return errAuthTemp
	}
	if !good {
		lim.Failed(keys...)
		s.srv.log.Info("submission auth failed", "conn", s.id)
		return errAuthFailed
	}
	lim.Succeeded(keys[0])
	s.mu.Lock()
	s.user = addr
	s.mu.Unlock()
	s.srv.log.Info("submission auth", "conn", s.id)
	return nil
}

// loginServer is the server side of the LOGIN mechanism (which go-sasl
// only has as a client): "Username:", then "Password:".
type loginServer struct {
	check    func(username, password string) error
	username string
	step     int
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		if bytes.IndexByte(response, 0) >= 0 {
			return nil, true, errAuthFailed
		}
		l.username, l.step = string(response), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.username, string(response))
	}
	return nil, true, errors.New("unexpected response")
}

func (s *session) authUser() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}
