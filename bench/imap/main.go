// Command imap compares listserv's IMAP archive with Dovecot on the same
// messages, in one run, and prints the ratios (issue 3's targets):
//
//   - mbsync full download of the group into an empty Maildir;
//   - UID FETCH 1:* (FLAGS ENVELOPE);
//   - UID SEARCH TEXT word, UID SEARCH FROM address;
//   - resident memory of the serving process after all of it.
//
// It generates an archive (internal/corpus: realistic mixed MIME, about
// 4 KB a post), loads it into a listserv data directory through the
// store (indexed as the post path would) and into a Maildir for Dovecot,
// starts the listserv binary (`listserv serve`) and Dovecot (from a
// configuration in the work directory, on a loopback port, not as a
// system service), warms both up (one SELECT and one FETCH each), then
// times each command -runs times and reports medians. The commands are
// sent by a bare IMAP connection that only finds where each response
// ends, so the times are the servers', not a client library's.
//
// Run it from the repository root through bench/imap/run.sh, which
// installs dovecot-imapd and isync when apt-get is available.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"
)

func main() {
	n := flag.Int("n", 10000, "posts in the archive")
	runs := flag.Int("runs", 5, "repetitions of each timed measure (the median is reported)")
	keep := flag.Bool("keep", false, "keep the work directory")
	bin := flag.String("listserv", "", "listserv binary (default: build ./cmd/listserv)")
	verbose = flag.Bool("v", false, "print every run's time")
	flag.Parse()
	log.SetFlags(0)

	work, err := os.MkdirTemp("", "listserv-imap-bench")
	check(err)
	check(os.Chmod(work, 0o755)) // Dovecot's mail user must reach the Maildir
	if !*keep {
		defer os.RemoveAll(work)
	} else {
		log.Printf("work directory: %s", work)
	}
	if *bin == "" {
		*bin = filepath.Join(work, "listserv")
		out, err := exec.Command("go", "build", "-o", *bin, "./cmd/listserv").CombinedOutput()
		if err != nil {
			log.Fatalf("go build ./cmd/listserv: %v\n%s", err, out)
		}
	}

	log.Printf("generating %d posts...", *n)
	a, err := prepare(work, *n)
	check(err)
	log.Printf("archive: %d posts, %.1f MB; search word %q, from %q", *n, float64(a.bytes)/1e6, a.word, a.from)
	if st, err := os.Stat(filepath.Join(a.dataDir, "listserv.db")); err == nil {
		log.Printf("listserv database: %.1f MB", float64(st.Size())/1e6)
	}

	ls, err := startListserv(work, *bin, a)
	check(err)
	defer ls.stop()
	dv, err := startDovecot(work, a)
	check(err)
	defer dv.stop()

	results := []result{
		measure("mbsync full download (s)", *runs, a, ls, dv, mbsyncTime),
		measure("UID FETCH 1:* (FLAGS ENVELOPE) (s)", *runs, a, ls, dv, commandTime("UID FETCH 1:* (FLAGS ENVELOPE)")),
		measure("UID SEARCH TEXT word (s)", *runs, a, ls, dv, commandTime(fmt.Sprintf("UID SEARCH TEXT %q", a.word))),
		measure("UID SEARCH FROM address (s)", *runs, a, ls, dv, commandTime(fmt.Sprintf("UID SEARCH FROM %q", a.from))),
	}
	report(results, a, ls, dv)
}

var verbose *bool

// server is a running IMAP server under test.
type server struct {
	name string
	addr string
	pid  int
	stop func()
	// rss reads the resident memory of what serves a session, in bytes.
	rss func() (total, anon int64)
}

type result struct {
	name         string
	dovecot, our time.Duration
}

// measure runs f -runs times on each server and keeps the medians.
func measure(name string, runs int, a *archive, ls, dv *server, f func(*archive, *server) (time.Duration, error)) result {
	r := result{name: name}
	var all []time.Duration
	for _, s := range []*server{dv, ls} {
		var ds []time.Duration
		for i := 0; i < runs; i++ {
			d, err := f(a, s)
			if err != nil {
				log.Fatalf("%s on %s: %v", name, s.name, err)
			}
			ds = append(ds, d)
		}
		all = append(all, ds...)
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		if s == dv {
			r.dovecot = ds[len(ds)/2]
		} else {
			r.our = ds[len(ds)/2]
		}
	}
	log.Printf("%-38s dovecot %9.4f  listserv %9.4f", name, r.dovecot.Seconds(), r.our.Seconds())
	if *verbose {
		log.Printf("  runs: %v", all)
	}
	return r
}

func report(results []result, a *archive, ls, dv *server) {
	targets := map[string]string{
		results[0].name: "≤ 0.8× Dovecot",
		results[1].name: "≤ Dovecot",
		results[2].name: "≤ 5 ms",
		results[3].name: "≤ 5 ms",
	}
	fmt.Printf("\n%d posts, %.1f MB of mixed MIME; medians of each measure\n\n", a.n, float64(a.bytes)/1e6)
	fmt.Printf("%-38s %10s %10s %8s  %s\n", "measure", "dovecot", "listserv", "ratio", "target")
	for _, r := range results {
		fmt.Printf("%-38s %10.4f %10.4f %8.2f  %s\n", r.name, r.dovecot.Seconds(), r.our.Seconds(), r.our.Seconds()/r.dovecot.Seconds(), targets[r.name])
	}
	lt, la := ls.rss()
	dt, da := dv.rss()
	fmt.Printf("%-38s %10.1f %10.1f %8.2f  %s\n", "resident memory (MiB)", mib(dt), mib(lt), float64(lt)/float64(dt), "≤ 32 MiB")
	fmt.Printf("%-38s %10.1f %10.1f\n", "  of which anonymous (MiB)", mib(da), mib(la))
	fmt.Printf("%-38s %10s %10.1f\n", "  of which the mapped database (MiB)", "-", mib(mappedRSS(ls.pid, "listserv.db")))
	fmt.Println("\nlistserv's resident memory is its one process; Dovecot's is the session's imap")
	fmt.Println("process. bbolt maps the database file: the pages a client read stay counted in")
	fmt.Println("listserv's RSS although they are page cache (shared, evicted under pressure);")
	fmt.Println("Dovecot reads its files with read(), so the same cache is not in its RSS.")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
