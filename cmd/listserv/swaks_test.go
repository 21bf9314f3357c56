package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"listserv/listserv/config"
	"listserv/listserv/server"
)

// swaksNeed finds a tool: outside CI a missing tool skips the test with
// a clear message; in CI (CI=true) it fails, since .ci/run installs it.
func swaksNeed(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (Debian package %s); .ci/run should install it", tool, pkg)
		}
		t.Skipf("%s is not installed (apt-get install %s); skipping", tool, pkg)
	}
	return p
}

// TestSwaksWalkthrough follows the README's walk-through: a server on
// the defaults (but a temp dir and a free port), the CLI through the
// control socket, a post sent by swaks, copies in every outbox.
func TestSwaksWalkthrough(t *testing.T) {
	swaks := swaksNeed(t, "swaks", "swaks")
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.SMTP.Listen = "127.0.0.1:0"
	cfg.IMAP.Listen = "127.0.0.1:0"
	cfg.Auth.PasswordCost = 4
	srv, err := server.Start(cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfgFile := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(cfgFile, []byte("data_dir = \""+cfg.DataDir+"\"\n[auth]\npassword_cost = 4\n"), 0o600)
	for _, args := range [][]string{
		{"group", "create", "-admin", "facilitator@example.org", "recovery"},
		{"member", "add", "recovery", "alice@example.org"},
		{"member", "add", "recovery", "bob@example.net"},
	} {
		var out, errw bytes.Buffer
		if code := run(append([]string{"-config", cfgFile}, args...), &out, &errw); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errw.String())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, swaks, "--server", srv.SMTPAddr(), "--from", "alice@example.org",
		"--to", "recovery@localhost", "--header", "Subject: first week", "--body", "Hello everyone, this is my first week.")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "<-  250") {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	for _, who := range []string{"facilitator@example.org", "alice@example.org", "bob@example.net"} {
		copy := swaksWaitPost(t, filepath.Join(cfg.DataDir, "outbox", who, "new"), "first week")
		if bytes.Contains(copy, []byte("alice@example.org")) || bytes.Contains(bytes.ToLower(copy), []byte("swaks")) {
			t.Errorf("%s's copy shows the author or her mailer:\n%s", who, copy)
		}
		if !bytes.Contains(copy, []byte("From: \"")) || !bytes.Contains(copy, []byte("Hello everyone")) {
			t.Errorf("%s's copy is not the post:\n%s", who, copy)
		}
	}
}

// swaksWaitPost waits for a Maildir file containing subject.
func swaksWaitPost(t *testing.T, dir, subject string) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if bytes.Contains(b, []byte("Subject: "+subject)) {
				return b
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no post %q in %s", subject, dir)
	return nil
}
