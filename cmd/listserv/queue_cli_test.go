package main

import (
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"listserv/internal/smtpsink"
	"listserv/listserv/config"
	"listserv/listserv/server"
)

// TestQueueListCLI: a smarthost answering 451 to every message leaves the
// welcomes and a post queued; `queue list` shows them by member id and
// alias with the reply code, through the control socket and on the
// stopped data directory alike, and names addresses only with
// -addresses.
func TestQueueListCLI(t *testing.T) {
	sink := crashStartSink(t, smtpsink.Faults{TempFailEvery: 1})
	cfgPath := crashWriteConfig(t, crashConf{
		DataDir: filepath.Join(t.TempDir(), "data"), SMTP: "127.0.0.1:0", Sink: sink.Addr(),
		Workers: 2, RetryInitial: "1h", RetryMax: "4h",
	})
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := crashRun(cfgPath, "group", "create", "-join", "open", crashGroup); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			srv.Close()
		}
	}()
	members := []string{"ann@example.net", "bob@example.net", "cyd@example.com"}
	crashAddMembers(t, cfgPath, members, 1)
	if err := crashPost(srv.SMTPAddr(), members[0], crashGroup+"@"+crashDomain, "queued post"); err != nil {
		t.Fatal(err)
	}
	// 3 welcomes and 3 copies, each tried once and deferred.
	deadline := time.Now().Add(10 * time.Second)
	for {
		jobs, err := srv.Store.QueuedJobs()
		if err != nil {
			t.Fatal(err)
		}
		tried := 0
		for _, j := range jobs {
			if j.Attempts > 0 {
				tried++
			}
		}
		if len(jobs) == 6 && tried == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs queued, %d tried; want 6 and 6", len(jobs), tried)
		}
		time.Sleep(10 * time.Millisecond)
	}
	aliases := map[string]string{} // member id → alias
	list := cliOK(t, "-config", cfgPath, "member", "list", crashGroup)
	for _, row := range strings.Split(strings.TrimSpace(list), "\n") {
		f := strings.Split(row, "\t")
		m, err := srv.Store.MemberByAddr(crashGroup, f[0])
		if err != nil {
			t.Fatal(err)
		}
		aliases[strconv.FormatUint(m.ID, 10)] = f[1]
	}

	rowRE := regexp.MustCompile(`^(\d+)\tg\t(\d+)\t([^\t]+)\t1\t(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\t451 4\.3\.0\t(\d+s|\d+m)$`)
	check := func(out string, addresses bool) {
		t.Helper()
		rows := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(rows) != 6 {
			t.Fatalf("queue list printed %d rows, want 6:\n%s", len(rows), out)
		}
		for _, row := range rows {
			base := row
			if addresses {
				f := strings.Split(row, "\t")
				if len(f) != 10 || !strings.Contains(strings.Join(members, " "), f[8]) || !strings.HasPrefix(f[9], "451 4.3.0 ") {
					t.Errorf("queue list -addresses row %q: want the address and the full error after the usual columns", row)
					continue
				}
				base = strings.Join(f[:8], "\t")
			}
			m := rowRE.FindStringSubmatch(base)
			if m == nil {
				t.Errorf("queue list row %q, want id, group, member id, alias, 1 attempt, next attempt, 451 4.3.0, age", row)
				continue
			}
			if aliases[m[2]] != m[3] {
				t.Errorf("row %q: member %s has alias %q", row, m[2], aliases[m[2]])
			}
			due, _ := time.Parse(time.RFC3339, m[4])
			if d := time.Until(due); d < 50*time.Minute || d > 61*time.Minute {
				t.Errorf("row %q: next attempt in %v, want about an hour", row, d)
			}
		}
		if addresses {
			return
		}
		for _, a := range append(members, "example.net", "example.com") {
			if strings.Contains(out, a) {
				t.Errorf("queue list names %s without -addresses:\n%s", a, out)
			}
		}
	}
	running := cliOK(t, "-config", cfgPath, "queue", "list")
	t.Logf("queue list:\n%s", running)
	check(running, false)
	check(cliOK(t, "-config", cfgPath, "queue", "list", "-addresses", crashGroup), true)
	if got := cliOK(t, "-config", cfgPath, "queue", "list", "-failed"); got != "" {
		t.Errorf("queue list -failed printed %q, want nothing", got)
	}
	cliRefused(t, "not found", "-config", cfgPath, "queue", "list", "nosuchgroup")
	cliUsage(t, "want at most GROUP", "-config", cfgPath, "queue", "list", "g", "h")
	cliUsage(t, "flag provided but not defined", "-config", cfgPath, "queue", "list", "-verbose")

	// Stopped: the same list from the data directory.
	srv.Close()
	closed = true
	stopped := cliOK(t, "-config", cfgPath, "queue", "list")
	check(stopped, false)
	cut := func(s string) string { return regexp.MustCompile(`\t[^\t\n]+\n`).ReplaceAllString(s, "\n") } // drop the age
	if cut(stopped) != cut(running) {
		t.Errorf("on the stopped directory queue list printed\n%s\nthrough the server\n%s", stopped, running)
	}
}
