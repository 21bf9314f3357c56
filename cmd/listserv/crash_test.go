package main

// TestCrashKill9 runs the real binary, kills it with SIGKILL in the middle
// of a fan-out and restarts it: every post the SMTP front acknowledged
// must reach every member (SPEC §6: kill -9 loses nothing, each job is
// delivered at least once, duplicates are rare).
//
// Every helper in this file and in faults_test.go starts with "crash" so
// that it cannot clash with the other tests of package main.
//
// The sink here is a copy of listserv/internal/smtpsink: that package is
// internal to listserv/listserv and cannot be imported from cmd/listserv.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"listserv/internal/smtpsink"
)

const (
	crashDomain = "lists.test"
	crashGroup  = "g"
)

// crashGoTool finds the go command: without it the binary cannot be
// built, which skips the test on a developer's machine and fails it in CI.
func crashGoTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go is not on PATH, and CI=true: the crash test must build the listserv binary")
		}
		t.Skip("skipping: go is not on PATH, so the listserv binary cannot be built for this test")
	}
	return p
}

// crashRace reports whether this test binary has the race detector; the
// binary under test is then built with it too.
func crashRace() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// crashBuildBinary builds this package's command into a temporary
// directory (once per test that calls it) and returns its path.
func crashBuildBinary(t *testing.T) string {
	t.Helper()
	goTool := crashGoTool(t)
	bin := filepath.Join(t.TempDir(), "listserv")
	args := []string{"build", "-o", bin}
	if crashRace() {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, ".")...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s (race=%v) in %v", bin, crashRace(), time.Since(start).Round(time.Millisecond))
	return bin
}

// crashFreeAddr returns a loopback address whose port was free a moment ago.
func crashFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// crashConf is what the tests vary in the configuration file.
type crashConf struct {
	DataDir, SMTP, Sink    string
	Workers                int
	RetryInitial, RetryMax string
}

// crashWriteConfig writes a TOML configuration and returns its path.
func crashWriteConfig(t *testing.T, c crashConf) string {
	t.Helper()
	text := fmt.Sprintf(`domain = %q
hostname = "listserv.test"
data_dir = %q

[smtp]
listen = %q

[imap]
listen = ""

[delivery]
transport = "smarthost"
smarthost = %q
smarthost_tls = "none"
workers = %d
retry_initial = %q
retry_max = %q

[auth]
password_cost = 4 # bcrypt's minimum: each member add hashes a password

[log]
level = "info"
`, crashDomain, c.DataDir, c.SMTP, c.Sink, c.Workers, c.RetryInitial, c.RetryMax)
	path := filepath.Join(t.TempDir(), "listserv.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// crashEnv is the environment of the binary's processes. A race-enabled
// binary sleeps a second at exit unless told not to.
func crashEnv() []string {
	return append(os.Environ(), strings.TrimSpace("GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// crashCLI runs the binary with args and fails the test on a non-zero
// exit; it returns standard output.
func crashCLI(t *testing.T, bin, cfg string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-config", cfg}, args...)...)
	cmd.Env = crashEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("listserv %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// crashRun runs an admin command through the package's run (the CLI's
// code without a new process). It is safe for concurrent use.
func crashRun(cfg string, args ...string) error {
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"-config", cfg}, args...), &stdout, &stderr); code != 0 {
		return fmt.Errorf("listserv %s: exit %d: %s", strings.Join(args, " "), code, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// crashServer is a running `listserv serve` process.
type crashServer struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// crashServe starts `listserv serve`, appending its log to logPath, and
// waits until its SMTP listener greets (which also means the control
// socket listens: it is created before SMTP is served).
func crashServe(t *testing.T, bin, cfg, smtpAddr, logPath string) *crashServer {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, "-config", cfg, "serve")
	cmd.Env = crashEnv()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &crashServer{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("listserv serve exited before serving: %v\n%s", s.err, crashTail(logPath))
		default:
		}
		if crashGreets(smtpAddr) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("listserv serve did not greet on %s within 15s\n%s", smtpAddr, crashTail(logPath))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// crashGreets reports whether an SMTP server answers 220 on addr.
func crashGreets(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "220") {
		return false
	}
	io.WriteString(c, "QUIT\r\n")
	return true
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (s *crashServer) kill9(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
}

// stop sends SIGTERM and waits for a clean exit.
func (s *crashServer) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(40 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Fatalf("listserv serve did not stop within 40s of SIGTERM\n%s", crashTail(s.log))
	}
	if s.err != nil {
		t.Errorf("listserv serve exited with %v after SIGTERM\n%s", s.err, crashTail(s.log))
	}
}

// crashTail returns the end of a log file, for failure messages.
func crashTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// crashPost sends one post in its own SMTP session and returns nil only
// when the server answered 250 to the message.
func crashPost(addr, from, rcpt, subject string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.CommandTimeout = 10 * time.Second
	c.SubmissionTimeout = 20 * time.Second
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, crashMessage(from, rcpt, subject)); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	c.Quit()
	return nil
}

// crashMessage is a small plain-text post.
func crashMessage(from, to, subject string) string {
	id := make([]byte, 8)
	rand.Read(id)
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@client.test>\r\n",
		from, to, subject, time.Now().UTC().Format(time.RFC1123Z), hex.EncodeToString(id))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "Line %d of a post that tests delivery across a crash.\r\n", i)
	}
	return b.String()
}

// crashMembers returns n member addresses.
func crashMembers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m%03d@example.net", i)
	}
	return out
}

