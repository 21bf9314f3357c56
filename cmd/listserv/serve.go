package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"listserv/listserv"
	"listserv/listserv/config"
	"listserv/listserv/control"
	"listserv/listserv/delivery"
	"listserv/listserv/smtpin"
	"listserv/mailstore"
	"listserv/templates"
)

// localEnv is a service over a data directory opened by this process.
type localEnv struct {
	store *mailstore.DB
	svc   *listserv.Service
}

func (e *localEnv) close() { e.store.Close() }

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openLocal opens the data directory for an admin command (no server).
func openLocal(cfg config.Config) (*localEnv, error) {
	store, err := mailstore.Open(cfg.DataDir, mailstore.Options{})
	if err != nil {
		return nil, err
	}
	svc, err := listserv.New(listserv.Options{
		Store:     store,
		Domain:    cfg.Domain,
		Hostname:  cfg.Hostname,
		Templates: templates.New(filepath.Join(cfg.DataDir, "templates")),
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &localEnv{store: store, svc: svc}, nil
}

// unavailable lists settings this version cannot honour: starting
// without them would silently weaken what the operator asked for.
func unavailable(cfg config.Config) error {
	var errs []error
	no := func(key string) { errs = append(errs, fmt.Errorf("%s is not available in this version", key)) }
	if cfg.SMTP.SubmissionListen != "" {
		no("smtp.submission_listen")
	}
	if cfg.SMTP.LMTPListen != "" {
		no("smtp.lmtp_listen")
	}
	if cfg.IMAP.TLSListen != "" {
		no("imap.tls_listen")
	}
	if cfg.Delivery.Transport == "mx" {
		no("delivery.transport = \"mx\"")
	}
	if cfg.Auth.SenderAuth != "none" {
		no("auth.sender_auth = \"" + cfg.Auth.SenderAuth + "\"")
	}
	if cfg.DKIM.KeyFile != "" {
		no("dkim.key_file")
	}
	if cfg.Metrics.Listen != "" {
		no("metrics.listen")
	}
	return errors.Join(errs...)
}

func transport(cfg config.Config) delivery.Transport {
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

// serve runs the service until ctx ends.
func serve(ctx context.Context, cfg config.Config, logw io.Writer) error {
	if err := unavailable(cfg); err != nil {
		return err
	}
	log := newLogger(cfg, logw)
	store, err := mailstore.Open(cfg.DataDir, mailstore.Options{})
	if errors.Is(err, mailstore.ErrLocked) {
		return fmt.Errorf("another listserv is already serving %s", cfg.DataDir)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	log.Warn("sender_auth is \"none\": anyone who knows a member's address can post as them; for development only")

	svc, err := listserv.New(listserv.Options{
		Store:     store,
		Domain:    cfg.Domain,
		Hostname:  cfg.Hostname,
		Templates: templates.New(filepath.Join(cfg.DataDir, "templates")),
		Logger:    log,
	})
	if err != nil {
		return err
	}
	queue := delivery.New(delivery.Options{
		Store:        store,
		Transport:    transport(cfg),
		Domain:       cfg.Domain,
		Workers:      cfg.Delivery.Workers,
		RetryInitial: cfg.Delivery.RetryInitial.Duration,
		RetryMax:     cfg.Delivery.RetryMax.Duration,
		GiveUpAfter:  cfg.Delivery.GiveUpAfter.Duration,
		Logger:       log,
	})
	svc.SetWake(queue.Wake)

	ln, err := net.Listen("tcp", cfg.SMTP.Listen)
	if err != nil {
		return err
	}
	smtpSrv := smtpin.New(smtpin.Options{
		Service:         svc,
		Hostname:        cfg.Hostname,
		MaxMessageBytes: cfg.SMTP.MaxMessageBytes,
		DataTimeout:     cfg.SMTP.DataTimeout.Duration,
		Logger:          log,
	})
	ctl, err := control.Listen(cfg.DataDir, func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return runCommand(ctx, svc, args, stdout, stderr)
	}, log)
	if err != nil {
		ln.Close()
		return err
	}

	qctx, stopQueue := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	wg.Add(3)
	go func() { defer wg.Done(); errc <- queue.Run(qctx) }()
	go func() { defer wg.Done(); errc <- smtpSrv.Serve(ln) }()
	go func() { defer wg.Done(); errc <- ctl.Serve(qctx) }()
	log.Info("listserv serving", "smtp", ln.Addr().String(), "domain", cfg.Domain, "data_dir", cfg.DataDir,
		"transport", cfg.Delivery.Transport, "workers", cfg.Delivery.Workers)
	if cfg.IMAP.Listen != "" {
		log.Warn("the IMAP archive is not available in this version; imap.listen is ignored", "imap", cfg.IMAP.Listen)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := smtpSrv.Shutdown(sctx); err != nil {
		smtpSrv.Close()
	}
	ctl.Close()
	stopQueue()
	wg.Wait()
	log.Info("stopped")
	return runErr
}
