package server_test

// The LMTP listener (smtp.lmtp_listen) for a front MTA: several
// recipients per transaction, one reply each after DATA (RFC 2033), over
// a unix socket or TCP, and sender authentication behind a front MTA.

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"listserv/listserv"
	"listserv/listserv/config"
	"listserv/listserv/server"
)

// lmtpEnv starts a server whose LMTP listener is listen (a unix socket
// in a fresh directory when ""), plus whatever config does.
func lmtpEnv(t *testing.T, listen string, s setup) *env {
	t.Helper()
	if listen == "" {
		listen = "unix:" + filepath.Join(t.TempDir(), "lmtp.sock")
	}
	more := s.config
	s.config = func(c *config.Config) {
		c.SMTP.LMTPListen = listen
		if more != nil {
			more(c)
		}
	}
	return newEnv(t, s)
}

// lmtpClient opens an LMTP session (LHLO done) on the server's listener.
func (e *env) lmtpClient() *smtp.Client {
	e.t.Helper()
	addr := e.srv.LMTPAddr()
	network := "tcp"
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	e.t.Cleanup(func() { c.Close() })
	if err := c.Hello("front.example.net"); err != nil {
		e.t.Fatalf("LHLO: %v", err)
	}
	return c
}

// lmtpTransact runs one transaction; rcptErr holds the RCPT refusals
// (those recipients are left out of DATA), and the map the reply after
// DATA of each accepted recipient (nil for 250).
func lmtpTransact(t *testing.T, c *smtp.Client, from string, rcpts []string, msg []byte) (rcptErr map[string]error, status map[string]*smtp.SMTPError) {
	t.Helper()
	if err := c.Mail(from, nil); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	rcptErr = map[string]error{}
	n := 0
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			rcptErr[r] = err
		} else {
			n++
		}
	}
	status = map[string]*smtp.SMTPError{}
	if n == 0 {
		c.Reset()
		return rcptErr, status
	}
	w, err := c.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	resp, err := w.CloseWithLMTPResponse()
	var lerr smtp.LMTPDataError
	if err != nil && !errors.As(err, &lerr) {
		t.Fatalf("end of DATA: %v", err)
	}
	for r := range resp {
		status[r] = nil
	}
	for r, se := range lerr {
		status[r] = se
	}
	return rcptErr, status
}

func wantCode(t *testing.T, what string, err error, code int, enh smtp.EnhancedCode) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != code || se.EnhancedCode != enh {
		t.Errorf("%s: %v, want %d %v", what, err, code, enh)
	}
}

