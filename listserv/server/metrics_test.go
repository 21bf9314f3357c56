package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"listserv/listserv/config"
)

// scrape fetches the metrics endpoint's /metrics or /healthz.
func scrape(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// metricValue returns the value of the sample line that starts with
// series, or -1.
func metricValue(body, series string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// /metrics moves when posts flow: an accepted post, its deliveries, a
// refused recipient, the queue; /healthz answers; nothing in it names a
// member.
func TestMetricsMoveWithPosts(t *testing.T) {
	e := newEnv(t, setup{sink: true, config: func(c *config.Config) { c.Metrics.Listen = "127.0.0.1:0" }})
	e.fixture()
	addr := e.srv.MetricsAddr()
	if addr == "" {
		t.Fatal("metrics.listen set, but no metrics listener")
	}
	if code, body := scrape(t, addr, "/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	_, before := scrape(t, addr, "/metrics")
	if v := metricValue(before, `listserv_posts_total{group="recovery",outcome="archived"}`); v > 0 {
		t.Fatalf("posts counted before any post: %v", v)
	}

	e.post(aliceAddr, []byte("From: <"+aliceAddr+">\r\nSubject: counted\r\n\r\nHello.\r\n"))
	st, err := e.send(aliceAddr, []string{"nosuchgroup@" + testDomain}, []byte("Subject: x\r\n\r\nx\r\n"))
	if st == stepOK {
		t.Fatalf("unknown group accepted (%v)", err)
	}
	e.waitPosts("counted", 3)

	_, body := scrape(t, addr, "/metrics")
	for series, want := range map[string]float64{
		`listserv_posts_total{group="recovery",outcome="archived"}`:            1,
		`listserv_smtp_refused_total{reason="no_such_recipient",stage="rcpt"}`: 1,
		`listserv_deliveries_total{outcome="delivered"}`:                       3,
		`listserv_queue_deliveries`:                                            0,
	} {
		if got := metricValue(body, series); got < want || series == `listserv_queue_deliveries` && got != 0 {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	for _, s := range []string{aliceAddr, brunoAddr, carmenAddr, "example.org", "127.0.0.1"} {
		if strings.Contains(body, s) {
			t.Errorf("/metrics names %q", s)
		}
	}
}
