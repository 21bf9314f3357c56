package server

import (
	"context"
	"net"

	"listserv/listserv/config"
	"listserv/listserv/smtpin"
)

// startSubmission opens smtp.submission_listen (if set) with a second
// smtpin server in submission mode: AUTH with the archive credentials,
// STARTTLS when a certificate is set. The caller starts serving it.
func (s *Server) startSubmission(cfg config.Config) (net.Listener, error) {
	if cfg.SMTP.SubmissionListen == "" {
		return nil, nil
	}
	tlsConf, err := loadTLS(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.SMTP.SubmissionListen)
	if err != nil {
		return nil, err
	}
	if tlsConf == nil && !loopbackOnly(ln.Addr()) {
		s.log.Warn("smtp.submission_listen is not on loopback and no TLS certificate is set: remote clients cannot authenticate",
			"submission", cfg.SMTP.SubmissionListen)
	}
	s.sub = smtpin.New(smtpin.Options{
		Service:         s.Service,
		Hostname:        cfg.Hostname,
		MaxMessageBytes: cfg.SMTP.MaxMessageBytes,
		DataTimeout:     cfg.SMTP.DataTimeout.Duration,
		Logger:          s.log.With("listener", "submission"),
		OnRefused:       s.metrics.Refused,
		Submission:      true,
		TLS:             tlsConf,

		MaxConnectionsPerIP:       cfg.SMTP.MaxConnectionsPerIP,
		ConnectionsPerMinutePerIP: cfg.SMTP.ConnectionsPerMinutePerIP,
		MaxErrorsPerConnection:    cfg.SMTP.MaxErrorsPerConnection,
	})
	s.subAddr = ln.Addr()
	return ln, nil
}

// SubmissionAddr is the submission listener's address ("" when
// smtp.submission_listen is empty).
func (s *Server) SubmissionAddr() string {
	if s.subAddr == nil {
		return ""
	}
	return s.subAddr.String()
}

// shutdownSubmission stops the submission server, letting its sessions
// finish within ctx like the port-25 ones.
func (s *Server) shutdownSubmission(ctx context.Context) {
	if s.sub != nil {
		if err := s.sub.Shutdown(ctx); err != nil {
			s.sub.Close()
		}
	}
}
