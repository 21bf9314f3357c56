package main

// Tests of the moderation commands as scripts see them (SPEC §11, issue
// 4): `group set` and its validation, `member pending/approve/reject`
// and `held list/approve/reject`, through a running server's control
// socket and on a stopped data directory. The join request and the held
// posts they act on arrive over real SMTP.
//
// Every helper here starts with "mod" so that it cannot clash with the
// other tests of package main.

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"
)

// TestModCLIGroupSet changes group settings on a stopped data directory;
// bad values are refused with one line and change nothing.
func TestModCLIGroupSet(t *testing.T) {
	cfg := cliWriteConfig(t, filepath.Join(t.TempDir(), "data"))
	cliOK(t, "-config", cfg, "group", "create", "recovery")
	for _, kv := range [][2]string{
		{"post_policy", "moderated"}, {"join_policy", "open"}, {"posts_per_hour", "5"}, {"first_posts_held", "3"},
		{"hold_days", "7"}, {"archive_days", "365"}, {"description", "Weekly support, all welcome"},
	} {
		if got, want := cliOK(t, "-config", cfg, "group", "set", "recovery", kv[0], kv[1]), "recovery: "+kv[0]+" = "+kv[1]+"\n"; got != want {
			t.Errorf("group set %s %s printed %q, want %q", kv[0], kv[1], got, want)
		}
	}
	// The group name is case-insensitive.
	if got := cliOK(t, "-config", cfg, "group", "set", "Recovery", "post_policy", "first-post"); got != "recovery: post_policy = first-post\n" {
		t.Errorf("group set on Recovery printed %q", got)
	}
	show := cliOK(t, "-config", cfg, "group", "show", "recovery")
	wantShow := func() {
		t.Helper()
		for _, want := range []string{"join_policy\topen", "post_policy\tfirst-post", "posts_per_hour\t5", "archive_days\t365"} {
			if !strings.Contains("\n"+show, "\n"+want+"\n") {
				t.Errorf("group show lacks %q:\n%s", want, show)
			}
		}
	}
	wantShow()

	for _, tc := range []struct{ key, value, want string }{
		{"post_policy", "everyone", "post_policy"},
		{"post_policy", "Moderated", "post_policy"},
		{"join_policy", "closed", "join_policy"},
		{"posts_per_hour", "-1", "posts_per_hour"},
		{"posts_per_hour", "many", "posts_per_hour"},
		{"posts_per_hour", "10001", "posts_per_hour"},
		{"first_posts_held", "0", "first_posts_held"},
		{"hold_days", "0", "hold_days"},
		{"hold_days", "366", "hold_days"},
		{"archive_days", "-5", "archive_days"},
		{"description", "two\nlines", "description"},
		{"description", "bare\rCR", "description"},
		{"description", strings.Repeat("x", 201), "description"},
		{"no_such_key", "1", "unknown setting"},
	} {
		cliRefused(t, tc.want, "-config", cfg, "group", "set", "recovery", tc.key, tc.value)
	}
	cliRefused(t, "not found", "-config", cfg, "group", "set", "nosuchgroup", "post_policy", "members")
	cliUsage(t, "want GROUP KEY VALUE", "-config", cfg, "group", "set", "recovery", "post_policy")
	cliUsage(t, "want GROUP KEY VALUE", "-config", cfg, "group", "set")
	show = cliOK(t, "-config", cfg, "group", "show", "recovery")
	wantShow()
}

// modSend runs one SMTP transaction and fails the test unless the
// message is accepted.
func modSend(t *testing.T, addr, mailFrom, rcpt, msg string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Hello("client.example.net")
	if err == nil {
		err = c.Mail(mailFrom, nil)
	}
	if err == nil {
		err = c.Rcpt(rcpt, nil)
	}
	var w io.WriteCloser
	if err == nil {
		w, err = c.Data()
	}
	if err == nil {
		if _, err = io.WriteString(w, msg); err == nil {
			err = w.Close()
		}
	}
	if err != nil {
		t.Fatalf("mail from %s to %s: %v", mailFrom, rcpt, err)
	}
	c.Quit()
}

