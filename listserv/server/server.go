// Package server assembles a running listserv from a configuration: it
// opens the store, builds the service, the delivery queue and its
// transport, and starts the SMTP listener and the control socket. The
// command's `serve` and the end-to-end tests both start the service
// through Start, so tests exercise the same wiring an operator runs.
// With smtp.submission_listen it also starts the submission port: a
// second smtpin server in submission mode (AUTH with the archive
// credentials, STARTTLS with the tls certificate), and with
// smtp.lmtp_listen an LMTP listener for a front MTA (lmtp.go).
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"listserv/listserv"
	"listserv/listserv/cli"
	"listserv/listserv/config"
	"listserv/listserv/control"
	"listserv/listserv/delivery"
	"listserv/listserv/metrics"
	"listserv/listserv/senderauth"
	"listserv/listserv/smtpin"
	"listserv/mailstore"
	"listserv/templates"
)

// Options are what the configuration file does not say.
type Options struct {
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Transport replaces the configured one (tests).
	Transport delivery.Transport
	// OnDelivery is called after each delivery outcome is recorded.
	OnDelivery func(mailstore.Result)
	// Resolver replaces the one dns.resolver names, for sender
	// authentication and the mx transport (tests: an offline fake).
	Resolver senderauth.Resolver
}

// Server is a started service.
type Server struct {
	Store   *mailstore.DB
	Service *listserv.Service
	Queue   *delivery.Queue

	log         *slog.Logger
	smtp        *smtpin.Server
	smtpAddr    net.Addr
	sub         *smtpin.Server // the submission port (nil when off)
	subAddr     net.Addr
	lmtp        *smtpin.Server // the LMTP listener (nil when off; lmtp.go)
	lmtpAddr    net.Addr
	metrics     *metrics.Metrics // always counting; served on metrics.listen (metrics.go)
	httpm       *http.Server     // serves them (nil when metrics.listen is "")
	metricsAddr net.Addr
	ctl         *control.Server
	imap        *imapListeners
	stop        context.CancelFunc
	wg          sync.WaitGroup
	errc        chan error
	once        sync.Once
}

// NewTransport builds the configured delivery transport. The mx
// transport asks res, or the resolver dns.resolver names when res is nil
// (the same one sender authentication uses), and logs to log.
func NewTransport(cfg config.Config, res delivery.MXResolver, log *slog.Logger) delivery.Transport {
	if cfg.Delivery.Transport == "mx" {
		if res == nil {
			res = senderauth.NewResolver(cfg.DNS.Resolver)
		}
		return &delivery.MX{
			Hostname:     cfg.Hostname,
			Resolver:     res,
			MaxPerDomain: cfg.Delivery.MaxPerDomain,
			Port:         cfg.Delivery.MXPort,
			Logger:       log,
		}
	}
	if cfg.Delivery.Transport == "smarthost" {
		return &delivery.Smarthost{
			Addr:     cfg.Delivery.Smarthost,
			Hostname: cfg.Hostname,
			TLS:      cfg.Delivery.SmarthostTLS,
			Username: cfg.Delivery.SmarthostUsername,
			Password: cfg.Delivery.SmarthostPassword,
		}
	}
	return &delivery.Outbox{Dir: filepath.Join(cfg.DataDir, "outbox")}
}

// NewService builds the service over an open store (the server's, or a
// stopped data directory's for an admin command).
func NewService(cfg config.Config, store *mailstore.DB, log *slog.Logger) (*listserv.Service, error) {
	return newService(cfg, store, log, nil)
}

// SenderCheck is what sender_auth asks for: the From header trusted
// ("none") or DMARC-aligned DKIM or SPF ("dmarc") over res, or over the
// resolver dns.resolver names when res is nil.
func SenderCheck(cfg config.Config, res senderauth.Resolver) listserv.SenderCheck {
	if cfg.Auth.SenderAuth != "dmarc" {
		return listserv.AcceptFrom{}
	}
	if res == nil {
		res = senderauth.NewResolver(cfg.DNS.Resolver)
	}
	c := senderauth.New(res)
	c.TrustedAuthservID = cfg.Auth.TrustedAuthservID
	return c
}

