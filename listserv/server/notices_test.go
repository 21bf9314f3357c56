package server_test

// What the service writes: no answer to robots, the daily reply limit,
// template overrides (helpers in membership_test.go).

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"listserv/listserv"
	"listserv/listserv/config"
	"listserv/listserv/server"
)

// TestRobotsGetNoAnswer: an auto-responder answering a confirmation, or
// writing to -request, gets nothing back (no loop), and its reply
// confirms nothing.
func TestRobotsGetNoAnswer(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	m.write(memDana, memDanaName, memJoinAddr, "join", "")
	confirm := m.settle()[0]
	caddr, tok := confirm.token(t)
	m.secret(tok)
	robot := func(mailFrom string, rcpt string, extra ...string) {
		t.Helper()
		m.mail(mailFrom, rcpt, m.headers(memDanaName+" <"+memDana+">", rcpt, "Out of office", extra...), "I am away until Monday.\n")
	}
	for _, rcpt := range []string{caddr, memRequestAddr, memJoinAddr, memLeaveAddr, memOwnerAddr, m.aliasAddr(aliceAddr)} {
		robot(memDana, rcpt, "Auto-Submitted: auto-replied")
		robot(memDana, rcpt, "Precedence: bulk")
		robot(memDana, rcpt, "X-Autoreply: yes")
		robot(memDana, rcpt, "List-Id: <"+testGroup+"."+testDomain+">")
		robot("", rcpt)
	}
	if ms := m.settle(); len(ms) != 0 {
		t.Fatalf("robots got answers: %v", ms)
	}
	m.wantState(memDana, "")
	// The token still works for the person.
	m.reply(confirm, memDana, memDanaName)
	memWant(t, "the person's confirmation", m.settle(), memDana, memAda, memBen)
}

// TestReplyLimit: one address gets at most RepliesPerDay automated
// answers a day; past that, a request changes nothing either.
func TestReplyLimit(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	for i := 0; i < listserv.RepliesPerDay+3; i++ {
		m.write(memMallory, "", memRequestAddr, "help", "")
	}
	ms := m.settle()
	if len(ms) != listserv.RepliesPerDay {
		t.Fatalf("%d answers to %d requests, want %d", len(ms), listserv.RepliesPerDay+3, listserv.RepliesPerDay)
	}
	memWant(t, "help answers", ms[:1], memMallory)
	m.write(memMallory, "", memJoinAddr, "join", "")
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("over the limit, a join request was answered: %v", ms)
	}
	// Other addresses are not affected.
	m.command(aliceAddr, aliceName, "self on")

	// A member over the limit: password must not change without the
	// answer that carries the new one.
	for i := 0; i < listserv.RepliesPerDay; i++ {
		m.write(brunoAddr, memBrunoName, memRequestAddr, "help", "")
	}
	m.settle()
	m.write(brunoAddr, memBrunoName, memRequestAddr, "password", "")
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("over the limit, a password command was answered: %v", ms)
	}
	var welcome string
	for _, mm := range m.history {
		if mm.Rcpt == brunoAddr && mm.subject() == "Welcome to "+testGroup {
			welcome = m.welcomePassword(mm, brunoAddr)
		}
	}
	m.wantPassword(brunoAddr, welcome, true)
}

