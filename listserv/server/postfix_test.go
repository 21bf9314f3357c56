//go:build linux

package server_test

// Tests with a real Postfix (the Debian package's binaries): in front of
// the service, handing the list domain to the LMTP socket, and behind
// it, as the delivery smarthost. Each test runs a throwaway Postfix
// instance whose whole configuration, queue and log live in a temporary
// directory; the system's instance is never used. They need root (Postfix
// drops to its mail_owner, "postfix") and are skipped when Postfix is
// missing, except in CI (CI=true), where that is a failure.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"listserv/internal/smtpsink"
	"listserv/listserv"
	"listserv/listserv/config"
)

// postfixInstance is a running throwaway Postfix.
type postfixInstance struct {
	t    *testing.T
	dir  string // config, queue, data, log
	Addr string // its smtpd, 127.0.0.1:port
	cmd  *exec.Cmd
	done chan error
}

// needPostfix skips the test when Postfix cannot run here, or fails it
// in CI. It returns Postfix's daemon directory.
func needPostfix(t *testing.T) string {
	t.Helper()
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Postfix test cannot run in CI: %s (.ci/run installs the postfix package)", why)
		}
		t.Skipf("skipping the Postfix test: %s (apt-get install postfix; run as root)", why)
	}
	if _, err := os.Stat("/usr/sbin/postfix"); err != nil {
		missing("/usr/sbin/postfix is not installed")
	}
	if os.Geteuid() != 0 {
		missing("Postfix must be started as root")
	}
	if _, err := user.Lookup("postfix"); err != nil {
		missing("no postfix user")
	}
	if _, err := user.LookupGroup("postdrop"); err != nil {
		missing("no postdrop group")
	}
	out, err := exec.Command("/usr/sbin/postconf", "-d", "-h", "daemon_directory").Output()
	if err != nil {
		missing("postconf: " + err.Error())
	}
	return strings.TrimSpace(string(out))
}

