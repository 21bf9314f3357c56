// Package metrics owns listserv's operational numbers: the Prometheus
// metrics and the health check served on metrics.listen (/metrics and
// /healthz). It counts what the other packages report through plain
// hooks (the service's events, smtpin's refusals, the delivery queue's
// results) and reads the rest (queue depth and age, IMAP sessions) when
// scraped.
//
// No metric carries an address, a name, an alias, an IP or a subject:
// labels are fixed words (a refusal's reason, a delivery's outcome) and
// group names, which the operator chose. Metrics are per process and
// start at zero on every start, as Prometheus expects.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are read at each scrape.
type Sources struct {
	// Queue returns the number of queued deliveries and when the oldest
	// was queued (zero when none).
	Queue func() (n int, oldest time.Time, err error)
	// IMAPSessions returns the number of open IMAP sessions; nil when IMAP
	// is off.
	IMAPSessions func() int
	// Healthy checks that the store answers; nil means always healthy.
	Healthy func(ctx context.Context) error
	// Now is the clock for the queue's age; nil means time.Now.
	Now func() time.Time
}

// Metrics holds the counters. Its methods are safe for concurrent use
// and cheap: they are called on the paths they count.
type Metrics struct {
	reg     *prometheus.Registry
	src     Sources
	posts   *prometheus.CounterVec // group, outcome
	refused *prometheus.CounterVec // stage, reason
	deliv   *prometheus.CounterVec // outcome
	removed *prometheus.CounterVec // group
	bounces *prometheus.CounterVec // what
}

// New registers the metrics; src is read when /metrics is scraped.
func New(src Sources) *Metrics {
	if src.Now == nil {
		src.Now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), src: src}
	m.posts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "listserv_posts_total",
		Help: "Posts taken, by group and outcome (archived: relayed and archived; held: waiting for an admin).",
	}, []string{"group", "outcome"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "listserv_smtp_refused_total",
		Help: "Messages or recipients refused in the SMTP session, by stage (rcpt, data) and reason.",
	}, []string{"stage", "reason"})
	m.deliv = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "listserv_deliveries_total",
		Help: "Delivery attempts, by outcome (delivered, retry, failed).",
	}, []string{"outcome"})
	m.removed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "listserv_posts_removed_total",
		Help: "Posts removed from archives by erasure or retention, by group.",
	}, []string{"group"})
	m.bounces = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "listserv_bounces_total",
		Help: "Bounce handling, by what happened (suspended: delivery to a member was suspended).",
	}, []string{"what"})
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "listserv_queue_deliveries",
		Help: "Deliveries waiting in the queue.",
	}, func() float64 {
		n, _, err := m.queue()
		if err != nil {
			return -1
		}
		return float64(n)
	})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "listserv_queue_oldest_age_seconds",
		Help: "Age of the oldest queued delivery (0 when the queue is empty).",
	}, func() float64 {
		n, oldest, err := m.queue()
		if err != nil || n == 0 || oldest.IsZero() {
			return 0
		}
		return src.Now().Sub(oldest).Seconds()
	})
	m.reg.MustRegister(m.posts, m.refused, m.deliv, m.removed, m.bounces, queued, age,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if src.IMAPSessions != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "listserv_imap_sessions",
			Help: "Open IMAP sessions.",
		}, func() float64 { return float64(src.IMAPSessions()) }))
	}
	return m
}

func (m *Metrics) queue() (int, time.Time, error) {
	if m.src.Queue == nil {
		return 0, time.Time{}, nil
	}
	return m.src.Queue()
}

// Post counts a post taken by group: outcome "archived" or "held".
func (m *Metrics) Post(group, outcome string) {
	if m == nil {
		return
	}
	m.posts.WithLabelValues(group, outcome).Inc()
}

// Refused counts a refusal in the SMTP session at stage ("rcpt",
// "data") for reason (a fixed word, see listserv.Kind).
func (m *Metrics) Refused(stage, reason string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(stage, reason).Inc()
}

// Delivery counts a delivery attempt's outcome.
func (m *Metrics) Delivery(outcome string) {
	if m == nil {
		return
	}
	m.deliv.WithLabelValues(outcome).Inc()
}

// Removed counts posts removed from group's archive.
func (m *Metrics) Removed(group string, n int) {
	if m == nil {
		return
	}
	m.removed.WithLabelValues(group).Add(float64(n))
}

// Bounce counts what bounce handling did; "suspended" today.
func (m *Metrics) Bounce(what string) {
	if m == nil {
		return
	}
	m.bounces.WithLabelValues(what).Inc()
}

// Handler serves /metrics (Prometheus text format) and /healthz (200 "ok"
// when the store answers within a second, 503 otherwise).
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if m.src.Healthy != nil {
			ctx, cancel := context.WithTimeout(r.Context(), time.Second)
			defer cancel()
			if err := m.src.Healthy(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("unavailable\n"))
				return
			}
		}
		w.Write([]byte("ok\n"))
	})
	return mux
}
