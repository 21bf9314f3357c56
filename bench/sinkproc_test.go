package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"listserv/internal/smtpsink"
)

// BENCH_SINK=process runs the SMTP sink in a child process (this test
// binary again, running TestSinkProcess), so that the benchmarks' CPU
// per delivery counts listserv's side alone, as in production, where the
// receiving servers are other machines. The two still share the
// machine's cores, so wall-clock rates stay comparable only within one
// mode.

// sink is what the benchmarks need of the receiving side.
type sink interface {
	Addr() string
	Count() int
	WaitCount(n int, d time.Duration) bool
}

// startSink starts a counting sink that keeps no bytes (smtpsink with
// Discard), in this process or, with BENCH_SINK=process, in a child; it
// stops with the benchmark.
func startSink(tb testing.TB) sink {
	tb.Helper()
	if os.Getenv("BENCH_SINK") == "process" {
		return startProcessSink(tb)
	}
	s, err := smtpsink.Start(smtpsink.Faults{Discard: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestSinkProcess is the child's side: with LISTSERV_BENCH_SINK_CHILD=1
// it serves a discarding sink, prints its address, and answers each line
// on stdin with the count so far, until stdin closes.
func TestSinkProcess(t *testing.T) {
	if os.Getenv("LISTSERV_BENCH_SINK_CHILD") != "1" {
		t.Skip("only run as the child of BENCH_SINK=process")
	}
	s, err := smtpsink.Start(smtpsink.Faults{Discard: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fmt.Printf("addr %s\n", s.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("count %d\n", s.Count())
	}
}

// processSink talks to the child.
type processSink struct {
	addr string
	mu   sync.Mutex
	in   io.Writer
	out  *bufio.Reader
}

func startProcessSink(tb testing.TB) *processSink {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSinkProcess$")
	cmd.Env = append(os.Environ(), "LISTSERV_BENCH_SINK_CHILD=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { in.Close(); cmd.Wait() })
	p := &processSink{in: in, out: bufio.NewReader(outPipe)}
	line, err := p.out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if err != nil || !ok {
		tb.Fatalf("sink process: %q %v", line, err)
	}
	p.addr = addr
	return p
}

func (p *processSink) Addr() string { return p.addr }

func (p *processSink) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.in, "count?")
	for {
		line, err := p.out.ReadString('\n')
		if err != nil {
			return -1
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "count "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
}

func (p *processSink) WaitCount(n int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if p.Count() >= n {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}
