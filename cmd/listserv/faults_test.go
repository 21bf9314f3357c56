package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"listserv/internal/smtpsink"
	"listserv/listserv/config"
	"listserv/listserv/server"
	"listserv/mailstore"
)

// TestFaults delivers through a smarthost that answers 451 to every
// third DATA and drops the connection at every seventh: every delivery
// must still arrive (retried with backoff), none given up. The server
// runs in this process (so the race detector watches the delivery code
// under faults); members are added with the CLI through its control
// socket.
func TestFaults(t *testing.T) {
	const (
		nMembers = 50
		nPosts   = 3
	)
	sink := crashStartSink(t, smtpsink.Faults{TempFailEvery: 3, DropEvery: 7})
	dir := t.TempDir()
	cfgPath := crashWriteConfig(t, crashConf{
		DataDir: filepath.Join(dir, "data"), SMTP: "127.0.0.1:0", Sink: sink.Addr(),
		Workers: 8, RetryInitial: "20ms", RetryMax: "200ms",
	})
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := crashRun(cfgPath, "group", "create", "-join", "open", crashGroup); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	outcomes := map[mailstore.Outcome]int{}
	maxAttempts := 0
	srv, err := server.Start(cfg, server.Options{
		Logger: slog.New(slog.DiscardHandler),
		OnDelivery: func(r mailstore.Result) {
			mu.Lock()
			outcomes[r.Outcome]++
			maxAttempts = max(maxAttempts, r.Job.Attempts+1)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	members := crashMembers(nMembers)
	crashAddMembers(t, cfgPath, members, 8)
	var posts []string
	for i := 0; i < nPosts; i++ {
		tok := fmt.Sprintf("faults-p%d", i)
		if err := crashPost(srv.SMTPAddr(), members[i], crashGroup+"@"+crashDomain, tok+" through a flaky smarthost"); err != nil {
			t.Fatalf("post %s was not accepted: %v", tok, err)
		}
		posts = append(posts, tok)
	}

	tally := newCrashTally()
	deadline := time.Now().Add(15 * time.Second)
	for {
		tally.add(sink.MessagesFrom(tally.seen))
		miss := tally.missing(posts, members)
		mw := tally.missingWelcomes(members)
		if len(miss) == 0 && mw == 0 {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("copies still missing after 15s: %v (per post), welcomes missing: %d; outcomes so far: %v",
				miss, mw, outcomes)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The last outcomes are committed just after the sink's 250.
	for {
		n, _, err := srv.Store.QueueStats()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs still queued after every copy arrived", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	failed, err := srv.Store.FailedJobs()
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	tally.add(sink.MessagesFrom(tally.seen))

	mu.Lock()
	defer mu.Unlock()
	datas, temps, drops := sink.Stats()
	dups, distinct := tally.duplicates()
	attempts := outcomes[mailstore.Delivered] + outcomes[mailstore.Retry] + outcomes[mailstore.Failed]
	t.Logf("%d deliveries (%d posts x %d members + %d welcomes): %d attempts recorded (%d delivered, %d deferred, %d failed; at most %d attempts for one job); sink saw %d DATA, answered 451 %d times, dropped %d connections; %d duplicates",
		distinct, len(posts), nMembers, len(tally.welcomes), attempts, outcomes[mailstore.Delivered],
		outcomes[mailstore.Retry], outcomes[mailstore.Failed], maxAttempts, datas, temps, drops, dups)
	if temps == 0 || drops == 0 {
		t.Errorf("the sink's faults did not trigger (451: %d, drops: %d): the test proves nothing", temps, drops)
	}
	if outcomes[mailstore.Failed] > 0 || len(failed) > 0 {
		t.Errorf("%d deliveries given up (%d in the failed list) although every failure was temporary",
			outcomes[mailstore.Failed], len(failed))
	}
	if outcomes[mailstore.Delivered] != distinct+dups {
		t.Errorf("%d deliveries recorded as delivered, but the sink accepted %d", outcomes[mailstore.Delivered], distinct+dups)
	}
	if len(tally.other) > 0 || tally.badSender > 0 {
		t.Errorf("unexpected messages at the sink: %d unclassified (%v), %d without a VERP sender", len(tally.other), tally.other, tally.badSender)
	}
	if dups*10 > distinct {
		t.Errorf("%d duplicates in %d deliveries: more than 10%%", dups, distinct)
	}
}
