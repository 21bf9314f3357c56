package server

import (
	"crypto/tls"
	"fmt"
	"net"

	"listserv/listserv/config"
	"listserv/listserv/imapview"
)

// imapListeners is what startIMAP opened.
type imapListeners struct {
	srv        *imapview.Server
	plain, tls net.Listener
}

// loadTLS reads the configured certificate (nil when none is set).
func loadTLS(cfg config.Config) (*tls.Config, error) {
	if cfg.TLS.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_file/key_file: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// startIMAP opens the IMAP listeners (imap.listen with STARTTLS when a
// certificate is set, imap.tls_listen with implicit TLS) and serves the
// archive on them.
func (s *Server) startIMAP(cfg config.Config) error {
	if cfg.IMAP.Listen == "" && cfg.IMAP.TLSListen == "" {
		return nil
	}
	tlsConf, err := loadTLS(cfg)
	if err != nil {
		return err
	}
	srv, err := imapview.New(imapview.Options{Service: s.Service, TLS: tlsConf, Logger: s.log})
	if err != nil {
		return err
	}
	s.imap = &imapListeners{srv: srv}
	fail := func(err error) error {
		srv.Close()
		s.imap = nil
		return err
	}
	if cfg.IMAP.Listen != "" {
		if s.imap.plain, err = net.Listen("tcp", cfg.IMAP.Listen); err != nil {
			return fail(err)
		}
		if tlsConf == nil && !loopbackOnly(s.imap.plain.Addr()) {
			s.log.Warn("imap.listen is not on loopback and no TLS certificate is set: remote clients cannot log in", "imap", cfg.IMAP.Listen)
		}
	}
	if cfg.IMAP.TLSListen != "" {
		ln, err := net.Listen("tcp", cfg.IMAP.TLSListen)
		if err != nil {
			if s.imap.plain != nil {
				s.imap.plain.Close()
			}
			return fail(err)
		}
		s.imap.tls = ln
	}
	if ln := s.imap.plain; ln != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.errc <- srv.Serve(ln) }()
	}
	if ln := s.imap.tls; ln != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.errc <- srv.ServeTLS(ln) }()
	}
	return nil
}

func loopbackOnly(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

func (s *Server) closeIMAP() {
	if s.imap != nil {
		s.imap.srv.Close()
	}
}

// IMAPAddr is the plaintext/STARTTLS IMAP listener's address ("" when
// imap.listen is empty).
func (s *Server) IMAPAddr() string {
	if s.imap == nil || s.imap.plain == nil {
		return ""
	}
	return s.imap.plain.Addr().String()
}

// IMAPTLSAddr is the implicit-TLS IMAP listener's address ("" when
// imap.tls_listen is empty).
func (s *Server) IMAPTLSAddr() string {
	if s.imap == nil || s.imap.tls == nil {
		return ""
	}
	return s.imap.tls.Addr().String()
}
