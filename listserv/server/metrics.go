package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"listserv/listserv"
	"listserv/listserv/config"
	"listserv/listserv/metrics"
	"listserv/mailstore"
)

// newMetrics builds the metrics and connects them to the service's
// events; the protocol servers and the delivery queue report through the
// hooks start wires. They count whether or not metrics.listen serves them.
func (s *Server) newMetrics() *metrics.Metrics {
	m := metrics.New(metrics.Sources{
		Queue: s.Store.QueueStats,
		IMAPSessions: func() int {
			if s.imap == nil {
				return 0
			}
			return s.imap.srv.Sessions()
		},
		Healthy: func(context.Context) error {
			_, err := s.Store.Groups()
			return err
		},
	})
	s.Service.Subscribe(func(e listserv.Event) {
		switch e.Kind {
		case listserv.PostArchived:
			m.Post(e.Group, "archived")
		case listserv.PostHeld:
			m.Post(e.Group, "held")
		case listserv.PostsRemoved:
			m.Removed(e.Group, len(e.UIDs))
		case listserv.MemberSuspended:
			m.Bounce("suspended")
		}
	})
	return m
}

// deliveryOutcome names a delivery result for the metrics.
func deliveryOutcome(o mailstore.Outcome) string {
	switch o {
	case mailstore.Delivered:
		return "delivered"
	case mailstore.Retry:
		return "retry"
	}
	return "failed"
}

// startMetrics listens on metrics.listen ("" = off) and returns the
// HTTP server serving /metrics and /healthz, not yet serving.
func (s *Server) startMetrics(cfg config.Config) (*http.Server, net.Listener, error) {
	if cfg.Metrics.Listen == "" {
		return nil, nil, nil
	}
	ln, err := net.Listen("tcp", cfg.Metrics.Listen)
	if err != nil {
		return nil, nil, err
	}
	s.metricsAddr = ln.Addr()
	return &http.Server{
		Handler:           s.metrics.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          nil,
	}, ln, nil
}

// serveMetrics serves until Shutdown; http.ErrServerClosed is a clean stop.
func serveMetrics(h *http.Server, ln net.Listener) error {
	if err := h.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// MetricsAddr is the metrics listener's address ("" when off).
func (s *Server) MetricsAddr() string {
	if s.metricsAddr == nil {
		return ""
	}
	return s.metricsAddr.String()
}