func TestLMTPPerRecipientStatus(t *testing.T) {
	e := lmtpEnv(t, "", setup{})
	e.fixture()
	// Alice is not a member of circle.
	e.group(listserv.GroupSpec{Name: "circle", JoinPolicy: "approve", PostPolicy: "members"}, brunoAddr, carmenAddr)
	sock := e.srv.LMTPAddr()

	t.Run("the socket is mode 0660", func(t *testing.T) {
		fi, err := os.Lstat(sock)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
			t.Errorf("%s: mode %v, want a socket 0660", sock, fi.Mode())
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(sock), ".lmtp-*")); len(left) > 0 {
			t.Errorf("temporary socket names left: %v", left)
		}
	})

	c := e.lmtpClient()
	circle := "circle@" + testDomain
	t.Run("one accepted, one refused after DATA, one unknown at RCPT", func(t *testing.T) {
		dup := strings.ToUpper(groupAddr) // the same group again: processed once
		msg := simple(aliceName+" <"+aliceAddr+">", "lmtp two groups", "l1@example.org")
		rcptErr, status := lmtpTransact(t, c, aliceAddr, []string{groupAddr, circle, "nosuch@" + testDomain, "x@elsewhere.example", dup}, msg)
		wantCode(t, "RCPT unknown group", rcptErr["nosuch@"+testDomain], 550, smtp.EnhancedCode{5, 1, 1})
		wantCode(t, "RCPT foreign domain", rcptErr["x@elsewhere.example"], 550, smtp.EnhancedCode{5, 1, 1})
		if len(rcptErr) != 2 {
			t.Errorf("RCPT refusals %v, want 2", rcptErr)
		}
		if len(status) != 3 {
			t.Fatalf("replies after DATA for %d recipients (%v), want 3", len(status), status)
		}
		if status[groupAddr] != nil || status[dup] != nil {
			t.Errorf("recovery@: %v / %v, want 250", status[groupAddr], status[dup])
		}
		wantCode(t, "circle@ (not a member)", status[circle], 550, smtp.EnhancedCode{5, 7, 1})
		if n := e.archiveCount(testGroup); n != 1 {
			t.Errorf("recovery archive holds %d posts, want 1", n)
		}
		if n := e.archiveCount("circle"); n != 0 {
			t.Errorf("circle archive holds %d posts, want 0", n)
		}
		got := e.waitPosts("lmtp two groups", 3)
		if len(got) != 3 {
			t.Fatalf("%d copies delivered, want 3 (one per member of recovery)", len(got))
		}
		for _, d := range got {
			if strings.Contains(string(d.Data), "front.example.net") || strings.Contains(string(d.Data), aliceAddr) {
				t.Errorf("the copy to %s names the front MTA or the author:\n%s", d.Rcpt, d.Data)
			}
		}
	})
	t.Run("a second transaction on the same connection, both accepted", func(t *testing.T) {
		msg := simple("Bruno <"+brunoAddr+">", "lmtp both", "l2@example.net")
		rcptErr, status := lmtpTransact(t, c, brunoAddr, []string{groupAddr, circle}, msg)
		if len(rcptErr) != 0 || len(status) != 2 || status[groupAddr] != nil || status[circle] != nil {
			t.Fatalf("RCPT %v, DATA %v, want two 250s", rcptErr, status)
		}
		if e.archiveCount(testGroup) != 2 || e.archiveCount("circle") != 1 {
			t.Errorf("archives hold %d and %d posts, want 2 and 1", e.archiveCount(testGroup), e.archiveCount("circle"))
		}
		e.waitPosts("lmtp both", 5) // 3 members of recovery, 2 of circle
	})
	t.Run("no per-IP connection limit on the socket", func(t *testing.T) {
		n := config.Default().SMTP.MaxConnectionsPerIP + 5
		var wg sync.WaitGroup
		errs := make(chan error, n)
		conns := make(chan net.Conn, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := net.DialTimeout("unix", sock, 5*time.Second)
				if err != nil {
					errs <- err
					return
				}
				conns <- conn
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				b := make([]byte, 512)
				k, err := conn.Read(b)
				if err != nil || !strings.HasPrefix(string(b[:k]), "220 ") {
					errs <- errors.New("greeting " + string(b[:k]))
				}
			}()
		}
		wg.Wait()
		close(errs)
		close(conns)
		for c := range conns {
			c.Close()
		}
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("the socket is removed at shutdown", func(t *testing.T) {
		c.Quit()
		e.srv.Close()
		if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after Close: %v", sock, err)
		}
	})
}

func TestLMTPListen(t *testing.T) {
	base := func(t *testing.T, listen string) config.Config {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.SMTP.Listen = "127.0.0.1:0"
		cfg.IMAP.Listen = ""
		cfg.SMTP.LMTPListen = listen
		return cfg
	}
	t.Run("a stale socket is replaced", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "lmtp.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
		srv, err := server.Start(base(t, path), server.Options{})
		if err != nil {
			t.Fatalf("Start over a stale socket: %v", err)
		}
		srv.Close()
	})
	t.Run("a live socket is an error", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "lmtp.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		if srv, err := server.Start(base(t, "unix:"+path), server.Options{}); err == nil {
			srv.Close()
			t.Fatal("Start took over a socket another process listens on")
		}
		if _, err := os.Lstat(path); err != nil {
			t.Errorf("the other process's socket is gone: %v", err)
		}
	})
	t.Run("a file that is not a socket is an error", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "lmtp.sock")
		os.WriteFile(path, []byte("keep me"), 0o600)
		if srv, err := server.Start(base(t, path), server.Options{}); err == nil {
			srv.Close()
			t.Fatal("Start replaced a regular file")
		}
		if b, _ := os.ReadFile(path); string(b) != "keep me" {
			t.Error("the file was changed")
		}
	})
	t.Run("config", func(t *testing.T) {
		for listen, ok := range map[string]bool{"unix:/run/x.sock": true, "/run/x.sock": true, "127.0.0.1:24": true, "unix:": false, "localhost": false} {
			cfg := base(t, listen)
			if err := cfg.Validate(); (err == nil) != ok {
				t.Errorf("lmtp_listen %q: Validate() = %v, want ok=%t", listen, err, ok)
			}
		}
	})
}