// crashAddMembers adds members through run (and so through the control
// socket when a server runs), with some concurrency.
func crashAddMembers(t *testing.T, cfg string, members []string, parallel int) {
	t.Helper()
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, m := range members {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := crashRun(cfg, "member", "add", crashGroup, m); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// crashTokenRE finds a test post's token in a Subject.
var crashTokenRE = regexp.MustCompile(`\b(?:kill9|faults)-[a-z0-9]+\b`)

// crashTally classifies what the sink received, incrementally.
type crashTally struct {
	seen       int                       // messages classified so far
	posts      map[string]map[string]int // post token → recipient → copies
	welcomes   map[string]int            // recipient → welcome copies
	postCopies int
	other      []string // what could not be classified (reasons)
	badSender  int      // envelope senders that are not a VERP address
}

func newCrashTally() *crashTally {
	return &crashTally{posts: map[string]map[string]int{}, welcomes: map[string]int{}}
}

var crashVERPRE = regexp.MustCompile(`^` + crashGroup + `-bounces\+[a-z2-7]+@` + regexp.QuoteMeta(crashDomain) + `$`)

func (c *crashTally) add(msgs []smtpsink.Message) {
	dec := new(mime.WordDecoder)
	for _, m := range msgs {
		c.seen++
		if !crashVERPRE.MatchString(m.From) {
			c.badSender++
		}
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			c.other = append(c.other, "unparsable: "+err.Error())
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(msg.Header.Get("Auto-Submitted")), "auto-generated") {
			c.welcomes[m.To]++
			continue
		}
		subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			subject = msg.Header.Get("Subject")
		}
		tok := crashTokenRE.FindString(subject)
		if tok == "" {
			c.other = append(c.other, fmt.Sprintf("subject %q", subject))
			continue
		}
		if c.posts[tok] == nil {
			c.posts[tok] = map[string]int{}
		}
		c.posts[tok][m.To]++
		c.postCopies++
	}
}

// copiesOf counts the copies of the given posts that arrived.
func (c *crashTally) copiesOf(tokens []string) int {
	n := 0
	for _, tok := range tokens {
		for _, k := range c.posts[tok] {
			n += k
		}
	}
	return n
}

// missing lists, per post token, how many members have no copy yet.
func (c *crashTally) missing(tokens, members []string) map[string]int {
	out := map[string]int{}
	for _, tok := range tokens {
		for _, m := range members {
			if c.posts[tok][m] == 0 {
				out[tok]++
			}
		}
	}
	return out
}

// missingWelcomes counts members without a welcome.
func (c *crashTally) missingWelcomes(members []string) int {
	n := 0
	for _, m := range members {
		if c.welcomes[m] == 0 {
			n++
		}
	}
	return n
}

// duplicates counts copies beyond the first, over posts and welcomes,
// and the number of distinct deliveries.
func (c *crashTally) duplicates() (dups, distinct int) {
	for _, rc := range c.posts {
		for _, k := range rc {
			distinct++
			dups += k - 1
		}
	}
	for _, k := range c.welcomes {
		distinct++
		dups += k - 1
	}
	return dups, distinct
}

func (c *crashTally) tokens() []string {
	var out []string
	for tok := range c.posts {
		out = append(out, tok)
	}
	sort.Strings(out)
	return out
}

// crashLatePoster keeps posting while the process is being killed, so
// that a post may be in flight at the moment of the kill.
type crashLatePoster struct {
	stopc chan struct{}
	done  chan struct{}
	acked []string // tokens answered 250
	nacks []string // tokens whose session failed
}

func crashStartLatePoster(addr string, from []string) *crashLatePoster {
	p := &crashLatePoster{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i, f := range from {
			select {
			case <-p.stopc:
				return
			default:
			}
			tok := fmt.Sprintf("kill9-late%d", i)
			if err := crashPost(addr, f, crashGroup+"@"+crashDomain, tok+" written while the server dies"); err != nil {
				p.nacks = append(p.nacks, tok)
				if !errors.Is(err, syscall.ECONNREFUSED) {
					continue
				}
				return // the server is gone
			}
			p.acked = append(p.acked, tok)
		}
	}()
	return p
}

func (p *crashLatePoster) stop() {
	close(p.stopc)
	<-p.done
}