func newService(cfg config.Config, store *mailstore.DB, log *slog.Logger, res senderauth.Resolver) (*listserv.Service, error) {
	imapPort := 0
	if _, p, err := net.SplitHostPort(cfg.IMAP.Listen); err == nil {
		imapPort, _ = strconv.Atoi(p)
	}
	signer, err := DKIMSigner(cfg)
	if err != nil {
		return nil, err
	}
	return listserv.New(listserv.Options{
		Store:        store,
		Domain:       cfg.Domain,
		Hostname:     cfg.Hostname,
		IMAPHost:     cfg.Hostname,
		IMAPPort:     imapPort,
		PasswordCost: cfg.Auth.PasswordCost,
		ConfirmTTL:   cfg.Tokens.ConfirmTTL.Duration,
		ApprovalTTL:  cfg.Tokens.ApprovalTTL.Duration,
		Templates:    templates.New(filepath.Join(cfg.DataDir, "templates")),
		Sender:       SenderCheck(cfg, res),
		DKIM:         signer,
		Logger:       log,
		Bounce: listserv.BounceRules{
			Threshold:  float64(cfg.Delivery.BounceThreshold),
			ResetAfter: time.Duration(cfg.Delivery.BounceResetDays) * 24 * time.Hour,
		},
	})
}

