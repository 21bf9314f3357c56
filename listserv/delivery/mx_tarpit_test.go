package delivery

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// A domain whose exchanger accepts TCP and never greets (a tarpit) must
// not hold every worker: after one attempt times out, the other jobs for
// it are deferred at once, and a healthy domain's job behind them goes
// out after about one timeout, not one per job.
func TestTarpitDomainDoesNotStallOthers(t *testing.T) {
	n := newMXNet(t)
	good := n.host("127.0.0.2", nil)
	ln := n.listen("127.0.0.4")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c // never greets
		}
	}()
	n.mx("good.example", "h-127.0.0.2", 10)
	n.mx("dead.example", "h-127.0.0.4", 10)
	tr := n.transport()
	tr.CommandTimeout = 500 * time.Millisecond
	tr.MaxPerDomain = 2
	const workers = 4
	jobs := make(chan string, 100)
	for i := range 16 {
		jobs <- fmt.Sprintf("m%d@dead.example", i)
	}
	jobs <- "alice@good.example"
	close(jobs)
	start := time.Now()
	var goodAt time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := tr.Dial(context.Background())
			defer c.Close()
			for to := range jobs {
				err := c.Send(context.Background(), "g@lists.test", to, []byte("Subject: x\r\n\r\nx\r\n"))
				if to == "alice@good.example" {
					mu.Lock()
					goodAt = time.Since(start)
					mu.Unlock()
					if err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(good.messages()) != 1 {
		t.Errorf("the healthy domain got %d messages, want 1", len(good.messages()))
	}
	if goodAt > 2*tr.CommandTimeout {
		t.Errorf("a healthy domain's job waited %v behind a dead domain (command timeout %v): every worker was stuck on dead.example", goodAt, tr.CommandTimeout)
	}
}
