package main

import (
	"context"
	"io"
	"log/slog"

	"listserv/listserv/config"
	"listserv/listserv/server"
)

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the service until ctx ends (SIGINT, SIGTERM).
func serve(ctx context.Context, cfg config.Config, logw io.Writer) error {
	srv, err := server.Start(cfg, server.Options{Logger: newLogger(cfg, logw)})
	if err != nil {
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-srv.Err():
	}
	srv.Close()
	return runErr
}