var modMsgN int

// modMessage is a plain message with CRLF line endings.
func modMessage(from, to, subject, body string, extra ...string) string {
	modMsgN++
	h := append([]string{"From: <" + from + ">", "To: <" + to + ">", "Subject: " + subject,
		"Date: " + time.Now().UTC().Format(time.RFC1123Z), fmt.Sprintf("Message-ID: <mod%d.%d@client.example.net>", modMsgN, time.Now().UnixNano()),
		"MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"}, extra...)
	return strings.ReplaceAll(strings.Join(h, "\n")+"\n\n"+body, "\n", "\r\n")
}

// modMail is a message found in an outbox.
type modMail struct {
	header mail.Header
	body   string
}

func (m modMail) subject() string {
	s, _ := new(mime.WordDecoder).DecodeHeader(m.header.Get("Subject"))
	return s
}

// modWaitMail waits for a message to addr whose subject starts with
// prefix.
func modWaitMail(t *testing.T, data, addr, prefix string) modMail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(data, "outbox", addr, "new", "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := mail.ReadMessage(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var body []byte
			if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
				body, _ = io.ReadAll(quotedprintable.NewReader(msg.Body))
			} else {
				body, _ = io.ReadAll(msg.Body)
			}
			m := modMail{msg.Header, string(body)}
			if strings.HasPrefix(m.subject(), prefix) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message %q… for %s after 10s", prefix, addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestModCLIPendingAndHeld runs the moderation commands through the