// memWriteTemplate writes an override template under dataDir/templates.
func memWriteTemplate(t *testing.T, dataDir, rel, text string) {
	t.Helper()
	p := filepath.Join(dataDir, "templates", rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTemplateOverride: a deployment's override directory changes the
// welcome for every group, a group's subdirectory for that group.
func TestTemplateOverride(t *testing.T) {
	m := newMemEnv(t, func(c *config.Config) {
		memWriteTemplate(t, c.DataDir, "welcome.tmpl",
			"{{define \"subject\"}}Glad you are here, {{.Alias}}{{end}}\nDeployment welcome to {{.Group}}. Password: {{.Password}}\n")
		memWriteTemplate(t, c.DataDir, testGroup+"/welcome.tmpl",
			"{{define \"subject\"}}Recovery welcome{{end}}\nThe recovery group's own welcome, {{.Alias}}.\n")
	})
	ctx := context.Background()
	for _, g := range []string{testGroup, "grief"} {
		if _, err := m.srv.Service.CreateGroup(ctx, listserv.GroupSpec{Name: g}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.srv.Service.AddMember(ctx, g, aliceAddr, false); err != nil {
			t.Fatal(err)
		}
	}
	ms := m.settle()
	memWant(t, "two welcomes", ms, aliceAddr, aliceAddr)
	rec, err := m.srv.Store.MemberByAddr(testGroup, aliceAddr)
	if err != nil {
		t.Fatal(err)
	}
	grief, err := m.srv.Store.MemberByAddr("grief", aliceAddr)
	if err != nil {
		t.Fatal(err)
	}
	var sawRec, sawGrief bool
	for _, mm := range ms {
		switch mm.subject() {
		case "Recovery welcome":
			sawRec = true
			if want := "The recovery group's own welcome, " + rec.Alias + "."; !strings.Contains(mm.Body, want) {
				t.Errorf("group welcome body %q, want %q", mm.Body, want)
			}
		case "Glad you are here, " + grief.Alias:
			sawGrief = true
			if !strings.Contains(mm.Body, "Deployment welcome to grief. Password: ") {
				t.Errorf("deployment welcome body %q", mm.Body)
			}
		default:
			t.Errorf("unexpected welcome %v:\n%s", mm, mm.Body)
		}
	}
	if !sawRec || !sawGrief {
		t.Errorf("welcomes: group override %v, deployment override %v", sawRec, sawGrief)
	}
}

// TestTemplateHeaderInjection: neither a template nor a value it
// inserts can add a header line.
func TestTemplateHeaderInjection(t *testing.T) {
	m := newMemEnv(t, func(c *config.Config) {
		memWriteTemplate(t, c.DataDir, "help.tmpl",
			"{{define \"subject\"}}Help{{\"\\r\\n\"}}Bcc: evil@attacker.example{{\"\\n\"}}X-Injected: yes{{end}}\nHelp text.\n")
	})
	m.fixture("approve", "moderated")
	m.write(aliceAddr, aliceName, memRequestAddr, "help", "")
	ms := m.settle()
	memWant(t, "help", ms, aliceAddr)
	if got := ms[0].subject(); got != "Help Bcc: evil@attacker.example X-Injected: yes" {
		t.Errorf("subject %q, want the text on one line", got)
	}
	// A value: a held post's subject that decodes to CR LF.
	m.mail(aliceAddr, groupAddr, m.headers(aliceName+" <"+aliceAddr+">", groupAddr,
		"=?utf-8?q?Hi=0D=0ABcc:_evil@attacker.example=0D=0AX-Injected:_yes?="), "Hi.\n")
	ms = m.settle()
	memWant(t, "held notices", ms, memAda, memBen, aliceAddr)
	for _, mm := range ms {
		if strings.ContainsAny(mm.subject(), "\r\n") {
			t.Errorf("subject %q has a line break", mm.subject())
		}
	}
	if _, err := os.Stat(filepath.Join(m.cfg.DataDir, "outbox", "evil@attacker.example")); err == nil {
		t.Errorf("mail went to the injected Bcc")
	}
}

// TestBrokenTemplateFailsStart: a broken override stops the start, with
// an error naming the template (and the group for a group's override).
func TestBrokenTemplateFailsStart(t *testing.T) {
	base := config.Default()
	base.Domain = testDomain
	base.Hostname = "mx." + testDomain
	base.SMTP.Listen = "127.0.0.1:0"
	base.IMAP.Listen = ""
	base.Auth.PasswordCost = 4
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name, rel, text string
		want            []string
	}{
		{"unknown field", "welcome.tmpl", "{{define \"subject\"}}Hi{{end}}{{.NoSuchField}}\n", []string{"welcome", "NoSuchField"}},
		{"syntax", "goodbye.tmpl", "{{define \"subject\"}}Bye{{end}}{{if}}\n", []string{"goodbye"}},
		{"no subject", "help.tmpl", "Just a body.\n", []string{"help", "subject"}},
		{"value of another notice", "welcome.tmpl", "{{define \"subject\"}}Hi{{end}}{{.Requester}}\n", []string{"welcome", "Requester"}},
		{"group override", "grief/welcome.tmpl", "{{define \"subject\"}}{{.Nope}}{{end}}\n", []string{"welcome", "grief"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.DataDir = t.TempDir()
			srv, err := server.Start(cfg, server.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Service.CreateGroup(context.Background(), listserv.GroupSpec{Name: "grief"}); err != nil {
				t.Fatal(err)
			}
			srv.Close()
			memWriteTemplate(t, cfg.DataDir, tc.rel, tc.text)
			srv, err = server.Start(cfg, server.Options{Logger: log})
			if err == nil {
				defer srv.Close()
				t.Fatalf("server started with a broken %s", tc.rel)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("start error %q does not name %q", err, w)
				}
			}
		})
	}
}