// maintain runs the service's periodic work (expiring held posts, purging
// old tokens, purging posts older than their group's archive_days,
// probing members whose delivery is suspended for bounces) until ctx
// ends.
func maintain(ctx context.Context, svc *listserv.Service, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for tick := 0; ; tick++ {
		if err := svc.ExpireHeld(ctx); err != nil {
			log.Error("maintenance failed", "err", err)
		}
		// Retention reads every post's date: a quarter of an hour is
		// precise enough for a limit counted in days.
		if tick%15 == 0 {
			if _, err := svc.PurgeArchives(ctx); err != nil && ctx.Err() == nil {
				log.Error("archive retention failed", "err", err)
			}
		}
		if err := svc.ProbeBouncing(ctx); err != nil && ctx.Err() == nil {
			log.Error("bounce probes failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Start opens cfg.DataDir and starts serving. A data directory that
// another process serves gives an error wrapping mailstore.ErrLocked.
func Start(cfg config.Config, opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	store, err := mailstore.Open(cfg.DataDir, mailstore.Options{})
	if errors.Is(err, mailstore.ErrLocked) {
		return nil, fmt.Errorf("another listserv is already serving %s: %w", cfg.DataDir, err)
	}
	if err != nil {
		return nil, err
	}
	s := &Server{Store: store, log: log, errc: make(chan error, 8)}
	if err := s.start(cfg, opts); err != nil {
		store.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(cfg config.Config, opts Options) error {
	log := s.log
	if cfg.Auth.SenderAuth == "none" {
		log.Warn("sender_auth is \"none\": anyone who knows a member's address can post as them; for development only")
	} else {
		resolver := cfg.DNS.Resolver
		if resolver == "" {
			resolver = "system"
		}
		log.Info("sender authentication", "sender_auth", cfg.Auth.SenderAuth, "dns_resolver", resolver)
	}
	svc, err := newService(cfg, s.Store, log, opts.Resolver)
	if err != nil {
		return err
	}
	s.Service = svc
	s.metrics = s.newMetrics()
	if err := svc.CheckTemplates(); err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	tr := opts.Transport
	if tr == nil {
		var res delivery.MXResolver
		if opts.Resolver != nil {
			res = opts.Resolver
		}
		tr = NewTransport(cfg, res, log)
	}
	s.Queue = delivery.New(delivery.Options{
		Store:        s.Store,
		Transport:    tr,
		Domain:       cfg.Domain,
		Workers:      cfg.Delivery.Workers,
		RetryInitial: cfg.Delivery.RetryInitial.Duration,
		RetryMax:     cfg.Delivery.RetryMax.Duration,
		GiveUpAfter:  cfg.Delivery.GiveUpAfter.Duration,
		Logger:       log,
		OnResult: func(r mailstore.Result) {
			svc.DeliveryResult(r) // a bounce probe delivered reactivates its member
			s.metrics.Delivery(deliveryOutcome(r.Outcome))
			if opts.OnDelivery != nil {
				opts.OnDelivery(r)
			}
		},
	})
	svc.SetWake(s.Queue.Wake)

	ln, err := net.Listen("tcp", cfg.SMTP.Listen)
	if err != nil {
		return err
	}
	s.smtpAddr = ln.Addr()
	s.smtp = smtpin.New(smtpin.Options{
		Service:         svc,
		Hostname:        cfg.Hostname,
		MaxMessageBytes: cfg.SMTP.MaxMessageBytes,
		DataTimeout:     cfg.SMTP.DataTimeout.Duration,
		Logger:          log,
		OnRefused:       s.metrics.Refused,

		MaxConnectionsPerIP:       cfg.SMTP.MaxConnectionsPerIP,
		ConnectionsPerMinutePerIP: cfg.SMTP.ConnectionsPerMinutePerIP,
		MaxErrorsPerConnection:    cfg.SMTP.MaxErrorsPerConnection,
	})
	// undo closes what start has opened so far, newest first, when a
	// later step fails.
	undo := []func(){func() { ln.Close() }}
	fail := func(err error) error {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return err
	}
	s.ctl, err = control.Listen(cfg.DataDir, func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return cli.Run(ctx, svc, args, stdout, stderr)
	}, log)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, func() { s.ctl.Close() })
	subLn, err := s.startSubmission(cfg)
	if err != nil {
		return fail(err)
	}
	if subLn != nil {
		undo = append(undo, func() { subLn.Close() })
	}
	lmtpLn, err := s.startLMTP(cfg)
	if err != nil {
		return fail(err)
	}
	if lmtpLn != nil {
		undo = append(undo, func() { lmtpLn.Close() })
	}
	if err := s.startIMAP(cfg); err != nil {
		return fail(err)
	}
	undo = append(undo, s.closeIMAP)
	httpm, metricsLn, err := s.startMetrics(cfg)
	if err != nil {
		return fail(err)
	}
	s.httpm = httpm
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Add(4)
	go func() { defer s.wg.Done(); maintain(ctx, svc, log) }()
	go func() { defer s.wg.Done(); s.errc <- s.Queue.Run(ctx) }()
	go func() { defer s.wg.Done(); s.errc <- s.smtp.Serve(ln) }()
	go func() { defer s.wg.Done(); s.errc <- s.ctl.Serve(ctx) }()
	if subLn != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.errc <- s.sub.Serve(subLn) }()
	}
	if lmtpLn != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.errc <- s.lmtp.Serve(lmtpLn) }()
	}
	if httpm != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.errc <- serveMetrics(httpm, metricsLn) }()
	}
	log.Info("listserv serving", "smtp", s.smtpAddr.String(), "imap", s.IMAPAddr(), "imaps", s.IMAPTLSAddr(), "submission", s.SubmissionAddr(), "lmtp", s.LMTPAddr(), "metrics", s.MetricsAddr(),
		"domain", cfg.Domain, "data_dir", cfg.DataDir, "transport", cfg.Delivery.Transport, "workers", cfg.Delivery.Workers)
	return nil
}

// SMTPAddr is the SMTP listener's address (useful with port 0).
func (s *Server) SMTPAddr() string { return s.smtpAddr.String() }

// Err delivers the first error a part of the server stops with.
func (s *Server) Err() <-chan error { return s.errc }

// Close stops accepting mail, lets open SMTP and submission sessions
// finish (up to 30 s), stops delivery after the messages in flight, and
// closes the store.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.log.Info("shutting down")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.smtp.Shutdown(ctx); err != nil {
			s.smtp.Close()
		}
		s.shutdownSubmission(ctx)
		s.shutdownLMTP(ctx)
		if s.httpm != nil {
			s.httpm.Shutdown(ctx)
		}
		s.ctl.Close()
		s.closeIMAP()
		s.stop()
		s.wg.Wait()
		s.Store.Close()
		s.log.Info("stopped")
	})
	return nil
}