// control socket of a running server, on a join request and held posts
// that came by mail, then on the stopped data directory.
func TestModCLIPendingAndHeld(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfgPath, _, srv, logs := cliStartServer(t, data)
	closed := false
	defer func() {
		if !closed {
			srv.Close()
		}
	}()
	smtpAddr := srv.SMTPAddr()
	const (
		admin = "a@example.org"
		dana  = "d@example.org"
		erin  = "e@example.org"
	)
	run := func(args ...string) string {
		t.Helper()
		return cliOK(t, append([]string{"-config", cfgPath}, args...)...)
	}
	refused := func(want string, args ...string) {
		t.Helper()
		cliRefused(t, want, append([]string{"-config", cfgPath}, args...)...)
	}
	run("group", "create", "-join", "approve", "-post", "first-post", "-admin", admin, "recovery")

	// Dana asks to join, with an introduction longer than member pending
	// shows (and a multi-byte character where it is cut), and confirms.
	intro := "Hi\t" + strings.Repeat("é", 100)
	modSend(t, smtpAddr, dana, "recovery-join@"+cliDomain, modMessage(dana, "recovery-join@"+cliDomain, "join", intro+"\n"))
	confirm := modWaitMail(t, data, dana, "Please confirm")
	rt, err := mail.ParseAddress(confirm.header.Get("Reply-To"))
	if err != nil || !strings.HasPrefix(rt.Address, "recovery-confirm+") {
		t.Fatalf("confirmation Reply-To %q: %v", confirm.header.Get("Reply-To"), err)
	}
	modSend(t, smtpAddr, dana, rt.Address, modMessage(dana, rt.Address, "Re: "+confirm.subject(), "yes\n"))
	modWaitMail(t, data, admin, "Join request for recovery")

	out := run("member", "pending", "recovery")
	f := strings.Split(strings.TrimSuffix(out, "\n"), "\t")
	if strings.Count(out, "\n") != 1 || len(f) != 3 || f[0] != dana {
		t.Fatalf("member pending printed %q, want one line: address, date, introduction", out)
	}
	if _, err := time.Parse(time.RFC3339, f[1]); err != nil {
		t.Errorf("member pending date %q: %v", f[1], err)
	}
	if !utf8.ValidString(f[2]) || !strings.HasPrefix(f[2], "Hi éé") || !strings.HasSuffix(f[2], "...") || len(f[2]) > 123 {
		t.Errorf("member pending introduction %q, want it on one line, cut at 120 bytes on a character boundary", f[2])
	}
	if got := run("member", "approve", "recovery", dana); got != dana+": approved\n" {
		t.Errorf("member approve printed %q", got)
	}
	modWaitMail(t, data, dana, "Welcome to recovery")
	refused("not waiting", "member", "approve", "recovery", dana)
	refused("no such pending member", "member", "reject", "recovery", "nobody@example.org")
	refused("not found", "member", "pending", "nosuchgroup")
	if got := run("member", "pending", "recovery"); got != "" {
		t.Errorf("member pending after the approval printed %q", got)
	}
	var danaAlias string
	for _, row := range strings.Split(run("member", "list", "recovery"), "\n") {
		if f := strings.Split(row, "\t"); f[0] == dana {
			danaAlias = f[1]
			if len(f) != 3 || f[2] != "active" {
				t.Errorf("member list row %q, want Dana active", row)
			}
		}
	}

	// Dana's first post is held; its subject is listed decoded.
	modSend(t, smtpAddr, dana, "recovery@"+cliDomain, modMessage(dana, "recovery@"+cliDomain, "=?utf-8?q?Caf=C3=A9_talk?=", "Hello.\n"))
	modWaitMail(t, data, admin, "Post held for approval")
	date := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`
	if got := run("held", "list", "recovery"); !regexp.MustCompile(`^1\t` + regexp.QuoteMeta(danaAlias) + `\t` + date + "\twaiting\tCafé talk\n$").MatchString(got) {
		t.Fatalf("held list printed %q, want 1, %s, date, waiting, Café talk", got, danaAlias)
	}
	if got := run("held", "approve", "recovery", "1"); got != "held post 1: approved\n" {
		t.Errorf("held approve printed %q", got)
	}
	modWaitMail(t, data, dana, "Café talk")
	approved := regexp.MustCompile(`^1\t` + regexp.QuoteMeta(danaAlias) + `\t` + date + "\tapproved by an admin, from the command line\tCafé talk\n$")
	if got := run("held", "list", "recovery"); !approved.MatchString(got) {
		t.Errorf("held list after the approval printed %q", got)
	}
	refused("already approved by an admin, from the command line", "held", "approve", "recovery", "1")
	refused("already approved", "held", "reject", "recovery", "1")
	refused("no such held post", "held", "reject", "recovery", "99")
	refused("not found", "held", "list", "nosuchgroup")
	cliUsage(t, "ID must be a number", "-config", cfgPath, "held", "approve", "recovery", "one")
	cliUsage(t, "want GROUP ID", "-config", cfgPath, "held", "reject", "recovery")

	// Erin, added by an admin, is held too; rejected, she alone hears.
	run("member", "add", "recovery", erin)
	modSend(t, smtpAddr, erin, "recovery@"+cliDomain, modMessage(erin, "recovery@"+cliDomain, "Erin's first", "Hi.\n"))
	modWaitMail(t, data, erin, "Your post to recovery is waiting")
	if got := run("held", "reject", "RECOVERY", "2"); got != "held post 2: rejected\n" {
		t.Errorf("held reject printed %q", got)
	}
	modWaitMail(t, data, erin, "About your post to recovery")
	list := run("held", "list", "recovery")
	if rows := strings.Split(list, "\n"); len(rows) != 3 || !approved.MatchString(rows[0]+"\n") ||
		!strings.Contains(rows[1], "\trejected by an admin, from the command line\tErin's first") {
		t.Errorf("held list printed %q", list)
	}

	// Stopped, the data directory answers the same.
	srv.Close()
	closed = true
	if got := run("held", "list", "recovery"); got != list {
		t.Errorf("on the stopped directory, held list printed %q, want %q", got, list)
	}
	if got := run("member", "pending", "recovery"); got != "" {
		t.Errorf("on the stopped directory, member pending printed %q", got)
	}
	for _, addr := range []string{admin, dana, erin} {
		if strings.Contains(logs.String(), addr) {
			t.Errorf("the server log names %s:\n%s", addr, logs.String())
		}
	}
}
