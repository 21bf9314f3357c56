package bench

import (
	"fmt"
	"testing"
	"time"
)

// Sizes of the measured rounds (see the package doc).
const (
	ingestMembers = 100
	ingestPosts   = 1000 // per op
	fanoutMembers = 1000
	fanoutPosts   = 100 // per op: 100,000 deliveries
	baselineSends = fanoutMembers * fanoutPosts
)

func BenchmarkIngest(b *testing.B) {
	for _, senders := range []int{1, 8} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			h := newHarnessWith(b, ingestMembers, 8, &discard{})
			b.ResetTimer()
			var took time.Duration
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				d, err := h.ingest(senders, ingestPosts)
				if err != nil {
					b.Fatal(err)
				}
				took += d
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*ingestPosts)/took.Seconds(), "posts/s")
			b.ReportMetric(perMicro(cpuTime()-cpu0, b.N*ingestPosts), "cpu-µs/post")
		})
	}
}

func BenchmarkFanout(b *testing.B) {
	for _, workers := range []int{8, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			h := newHarness(b, fanoutMembers, workers)
			b.ResetTimer()
			var posting, total time.Duration
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				p, t, err := h.fanout(fanoutPosts, 10*time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				posting += p
				total += t
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*fanoutPosts*fanoutMembers)/total.Seconds(), "deliveries/s")
			b.ReportMetric(float64(b.N*fanoutPosts)/posting.Seconds(), "posts/s")
			b.ReportMetric(perMicro(cpuTime()-cpu0, b.N*fanoutPosts*fanoutMembers), "cpu-µs/delivery")
		})
	}
}

func BenchmarkSinkBaseline(b *testing.B) {
	for _, conns := range []int{8, 16} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			sk := startSink(b)
			msg := deliveredCopy()
			b.ResetTimer()
			var took time.Duration
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				d, err := baseline(sk, conns, baselineSends, msg)
				if err != nil {
					b.Fatal(err)
				}
				took += d
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*baselineSends)/took.Seconds(), "deliveries/s")
			b.ReportMetric(perMicro(cpuTime()-cpu0, b.N*baselineSends), "cpu-µs/delivery")
		})
	}
}

// perMicro is d in microseconds per unit.
func perMicro(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }

// deliveredCopy approximates what fan-out sends: the post plus the
// headers the list adds (List-*, Reply-To, a pseudonymous From).
func deliveredCopy() []byte {
	extra := "List-Id: <g.lists.bench>\r\nList-Post: <mailto:g@lists.bench>\r\n" +
		"List-Help: <mailto:g-request@lists.bench?subject=help>\r\nList-Unsubscribe: <mailto:g-leave@lists.bench>\r\n" +
		"List-Archive: <imap://listserv.bench/g>\r\nPrecedence: list\r\nReply-To: <g@lists.bench>\r\n"
	return append([]byte(extra), message("quiet-heron@lists.bench")...)
}

// TestHarnessSmoke runs a tiny version of each benchmark, so that plain
// `go test ./...` checks the harness: 5 members x 2 posts of fan-out, a
// few ingested posts with 2 senders, and a short baseline.
func TestHarnessSmoke(t *testing.T) {
	h := newHarness(t, 5, 2)
	if _, _, err := h.fanout(2, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := h.sink.Count(), 5+2*5; got != want {
		t.Errorf("sink counted %d deliveries, want %d (5 welcomes + 2 posts x 5 members)", got, want)
	}
	if _, err := h.ingest(2, 6); err != nil {
		t.Fatal(err)
	}
	if n, err := h.srv.Store.ArchiveCount(group); err != nil || n != 8 {
		t.Errorf("archive holds %d posts (%v), want 8", n, err)
	}
	if !h.sink.WaitCount(5+8*5, 30*time.Second) {
		t.Errorf("sink counted %d deliveries, want %d", h.sink.Count(), 5+8*5)
	}
	sk := startSink(t)
	if _, err := baseline(sk, 3, 20, deliveredCopy()); err != nil {
		t.Fatal(err)
	}
	if got := sk.Count(); got != 20 {
		t.Errorf("baseline sink counted %d, want 20", got)
	}
}