// postfixDir makes the instance's directory: reachable by the postfix
// user (its daemons open the LMTP socket under it), with run/ setgid
// group postfix so that the 0660 socket created there is Postfix's to
// use (the deployment advice of deploy/postfix-lmtp.md).
func postfixDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "listserv-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroup("postfix")
	if err != nil {
		t.Fatalf("postfix group: %v", err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(run, 0, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(run, 0o750|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	return dir
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPostfix writes main.cf (the common settings, then extra) and
// master.cf into dir and runs Postfix's master in the foreground as a
// child in its own process group, stopped at cleanup.
func startPostfix(t *testing.T, daemonDir, dir string, extra ...string) *postfixInstance {
	t.Helper()
	port := freePort(t)
	p := &postfixInstance{t: t, dir: dir, Addr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan error, 1)}
	mainCF := []string{
		"# A throwaway instance for listserv's tests.",
		"compatibility_level = 3.6",
		"queue_directory = " + filepath.Join(dir, "queue"),
		"data_directory = " + filepath.Join(dir, "data"),
		"mail_owner = postfix",
		"setgid_group = postdrop",
		"myhostname = front.test",
		"mydomain = front.test",
		"myorigin = $myhostname",
		// Nothing is delivered locally: no local, alias or mailbox work.
		"mydestination =",
		"local_recipient_maps =",
		"alias_maps =",
		"alias_database =",
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		"mynetworks = 127.0.0.0/8",
		"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
		"smtpd_peername_lookup = no",
		"smtp_dns_support_level = disabled",
		"biff = no",
		"maillog_file = " + filepath.Join(dir, "maillog"),
		"maillog_file_prefixes = " + dir,
	}
	mainCF = append(mainCF, extra...)
	// service type private unpriv chroot wakeup maxproc command: nothing
	// chrooted, so that the LMTP client reaches the socket by its path.
	masterCF := []string{
		p.Addr + " inet n - n - - smtpd",
		"pickup unix n - n 60 1 pickup",
		"cleanup unix n - n - 0 cleanup",
		"qmgr unix n - n 300 1 qmgr",
		"rewrite unix - - n - - trivial-rewrite",
		"bounce unix - - n - 0 bounce",
		"defer unix - - n - 0 bounce",
		"trace unix - - n - 0 bounce",
		"verify unix - - n - 1 verify",
		"flush unix n - n 1000? 0 flush",
		"proxymap unix - - n - - proxymap",
		"smtp unix - - n - - smtp",
		"relay unix - - n - - smtp",
		"lmtp unix - - n - - lmtp",
		"error unix - - n - - error",
		"retry unix - - n - - error",
		"discard unix - - n - - discard",
		"anvil unix - - n - 1 anvil",
		"scache unix - - n - 1 scache",
		"postlog unix-dgram n - n - 1 postlogd",
	}
	write := func(name string, lines []string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.cf", mainCF)
	write("master.cf", masterCF)
	for _, d := range []string{"queue", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if u, err := user.Lookup("postfix"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		os.Chown(filepath.Join(dir, "data"), uid, -1) // the verify cache lives there
	}
	// "check" creates the queue's subdirectories with their owners; it
	// warns that they are not where the package expects them, which is
	// the point.
	if out, err := exec.Command("/usr/sbin/postfix", "-c", dir, "check").CombinedOutput(); err != nil {
		t.Fatalf("postfix check: %v\n%s\n%s", err, out, p.log())
	}
	p.cmd = exec.Command(filepath.Join(daemonDir, "master"), "-c", dir, "-d")
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // master signals its group on exit
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting Postfix's master: %v", err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(p.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("Postfix's master exited: %v\n%s", err, p.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postfix's smtpd does not answer on %s\n%s", p.Addr, p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

func (p *postfixInstance) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return string(b)
}

// stop terminates master (which stops its children) and, failing that
// within 10 s, kills its process group. On failure (or with
// POSTFIX_LOG set) it prints Postfix's log.
func (p *postfixInstance) stop() {
	pgid := p.cmd.Process.Pid
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// The children notice their master's exit on their own; give them
	// a moment before the directory is removed.
	for i := 0; i < 50 && syscall.Kill(-pgid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	if p.t.Failed() || os.Getenv("POSTFIX_LOG") != "" {
		p.t.Logf("Postfix log:\n%s", p.log())
	}
}

// sendVia runs one SMTP transaction through addr.
func sendVia(addr, from string, rcpts []string, msg []byte) (step, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return stepDial, err
	}
	defer c.Close()
	if err := c.Hello("client.example.net"); err != nil {
		return stepDial, err
	}
	st, err := transact(c, from, nil, rcpts, msg)
	if st == stepOK {
		c.Quit()
	}
	return st, err
}

// TestPostfixInFront: Postfix receives the mail on its smtpd and hands
// the list domain to the service's LMTP socket; recipients are verified
// through LMTP while Postfix's own SMTP session is open, so an unknown
// group gets 550 from Postfix and nothing bounces later (no backscatter).
func TestPostfixInFront(t *testing.T) {
	daemonDir := needPostfix(t)
	dir := postfixDir(t)
	sock := filepath.Join(dir, "run", "lmtp.sock")
	e := lmtpEnv(t, "unix:"+sock, setup{})
	e.fixture()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := user.LookupGroup("postfix"); g == nil || strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Gid)) != g.Gid {
		t.Fatalf("the socket's group is not postfix (setgid directory): %v", fi.Sys())
	}
	pf := startPostfix(t, daemonDir, dir,
		"relay_domains = "+testDomain,
		"transport_maps = inline:{ "+testDomain+"=lmtp:unix:"+sock+" }",
		// Ask the LMTP server about each recipient of the list domain
		// before accepting it (as deploy/postfix-lmtp.md says).
		"smtpd_restriction_classes = listserv_verify",
		"listserv_verify = reject_unverified_recipient",
		"smtpd_recipient_restrictions = check_recipient_access inline:{ "+testDomain+"=listserv_verify }",
		"unverified_recipient_reject_code = 550",
		"address_verify_poll_delay = 1s",
	)

	t.Run("unknown group: 550 from Postfix", func(t *testing.T) {
		st, err := sendVia(pf.Addr, aliceAddr, []string{"nosuch@" + testDomain}, simple(aliceName+" <"+aliceAddr+">", "to nobody", "p0@example.org"))
		if st != stepRcpt {
			t.Fatalf("stopped at %s (%v), want a refusal at RCPT", st, err)
		}
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 550 {
			t.Fatalf("RCPT: %v, want 550", err)
		}
	})
	t.Run("a post reaches every member through LMTP", func(t *testing.T) {
		msg := simple(aliceName+" <"+aliceAddr+">", "through postfix", "p1@example.org")
		if st, err := sendVia(pf.Addr, aliceAddr, []string{groupAddr}, msg); st != stepOK {
			t.Fatalf("Postfix refused the post at %s: %v", st, err)
		}
		got := e.waitPosts("through postfix", 3)
		if len(got) != 3 {
			t.Fatalf("%d copies, want 3", len(got))
		}
		for _, d := range got {
			if strings.Contains(string(d.Data), "front.test") || strings.Contains(string(d.Data), "127.0.0.1") {
				t.Errorf("the copy to %s keeps Postfix's trace:\n%s", d.Rcpt, d.Data)
			}
		}
		if n := e.archiveCount(testGroup); n != 1 {
			t.Errorf("archive holds %d posts, want 1", n)
		}
		if !strings.Contains(e.logs.String(), "listener=lmtp") {
			t.Error("the server's log shows no LMTP session")
		}
	})
	t.Run("a non-member's post is refused over LMTP, not archived", func(t *testing.T) {
		// Postfix accepted it (the group exists); the LMTP 550 after DATA
		// makes Postfix bounce it to the envelope sender, which the
		// front MTA's own sender checks must vouch for (deploy doc).
		msg := simple("Stranger <stranger@example.org>", "stranger", "p2@example.org")
		if st, err := sendVia(pf.Addr, "stranger@example.org", []string{groupAddr}, msg); st != stepOK {
			t.Fatalf("Postfix refused at %s: %v", st, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(pf.log(), "only members of this group may post") {
			if time.Now().After(deadline) {
				t.Fatalf("Postfix did not log our 550 for the non-member\n%s", pf.log())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n := e.archiveCount(testGroup); n != 1 {
			t.Errorf("archive holds %d posts, want 1", n)
		}
	})
	e.waitQueueEmpty()
}

// TestPostfixSmarthost: the service delivers through Postfix
// (delivery.transport = "smarthost"), which relays to a test sink.
func TestPostfixSmarthost(t *testing.T) {
	daemonDir := needPostfix(t)
	dir := postfixDir(t)
	sink, err := smtpsink.Start(smtpsink.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	pf := startPostfix(t, daemonDir, dir,
		"relayhost = ["+strings.Replace(sink.Addr(), ":", "]:", 1),
		"smtp_tls_security_level = none",
	)
	e := newEnv(t, setup{config: func(c *config.Config) {
		c.Delivery.Transport = "smarthost"
		c.Delivery.Smarthost = pf.Addr
		c.Delivery.SmarthostTLS = "starttls" // Postfix offers none here: plain
	}})
	e.sink = sink // what the sink received is what was delivered
	e.group(listserv.GroupSpec{Name: testGroup, JoinPolicy: "approve", PostPolicy: "members"}, aliceAddr, brunoAddr, carmenAddr)
	e.secret(aliceName)
	// The queue is empty once Postfix has taken the welcomes; wait for
	// them to reach the sink too.
	if !sink.WaitCount(3, 15*time.Second) {
		t.Fatalf("%d welcomes reached the sink through Postfix, want 3\n%s", sink.Count(), pf.log())
	}
	e.post(aliceAddr, simple(aliceName+" <"+aliceAddr+">", "via smarthost", "s1@example.org"))
	got := e.waitPostsWithin("via smarthost", 3, 20*time.Second)
	want := map[string]bool{aliceAddr: true, brunoAddr: true, carmenAddr: true}
	for _, d := range got {
		if !want[d.Rcpt] {
			t.Errorf("unexpected recipient %s", d.Rcpt)
		}
		delete(want, d.Rcpt)
		if !strings.HasPrefix(d.EnvFrom, testGroup+"-bounces+") {
			t.Errorf("envelope sender %q is not the VERP address", d.EnvFrom)
		}
		if r := d.Header.Get("Received"); !strings.Contains(r, "front.test") || !strings.Contains(r, "Postfix") {
			t.Errorf("the copy to %s did not come through Postfix (Received: %q)", d.Rcpt, r)
		}
	}
	if len(want) != 0 {
		t.Errorf("no copy for %v", want)
	}
}

// waitPostsWithin is waitPosts with a longer deadline (a relay in
// between).
func (e *env) waitPostsWithin(subject string, n int, d time.Duration) []delivered {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for len(e.posts(subject)) < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d copies of %q delivered after %v, want %d", len(e.posts(subject)), subject, d, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return e.waitPosts(subject, n)
}