// TestLMTPSenderAuth: with sender_auth = "dmarc" behind a front MTA, SPF
// is not judged (the client is the MTA), DKIM is, and the topmost
// Authentication-Results field of auth.trusted_authserv_id is believed.
func TestLMTPSenderAuth(t *testing.T) {
	f := &fakeDNS{txt: map[string][]string{
		// SPF would pass for the test client's address on port 25, and
		// the LMTP client has that same address.
		"example.org": {"v=spf1 ip4:127.0.0.1 -all"},
	}}
	sign := dkimKey(t, f, "example.org")
	e := lmtpEnv(t, "127.0.0.1:0", setup{
		config: func(c *config.Config) {
			c.Auth.SenderAuth = "dmarc"
			c.Auth.TrustedAuthservID = "mx.front.example"
		},
		resolver: f,
	})
	e.fixture()
	c := e.lmtpClient()
	from := aliceName + " <" + aliceAddr + ">"
	stored := 0
	lmtp := func(t *testing.T, msg []byte, want int) {
		t.Helper()
		rcptErr, status := lmtpTransact(t, c, aliceAddr, []string{groupAddr}, msg)
		if len(rcptErr) > 0 {
			t.Fatalf("RCPT: %v", rcptErr)
		}
		se, ok := status[groupAddr]
		switch {
		case !ok:
			t.Fatalf("no reply for %s: %v", groupAddr, status)
		case want == 250 && se != nil, want != 250 && (se == nil || se.Code != want):
			t.Fatalf("reply %v, want %d", se, want)
		}
		if want == 250 {
			stored++
		}
		if n := e.archiveCount(testGroup); n != stored {
			t.Fatalf("archive holds %d posts, want %d", n, stored)
		}
	}
	ar := func(v string, msg []byte) []byte { return append([]byte("Authentication-Results: "+v+"\r\n"), msg...) }

	t.Run("SPF is not judged over LMTP", func(t *testing.T) {
		lmtp(t, simple(from, "spf only", "a1@example.org"), 550)
	})
	t.Run("port 25 judges SPF", func(t *testing.T) {
		e.post(aliceAddr, simple(from, "spf on port 25", "a2@example.org"))
		stored++
	})
	t.Run("DKIM aligned", func(t *testing.T) {
		lmtp(t, sign(simple(from, "dkim", "a3@example.org")), 250)
	})
	t.Run("the front MTA's dmarc=pass", func(t *testing.T) {
		lmtp(t, ar("mx.front.example; dmarc=pass (p=none) header.from=example.org", simple(from, "authres", "a4@example.org")), 250)
	})
	t.Run("another authserv-id", func(t *testing.T) {
		lmtp(t, ar("mx.other.example; dmarc=pass header.from=example.org", simple(from, "other authres", "a5@example.org")), 550)
	})
	t.Run("a forged field below the front MTA's", func(t *testing.T) {
		msg := ar("mx.front.example; dmarc=pass header.from=example.org", simple(from, "forged authres", "a6@example.org"))
		lmtp(t, ar("mx.front.example; dmarc=fail header.from=example.org", msg), 550)
	})
	t.Run("port 25 ignores the field", func(t *testing.T) {
		// Carmen's domain has no SPF record: only the field could help.
		msg := ar("mx.front.example; dmarc=pass header.from=example.com", simple("Carmen <"+carmenAddr+">", "authres on 25", "a7@example.com"))
		st, err := e.send(carmenAddr, []string{groupAddr}, msg)
		wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
	})
	e.waitQueueEmpty()
}
