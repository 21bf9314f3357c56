package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsExposition(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	m := New(Sources{
		Queue:        func() (int, time.Time, error) { return 7, now.Add(-90 * time.Second), nil },
		IMAPSessions: func() int { return 3 },
		Now:          func() time.Time { return now },
	})
	m.Post("recovery", "archived")
	m.Post("recovery", "archived")
	m.Post("recovery", "held")
	m.Refused("rcpt", "not_allowed")
	m.Delivery("delivered")
	m.Delivery("retry")
	m.Removed("recovery", 4)
	m.Bounce("suspended")
	code, body := get(t, m.Handler(), "/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, want := range []string{
		`listserv_posts_total{group="recovery",outcome="archived"} 2`,
		`listserv_posts_total{group="recovery",outcome="held"} 1`,
		`listserv_smtp_refused_total{reason="not_allowed",stage="rcpt"} 1`,
		`listserv_deliveries_total{outcome="delivered"} 1`,
		`listserv_deliveries_total{outcome="retry"} 1`,
		`listserv_posts_removed_total{group="recovery"} 4`,
		`listserv_bounces_total{what="suspended"} 1`,
		`listserv_queue_deliveries 7`,
		`listserv_queue_oldest_age_seconds 90`,
		`listserv_imap_sessions 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	var nilM *Metrics
	nilM.Post("x", "archived") // a nil *Metrics counts nothing and does not panic
}

func TestHealthz(t *testing.T) {
	var fail error
	m := New(Sources{Healthy: func(context.Context) error { return fail }})
	if code, body := get(t, m.Handler(), "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthy: %d %q", code, body)
	}
	fail = errors.New("store closed")
	if code, body := get(t, m.Handler(), "/healthz"); code != 503 || strings.Contains(body, "store closed") {
		t.Errorf("unhealthy: %d %q", code, body)
	}
}