func TestCrashKill9(t *testing.T) {
	const (
		nMembers = 200
		nPosts   = 5
	)
	bin := crashBuildBinary(t)
	sink := crashStartSink(t, smtpsink.Faults{Delay: 2 * time.Millisecond})
	dir := t.TempDir()
	smtpAddr := crashFreeAddr(t)
	cfg := crashWriteConfig(t, crashConf{
		DataDir: filepath.Join(dir, "data"), SMTP: smtpAddr, Sink: sink.Addr(),
		Workers: 8, RetryInitial: "100ms", RetryMax: "1s",
	})
	logPath := filepath.Join(dir, "serve.log")
	members := crashMembers(nMembers)
	rcpt := crashGroup + "@" + crashDomain

	// The group is created with the binary on the stopped data directory;
	// members are added through the running server's control socket: a
	// few with the binary, the rest with the same CLI code in this
	// process (200 process starts take seconds on a loaded machine).
	start := time.Now()
	crashCLI(t, bin, cfg, "group", "create", "-join", "open", crashGroup)
	crashCLI(t, bin, cfg, "member", "add", crashGroup, members[0]) // stopped data directory
	srv := crashServe(t, bin, cfg, smtpAddr, logPath)
	for _, m := range members[1:5] {
		crashCLI(t, bin, cfg, "member", "add", crashGroup, m) // control socket
	}
	t.Logf("group, 5 members (binary) and server start: %v", time.Since(start).Round(time.Millisecond))
	crashAddMembers(t, cfg, members[5:], 16)
	if got := strings.Count(crashCLI(t, bin, cfg, "member", "list", crashGroup), "\n"); got != nMembers {
		t.Fatalf("member list shows %d members, want %d", got, nMembers)
	}
	t.Logf("group and %d members set up in %v", nMembers, time.Since(start).Round(time.Millisecond))

	var posts []string
	for i := 0; i < nPosts; i++ {
		tok := fmt.Sprintf("kill9-p%d", i)
		if err := crashPost(smtpAddr, members[i], rcpt, tok+" before the crash"); err != nil {
			t.Fatalf("post %s was not accepted: %v", tok, err)
		}
		posts = append(posts, tok)
	}

	// Wait until the fan-out is under way: some copies out, most not.
	tally := newCrashTally()
	total := nPosts * nMembers
	deadline := time.Now().Add(15 * time.Second)
	for tally.copiesOf(posts) < total/4 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d post copies arrived within 15s\n%s", tally.copiesOf(posts), total, crashTail(logPath))
		}
		time.Sleep(time.Millisecond)
		tally.add(sink.MessagesFrom(tally.seen))
	}
	// Keep posting while the process dies, so that one post may be in
	// the middle of its SMTP transaction or its commit.
	late := crashStartLatePoster(smtpAddr, members[nPosts:nPosts+8])
	time.Sleep(8 * time.Millisecond)
	srv.kill9(t)
	late.stop()
	tally.add(sink.MessagesFrom(tally.seen))
	atKill := tally.copiesOf(posts)
	t.Logf("kill -9 after %d of %d post copies; posts written during the kill: %d answered 250 %v, %d not %v",
		atKill, total, len(late.acked), late.acked, len(late.nacks), late.nacks)
	if atKill >= total {
		t.Fatalf("the fan-out was over before kill -9 (%d copies): the test proves nothing; slow the sink down", atKill)
	}

	srv = crashServe(t, bin, cfg, smtpAddr, logPath)
	acked := append(append([]string(nil), posts...), late.acked...)
	deadline = time.Now().Add(30 * time.Second)
	for {
		tally.add(sink.MessagesFrom(tally.seen))
		// Every post that was acknowledged, and every post that arrived
		// at all (a commit whose 250 was lost), must reach everyone.
		want := append(append([]string(nil), acked...), tally.tokens()...)
		miss := tally.missing(want, members)
		mw := tally.missingWelcomes(members)
		if len(miss) == 0 && mw == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart, copies still missing after 30s: %v (per post), welcomes missing: %d\n%s",
				miss, mw, crashTail(logPath))
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.stop(t)
	tally.add(sink.MessagesFrom(tally.seen))

	for _, tok := range late.nacks {
		if n := len(tally.posts[tok]); n > 0 {
			t.Logf("post %s got no 250 but was committed: delivered to all %d members", tok, n)
		}
	}
	if miss := tally.missing(acked, members); len(miss) > 0 {
		t.Errorf("acknowledged posts missing copies: %v", miss)
	}
	if len(tally.other) > 0 {
		t.Errorf("%d unexpected messages at the sink, e.g. %s", len(tally.other), tally.other[0])
	}
	if tally.badSender > 0 {
		t.Errorf("%d deliveries without a VERP envelope sender", tally.badSender)
	}
	dups, distinct := tally.duplicates()
	t.Logf("deliveries: %d distinct (%d posts x %d members + %d welcomes), %d duplicates (%.2f%%), sink total %d",
		distinct, len(tally.posts), nMembers, len(tally.welcomes), dups, 100*float64(dups)/float64(distinct), sink.Count())
	if dups*10 > distinct {
		t.Errorf("%d duplicates in %d deliveries: more than 10%%", dups, distinct)
	}
	if b, _ := os.ReadFile(logPath); bytes.Contains(b, []byte("DATA RACE")) {
		t.Errorf("the race detector reported a data race in listserv serve\n%s", crashTail(logPath))
	}
}

// crashStartSink starts a recording, misbehaving SMTP sink that stops
// with the test.
func crashStartSink(t *testing.T, f smtpsink.Faults) *smtpsink.Sink {
	t.Helper()
	s, err := smtpsink.Start(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
