package server_test

// End-to-end tests of the post flow (SPEC §3 Post, §4, §5, §10): a real
// SMTP client talks to the server started by server.Start on 127.0.0.1:0,
// and what the delivery transport receives is read back.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"listserv/listserv"
	"listserv/listserv/config"
	"listserv/listserv/delivery"
	"listserv/listserv/server"
	"listserv/mailstore"
)

// The identifying details of Alice's realistic post: none may reach a
// copy.
const (
	origMsgIDHost = "mail.alice-isp.net"
	origMsgID     = "CAF9q3=x7Kp0_w1@" + origMsgIDHost
	receivedIP1   = "203.0.113.77"
	receivedIP2   = "198.51.100.23"
	receivedHost1 = "laptop-7.home.alicefamily.lan"
	receivedHost2 = "smtp-out.provider-mail.example"
	xMailerValue  = "Zimbra Desktop 7.2.8 (build 10234)"
	userAgent     = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Thunderbird/128.3.1"
	ipv6Client    = "2001:db8:85a3::8a2e:370:7334"
)

// aliceSubject is the subject of her post.
const aliceSubject = "Day 30 today"

func alicePost() []byte {
	return message([]string{
		"Return-Path: <" + aliceAddr + ">",
		"Received: from " + receivedHost2 + " (" + receivedHost2 + " [" + receivedIP2 + "])",
		"\tby mx." + testDomain + " with ESMTPS id 4XyZ1234",
		"\tfor <" + groupAddr + ">; Tue, 03 Mar 2026 09:15:02 -0800",
		"Received: from " + receivedHost1 + " ([" + receivedIP1 + "] helo=" + receivedHost1 + ")",
		"\tby " + receivedHost2 + " with esmtpsa (Exim 4.96) id 1abc; Tue, 03 Mar 2026 09:15:01 -0800",
		"Received: from [IPv6:" + ipv6Client + "] by " + receivedHost1 + "; Tue, 03 Mar 2026 09:15:00 -0800",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=sel2024;",
		"\th=from:to:subject:date:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;",
		"\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==",
		"From: " + aliceName + " <" + aliceAddr + ">",
		"To: " + groupAddr,
		"Subject: " + aliceSubject,
		"Date: Tue, 03 Mar 2026 09:15:00 -0800",
		"Message-ID: <" + origMsgID + ">",
		"X-Mailer: " + xMailerValue,
		"X-Originating-IP: [" + receivedIP1 + "]",
		"User-Agent: " + userAgent,
		"Organization: Example Family Household",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8; format=flowed",
		"Content-Transfer-Encoding: 8bit",
	}, "Hi all,\n\nThirty days without a drink today. I did not think I would make it\n"+
		"past the first week. Thank you for being here.\n\n"+
		"(You can write to me at "+aliceAddr+" if the list is too public,\n"+
		"I am "+aliceName+" on most sites.)\n\n"+
		"-- \n"+aliceName+"\n"+aliceAddr+"\n+1 555 0100\n")
}

// leaks are the strings of alicePost that identify her or her machines.
func aliceLeaks() []string {
	return []string{
		aliceAddr, aliceName, "alice", // address, display name, local part
		receivedIP1, receivedIP2, ipv6Client, receivedHost1, receivedHost2,
		"alicefamily", "provider-mail",
		xMailerValue, "Zimbra", "Thunderbird",
		origMsgIDHost, "alice-isp", origMsgID,
		"Example Family Household", "sel2024", "555 0100",
	}
}

var verpRE = regexp.MustCompile(`^` + testGroup + `-bounces\+([a-z2-7]+)@` + regexp.QuoteMeta(testDomain) + `$`)

// TestPostEndToEnd posts Alice's realistic message and checks each copy
// and the archive (SPEC §3 Post, §4), over both transports.
func TestPostEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		sink bool
	}{{"outbox", false}, {"smarthost", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, setup{sink: tc.sink})
			e.fixture()
			roster := e.memberList(testGroup)
			alice := e.member(testGroup, aliceAddr)
			if got := roster[aliceAddr]; len(got) < 2 || got[0] != alice.Alias || got[1] != "active" {
				t.Fatalf("member list row of the author = %q, want alias %q, active", got, alice.Alias)
			}
			aliasAddr := testGroup + "+" + alice.Slug + "@" + testDomain

			before := time.Now()
			e.post(aliceAddr, alicePost())
			copies := e.waitPosts(aliceSubject, 3)

			// One copy per member, the author included, and nothing more.
			var rcpts []string
			for _, c := range copies {
				rcpts = append(rcpts, c.Rcpt)
			}
			if want := []string{aliceAddr, brunoAddr, carmenAddr}; fmt.Sprint(rcpts) != fmt.Sprint(want) {
				t.Fatalf("copies went to %v, want %v", rcpts, want)
			}
			if n := e.archiveCount(testGroup); n != 1 {
				t.Fatalf("archive holds %d posts, want 1", n)
			}
			archived, meta, err := e.srv.Store.ArchivedPost(testGroup, 1)
			if err != nil {
				t.Fatal(err)
			}
			if meta.AuthorID != alice.ID {
				t.Errorf("archived post's author id %d, want Alice's %d", meta.AuthorID, alice.ID)
			}
			for _, leak := range aliceLeaks() {
				if bytes.Contains(bytes.ToLower(archived), bytes.ToLower([]byte(leak))) {
					t.Errorf("the archived post contains %q:\n%s", leak, archived)
				}
			}

			ids := map[string]bool{}
			tokens := map[string]bool{}
			for _, c := range copies {
				h := c.Header
				from, err := mail.ParseAddress(h.Get("From"))
				if err != nil {
					t.Fatalf("copy to %s: From %q: %v", c.Rcpt, h.Get("From"), err)
				}
				if from.Address != aliasAddr || from.Name != alice.Alias {
					t.Errorf("copy to %s: From = %q <%s>, want %q <%s>", c.Rcpt, from.Name, from.Address, alice.Alias, aliasAddr)
				}
				for _, f := range []string{"Reply-To", "To"} {
					a, err := mail.ParseAddress(h.Get(f))
					if err != nil || a.Address != groupAddr || a.Name != "" {
						t.Errorf("copy to %s: %s = %q, want <%s>", c.Rcpt, f, h.Get(f), groupAddr)
					}
				}
				if got := h.Get("Subject"); got != aliceSubject {
					t.Errorf("copy to %s: Subject %q, want %q", c.Rcpt, got, aliceSubject)
				}
				date := h.Get("Date")
				if !strings.HasSuffix(date, "+0000") {
					t.Errorf("copy to %s: Date %q is not in UTC (+0000)", c.Rcpt, date)
				}
				if d, err := mail.ParseDate(date); err != nil || d.Before(before.Add(-2*time.Second)) || d.After(time.Now().Add(2*time.Second)) {
					t.Errorf("copy to %s: Date %q (%v) is not the server's time of the post", c.Rcpt, date, err)
				}
				id := h.Get("Message-ID")
				if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@"+testDomain+">") || strings.Contains(id, origMsgID) {
					t.Errorf("copy to %s: Message-ID %q is not a fresh one on %s", c.Rcpt, id, testDomain)
				}
				ids[id] = true
				for f, want := range map[string]string{
					"List-Id":          "<" + testGroup + "." + testDomain + ">",
					"List-Post":        "<mailto:" + groupAddr + ">",
					"List-Unsubscribe": "<mailto:" + testGroup + "-leave@" + testDomain + ">",
					"Precedence":       "list",
					"MIME-Version":     "1.0",
				} {
					if got := h.Get(f); got != want {
						t.Errorf("copy to %s: %s = %q, want %q", c.Rcpt, f, got, want)
					}
				}
				for _, f := range []string{"Received", "X-Mailer", "X-Originating-IP", "User-Agent", "DKIM-Signature", "Organization", "Return-Path"} {
					if v := h.Get(f); v != "" {
						t.Errorf("copy to %s: %s survived: %q", c.Rcpt, f, v)
					}
				}
				// VERP: the envelope sender's token names this delivery's
				// member, never an address.
				m := verpRE.FindStringSubmatch(c.EnvFrom)
				if m == nil {
					t.Errorf("copy to %s: envelope sender %q, want %s-bounces+TOKEN@%s", c.Rcpt, c.EnvFrom, testGroup, testDomain)
				} else {
					memberID, _, ok := delivery.ParseVERPToken(e.srv.Store.VERPKey(), testGroup, m[1])
					if want := e.member(testGroup, c.Rcpt).ID; !ok || memberID != want {
						t.Errorf("copy to %s: VERP token names member %d (valid %v), want %d", c.Rcpt, memberID, ok, want)
					}
					tokens[m[1]] = true
				}
				// Nothing of Alice's identity, anywhere in the bytes.
				lower := bytes.ToLower(c.Data)
				for _, leak := range aliceLeaks() {
					if bytes.Contains(lower, bytes.ToLower([]byte(leak))) {
						t.Errorf("copy to %s contains %q:\n%s", c.Rcpt, leak, c.Data)
					}
				}
				if !bytes.Contains(c.Body, []byte("Thirty days without a drink today.")) {
					t.Errorf("copy to %s lost the text:\n%s", c.Rcpt, c.Body)
				}
				if !bytes.Contains(c.Body, []byte(aliasAddr)) {
					t.Errorf("copy to %s: the author's address in the text is not replaced by the alias address:\n%s", c.Rcpt, c.Body)
				}
				if !bytes.Equal(c.Data, archived) {
					t.Errorf("copy to %s differs from the archived post:\n%s\n---\n%s", c.Rcpt, c.Data, archived)
				}
			}
			if len(ids) != 1 {
				t.Fatalf("recipients saw %d different Message-IDs: %v", len(ids), ids)
			}
			if len(tokens) != 3 {
				t.Errorf("%d distinct VERP tokens for 3 deliveries", len(tokens))
			}
			for id := range ids {
				if "<"+meta.MessageID+">" != id {
					t.Errorf("archive Message-ID %q, recipients saw %q", meta.MessageID, id)
				}
			}
		})
	}
}

// TestThreading checks that replies thread for members (SPEC §4): a
// reply citing the author's original Message-ID is mapped to ours, ours
// is kept, anything else is dropped.
func TestThreading(t *testing.T) {
	e := newEnv(t, setup{sink: true})
	e.fixture()
	e.post(aliceAddr, simple(aliceName+" <"+aliceAddr+">", "Thread start", origMsgID))
	ours := e.waitPosts("Thread start", 3)[0].Header.Get("Message-ID")

	// Bruno's client cites Alice's original id (he got it from elsewhere,
	// or his reply went through a path that kept it).
	e.post(brunoAddr, simple("Bruno <"+brunoAddr+">", "Re: Thread start (original id)", "r1@bruno.example.net",
		"In-Reply-To: <"+origMsgID+">", "References: <"+origMsgID+">"))
	// Carmen replies to the copy she received.
	e.post(carmenAddr, simple("Carmen <"+carmenAddr+">", "Re: Thread start (our id)", "r2@carmen.example.com",
		"In-Reply-To: "+ours, "References: <unknown-1@elsewhere.example> "+ours))
	// A reference nobody here knows.
	e.post(brunoAddr, simple("Bruno <"+brunoAddr+">", "Re: something else", "r3@bruno.example.net",
		"In-Reply-To: <unknown-2@elsewhere.example>", "References: <unknown-2@elsewhere.example>"))

	for _, tc := range []struct {
		subject, inReplyTo, references string
	}{
		{"Re: Thread start (original id)", ours, ours},
		{"Re: Thread start (our id)", ours, ours},
		{"Re: something else", "", ""},
	} {
		for _, c := range e.waitPosts(tc.subject, 3) {
			if got := c.Header.Get("In-Reply-To"); got != tc.inReplyTo {
				t.Errorf("%q to %s: In-Reply-To %q, want %q", tc.subject, c.Rcpt, got, tc.inReplyTo)
			}
			if got := c.Header.Get("References"); got != tc.references {
				t.Errorf("%q to %s: References %q, want %q", tc.subject, c.Rcpt, got, tc.references)
			}
			for _, leak := range []string{"elsewhere.example", origMsgIDHost, "bruno.example.net", "carmen.example.com"} {
				if bytes.Contains(c.Data, []byte(leak)) {
					t.Errorf("%q to %s contains %q", tc.subject, c.Rcpt, leak)
				}
			}
		}
	}
	if n := e.archiveCount(testGroup); n != 4 {
		t.Errorf("archive holds %d posts, want 4", n)
	}
}

// nothingStored checks that the archive still holds want posts and that no
// delivery is queued (every earlier one has been worked off).
func nothingStored(t *testing.T, e *env, group string, want int) {
	t.Helper()
	if n := e.archiveCount(group); n != want {
		t.Errorf("archive of %s holds %d posts, want %d", group, n, want)
	}
	n, _, err := e.srv.Store.QueueStats()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d deliveries queued, want none", n)
	}
}

// TestRejections checks the SMTP answers to what must not be posted
// (SPEC §2, §3, §5, §10), and that a refused message leaves nothing in
// the store.
func TestRejections(t *testing.T) {
	e := newEnv(t, setup{sink: true})
	e.fixture()
	aliceFrom := aliceName + " <" + aliceAddr + ">"
	delivered := func() int {
		n := 0
		for _, d := range e.deliveries() {
			if !d.welcome() {
				n++
			}
		}
		return n
	}
	base := delivered()

	t.Run("unknown group", func(t *testing.T) {
		st, err := e.send(aliceAddr, []string{"nosuchgroup@" + testDomain}, simple(aliceFrom, "x", "u1@example.org"))
		wantRefused(t, st, err, stepRcpt, 550, smtp.EnhancedCode{5, 1, 1})
	})
	t.Run("foreign domain", func(t *testing.T) {
		for _, rcpt := range []string{testGroup + "@example.com", "someone@gmail.example", testGroup + "@sub." + testDomain} {
			st, err := e.send(aliceAddr, []string{rcpt}, simple(aliceFrom, "x", "u2@example.org"))
			wantRefused(t, st, err, stepRcpt, 550, smtp.EnhancedCode{5, 1, 1})
		}
	})
	t.Run("non-member", func(t *testing.T) {
		st, err := e.send("mallory@evil.example", []string{groupAddr}, simple("Mallory <mallory@evil.example>", "spam", "m1@evil.example"))
		wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
		// A member's envelope does not help a non-member From.
		st, err = e.send(aliceAddr, []string{groupAddr}, simple("Mallory <mallory@evil.example>", "spam", "m2@evil.example"))
		wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
		// No From at all.
		st, err = e.send(aliceAddr, []string{groupAddr}, message([]string{"To: " + groupAddr, "Subject: no from"}, "body\n"))
		wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
		nothingStored(t, e, testGroup, 0)
	})
	t.Run("removed member", func(t *testing.T) {
		e.group(listserv.GroupSpec{Name: "leavers"}, "gone@example.org")
		if _, err := e.srv.Service.RemoveMember(context.Background(), "leavers", "gone@example.org"); err != nil {
			t.Fatal(err)
		}
		st, err := e.send("gone@example.org", []string{"leavers@" + testDomain}, simple("Gone <gone@example.org>", "still here?", "g1@example.org"))
		wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
		nothingStored(t, e, "leavers", 0)
	})
	t.Run("second recipient", func(t *testing.T) {
		e.group(listserv.GroupSpec{Name: "other"}, aliceAddr)
		st, err := e.send(aliceAddr, []string{groupAddr, "other@" + testDomain}, simple(aliceFrom, "x", "two@example.org"))
		wantRefused(t, st, err, stepRcpt, 452, smtp.EnhancedCode{4, 5, 3})
		st, err = e.send(aliceAddr, []string{groupAddr, groupAddr}, simple(aliceFrom, "x", "two2@example.org"))
		wantRefused(t, st, err, stepRcpt, 452, smtp.EnhancedCode{4, 5, 3})
		nothingStored(t, e, testGroup, 0)
		nothingStored(t, e, "other", 0)
	})
	t.Run("line over 64 KiB", func(t *testing.T) {
		long := strings.Repeat("a", 70*1024)
		st, err := e.send(aliceAddr, []string{groupAddr}, message([]string{"From: " + aliceFrom, "To: " + groupAddr, "Subject: long"}, "start\n"+long+"\nend\n"))
		wantRefused(t, st, err, stepEnd, 554, smtp.EnhancedCode{5, 6, 0})
		nothingStored(t, e, testGroup, 0)
	})
	t.Run("NUL byte", func(t *testing.T) {
		st, err := e.send(aliceAddr, []string{groupAddr}, message([]string{"From: " + aliceFrom, "To: " + groupAddr, "Subject: nul"}, "a\x00b\n"))
		wantRefused(t, st, err, stepEnd, 554, smtp.EnhancedCode{5, 6, 0})
		nothingStored(t, e, testGroup, 0)
	})
	t.Run("robots", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			mailFrom string
			extra    []string
		}{
			{"Auto-Submitted", aliceAddr, []string{"Auto-Submitted: auto-replied"}},
			{"Precedence bulk", aliceAddr, []string{"Precedence: bulk"}},
			{"Precedence junk", aliceAddr, []string{"Precedence: junk"}},
			{"Precedence list", aliceAddr, []string{"Precedence: list"}},
			{"X-Autorespond", aliceAddr, []string{"X-Autorespond: vacation"}},
			{"our List-Id", aliceAddr, []string{"List-Id: Recovery <" + testGroup + "." + testDomain + ">"}},
			{"X-Autoreply", aliceAddr, []string{"X-Autoreply: yes"}},
			{"null sender", "", nil},
		} {
			st, err := e.send(tc.mailFrom, []string{groupAddr}, simple(aliceFrom, "robot "+tc.name, "robot@example.org", tc.extra...))
			if st != stepOK {
				t.Errorf("%s: refused at %s (%v), want 250 and a silent drop", tc.name, st, err)
			}
		}
		nothingStored(t, e, testGroup, 0)
		// The drops are specific: "Auto-Submitted: no" and another list's
		// List-Id are ordinary posts.
		e.post(aliceAddr, simple(aliceFrom, "human", "human@example.org", "Auto-Submitted: no", "List-Id: <other.lists.elsewhere.example>"))
		e.waitPosts("human", 3)
		nothingStored(t, e, testGroup, 1)
	})
	t.Run("announce group", func(t *testing.T) {
		e.group(listserv.GroupSpec{Name: "news", PostPolicy: "announce", Admins: []string{"dora@example.org"}}, aliceAddr)
		st, err := e.send(aliceAddr, []string{"news@" + testDomain}, simple(aliceFrom, "not an admin", "n1@example.org"))
		wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
		nothingStored(t, e, "news", 0)
		if st, err := e.send("dora@example.org", []string{"news@" + testDomain}, simple("Dora <dora@example.org>", "announcement", "n2@example.org")); st != stepOK {
			t.Fatalf("the admin's announcement was refused at %s: %v", st, err)
		}
		e.waitPosts("announcement", 2)
		nothingStored(t, e, "news", 1)
	})
	t.Run("rate limit", func(t *testing.T) {
		e.group(listserv.GroupSpec{Name: "chatty"}, aliceAddr, brunoAddr)
		if _, err := e.srv.Store.UpdateGroup("chatty", func(g *mailstore.Group) error { g.PostsPerHour = 2; return nil }); err != nil {
			t.Fatal(err)
		}
		to := []string{"chatty@" + testDomain}
		for i := 1; i <= 2; i++ {
			if st, err := e.send(aliceAddr, to, simple(aliceFrom, fmt.Sprintf("chat %d", i), fmt.Sprintf("c%d@example.org", i))); st != stepOK {
				t.Fatalf("post %d refused at %s: %v", i, st, err)
			}
		}
		st, err := e.send(aliceAddr, to, simple(aliceFrom, "chat 3", "c3@example.org"))
		wantRefused(t, st, err, stepEnd, 451, smtp.EnhancedCode{4, 7, 1})
		e.waitQueueEmpty()
		nothingStored(t, e, "chatty", 2)
		// The limit is per member.
		if st, err := e.send(brunoAddr, to, simple("Bruno <"+brunoAddr+">", "chat bruno", "cb@example.net")); st != stepOK {
			t.Fatalf("another member's post refused at %s: %v", st, err)
		}
		e.waitQueueEmpty()
		nothingStored(t, e, "chatty", 3)
	})
	// Of all the above, only the deliberate posts were delivered: the
	// control post (3 copies), the announcement (2), chatty (2×2 + 2).
	if got, want := delivered()-base, 3+2+6; got != want {
		t.Errorf("%d posts delivered since the start, want %d", got, want)
	}
}

// TestSizeLimit checks 552 5.3.4 both at MAIL (SIZE) and at the end of
// DATA (SPEC §10).
func TestSizeLimit(t *testing.T) {
	e := newEnv(t, setup{sink: true, config: func(c *config.Config) { c.SMTP.MaxMessageBytes = 4096 }})
	e.fixture()
	big := simple(aliceName+" <"+aliceAddr+">", "big", "big@example.org")
	big = append(big, bytes.Repeat([]byte("all work and no play\r\n"), 400)...)

	st, err := e.sendOpts(aliceAddr, &smtp.MailOptions{Size: int64(len(big))}, []string{groupAddr}, big)
	wantRefused(t, st, err, stepMail, 552, smtp.EnhancedCode{5, 3, 4})
	st, err = e.send(aliceAddr, []string{groupAddr}, big)
	wantRefused(t, st, err, stepEnd, 552, smtp.EnhancedCode{5, 3, 4})
	nothingStored(t, e, testGroup, 0)

	// Under the limit still works.
	e.post(aliceAddr, simple(aliceName+" <"+aliceAddr+">", "small", "small@example.org"))
	e.waitPosts("small", 3)
	nothingStored(t, e, testGroup, 1)
}

// TestBareLFSmuggling sends, over a raw connection, a body whose bare-LF
// "end of data" hides a second transaction (SPEC §10): it must never
// become two posts.
func TestBareLFSmuggling(t *testing.T) {
	for _, tc := range []struct{ name, eod string }{
		{"LF.LF", "\n.\n"},
		{"CRLF.LF", "\r\n.\n"},
		{"LF.CRLF", "\n.\r\n"},
		{"CR.CR", "\r.\r"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, setup{sink: true})
			e.fixture()
			s := e.raw()
			s.cmd("EHLO client.example.net", 250)
			s.cmd("MAIL FROM:<"+aliceAddr+">", 250)
			s.cmd("RCPT TO:<"+groupAddr+">", 250)
			s.cmd("DATA", 354)
			smuggled := "MAIL FROM:<x@evil.example>" + tc.eod[len(tc.eod)-1:] +
				"RCPT TO:<" + groupAddr + ">" + tc.eod[len(tc.eod)-1:] +
				"DATA" + tc.eod[len(tc.eod)-1:] +
				"From: " + aliceName + " <" + aliceAddr + ">" + tc.eod[len(tc.eod)-1:] +
				"Subject: smuggled" + tc.eod[len(tc.eod)-1:] + tc.eod[len(tc.eod)-1:] +
				"smuggled body" + tc.eod + "and the real end follows\r\n"
			s.write("From: " + aliceName + " <" + aliceAddr + ">\r\n" +
				"To: " + groupAddr + "\r\n" +
				"Subject: carrier\r\n" +
				"Message-ID: <carrier@example.org>\r\n" +
				"\r\n" +
				"innocent text" + tc.eod + smuggled + ".\r\n")
			code, line := s.reply()
			if code != 250 && code/100 != 5 {
				t.Fatalf("end of DATA: %q, want 250 or a permanent refusal", line)
			}
			// The very next reply must answer our next command: no reply to
			// a smuggled MAIL, RCPT or DATA may be pending.
			s.cmd("NOOP", 250)
			s.cmd("QUIT", 221)

			want := 0
			if code == 250 {
				want = 1
				e.waitPosts("carrier", 3)
			}
			e.waitQueueEmpty()
			nothingStored(t, e, testGroup, want)
			if len(e.posts("smuggled")) != 0 {
				t.Error("the smuggled message was delivered as a post of its own")
			}
			for _, m := range e.sink.Messages() {
				if strings.Contains(m.From, "evil") {
					t.Errorf("a delivery used the smuggled envelope sender %q", m.From)
				}
			}
			if code == 250 {
				raw, _, err := e.srv.Store.ArchivedPost(testGroup, 1)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(raw, []byte("smuggled body")) || !bytes.Contains(raw, []byte("and the real end follows")) {
					t.Errorf("the post lost the rest of its body:\n%s", raw)
				}
				// The relay dot-stuffs: each member gets the whole post,
				// byte for byte as archived.
				for _, c := range e.posts("carrier") {
					if !bytes.Equal(c.Data, raw) {
						t.Errorf("copy to %s differs from the archived post:\n%q\n---\n%q", c.Rcpt, c.Data, raw)
					}
				}
				if bytes.Contains(raw, []byte("\n.\r\n")) && !bytes.Contains(raw, []byte("\r\n.\r\n")) {
					t.Errorf("a bare line ending survived in the stored post:\n%q", raw)
				}
				for i, c := range raw {
					if c == '\n' && (i == 0 || raw[i-1] != '\r') || c == '\r' && (i+1 == len(raw) || raw[i+1] != '\n') {
						t.Fatalf("bare CR or LF at %d of the stored post: %q", i, raw)
					}
				}
			}
		})
	}
}

// TestStoreFailure makes the post's commit fail for real (the database
// file cannot grow past RLIMIT_FSIZE) and checks 451 4.3.0 with nothing
// stored, then that the same post is accepted once the store can be
// written again (SPEC §10: "store full or unwritable: 451, the post is
// not lost").
func TestStoreFailure(t *testing.T) {
	e := newEnv(t, setup{sink: true})
	e.fixture()
	aliceFrom := aliceName + " <" + aliceAddr + ">"
	// Big enough that its commit must grow the database file.
	big := simple(aliceFrom, "big post", "bigpost@example.org")
	big = append(big, bytes.Repeat([]byte("I have a lot to say today, sorry for the long post.\r\n"), 6000)...)

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	size := fileSize(t, e.srv.Store.Path())
	if size >= int64(len(big)) {
		t.Fatalf("database file (%d bytes) already larger than the post (%d): the commit would not need to grow it", size, len(big))
	}
	lim := old
	lim.Cur = uint64(size)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skipf("cannot lower RLIMIT_FSIZE: %v", err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
				t.Fatalf("restoring RLIMIT_FSIZE: %v", err)
			}
		}
	}
	defer restore()

	st, err := e.send(aliceAddr, []string{groupAddr}, big)
	restore()
	wantRefused(t, st, err, stepEnd, 451, smtp.EnhancedCode{4, 3, 0})
	nothingStored(t, e, testGroup, 0)
	if !strings.Contains(e.logs.String(), "post not stored") {
		t.Errorf("the failed commit was not logged:\n%s", e.logs.String())
	}

	// The sender retries: accepted now, and the failure did not count
	// against the member's rate limit.
	if _, err := e.srv.Store.UpdateGroup(testGroup, func(g *mailstore.Group) error { g.PostsPerHour = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	e.post(aliceAddr, big)
	e.waitPosts("big post", 3)
	nothingStored(t, e, testGroup, 1)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Size
}

// TestLogsNeverNameMembers runs the whole flow, refusals included, with
// every log record captured at debug level, and checks that the log never
// holds a member's address or name (SPEC §4), while it does record the
// events by alias.
func TestLogsNeverNameMembers(t *testing.T) {
	e := newEnv(t, setup{sink: true})
	e.fixture()
	e.secret("alice@", "bruno.quist", "carmen.vale", "mallory@evil.example", "Mallory", receivedIP1, receivedHost1, origMsgIDHost)
	e.post(aliceAddr, alicePost())
	e.waitPosts(aliceSubject, 3)
	aliceFrom := aliceName + " <" + aliceAddr + ">"
	e.send("mallory@evil.example", []string{groupAddr}, simple("Mallory <mallory@evil.example>", "spam", "m@evil.example"))
	e.send(aliceAddr, []string{"nobody@" + testDomain}, simple(aliceFrom, "x", "x1@example.org"))
	e.send(aliceAddr, []string{"x@elsewhere.example"}, simple(aliceFrom, "x", "x2@example.org"))
	e.send(aliceAddr, []string{groupAddr}, message([]string{"From: " + aliceFrom, "Subject: nul"}, "a\x00b\n"))
	e.send(aliceAddr, []string{groupAddr}, simple(aliceFrom, "auto", "x3@example.org", "Auto-Submitted: auto-replied"))
	if _, err := e.srv.Service.RemoveMember(context.Background(), testGroup, carmenAddr); err != nil {
		t.Fatal(err)
	}
	alice := e.member(testGroup, aliceAddr)
	e.srv.Close() // flush the shutdown records too

	logs := e.logs.String()
	for _, want := range []string{"post accepted", "alias=" + alice.Slug, "post refused", "not a member", "message dropped", "member removed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not record %q:\n%s", want, logs)
		}
	}
	// The secrets registered by newEnv/fixture and above are checked
	// by newEnv's cleanup; check them here too for a clear failure.
	for _, s := range append(e.secrets, aliceName, aliceAddr, brunoAddr, carmenAddr) {
		if strings.Contains(strings.ToLower(logs), strings.ToLower(s)) {
			t.Errorf("the log names %q", s)
		}
	}
}

// TestSecondStartRefused checks that a second server on a served data
// directory fails fast and clearly, and leaves the first one working.
func TestSecondStartRefused(t *testing.T) {
	e := newEnv(t, setup{})
	e.fixture()
	start := time.Now()
	srv2, err := server.Start(e.cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		srv2.Close()
		t.Fatal("a second server started on a served data directory")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the second start took %v to fail", d)
	}
	if !strings.Contains(err.Error(), "another listserv") || !strings.Contains(err.Error(), e.cfg.DataDir) {
		t.Errorf("error %q does not say that another listserv serves %s", err, e.cfg.DataDir)
	}
	// The first server still takes posts.
	e.post(aliceAddr, simple(aliceName+" <"+aliceAddr+">", "still here", "still@example.org"))
	e.waitPosts("still here", 3)
}

// TestBareCRBeforeEndOfData: a body whose last line ends in a bare CR
// ("...\r\r\n.\r\n") must still end at the CRLF.CRLF and get an answer at
// once. It does not: go-smtp v0.25.1's dataReader (data.go, stateCR) drops
// back to stateData on a second '\r' instead of staying in stateCR, so it
// misses the terminator, the session waits for DataTimeout (5 minutes by
// default) and answers 451 4.4.2; the client retries the same bytes
// forever. Known bug, reported; set LISTSERV_KNOWN_BUGS=1 to run.
func TestBareCRBeforeEndOfData(t *testing.T) {
	if os.Getenv("LISTSERV_KNOWN_BUGS") == "" {
		t.Skip("known bug in go-smtp v0.25.1 dataReader: a bare CR before CRLF.CRLF hides the end of data (set LISTSERV_KNOWN_BUGS=1 to run)")
	}
	e := newEnv(t, setup{sink: true, config: func(c *config.Config) { c.SMTP.DataTimeout = config.Duration{Duration: 3 * time.Second} }})
	e.fixture()
	s := e.raw()
	s.cmd("EHLO client.example.net", 250)
	s.cmd("MAIL FROM:<"+aliceAddr+">", 250)
	s.cmd("RCPT TO:<"+groupAddr+">", 250)
	s.cmd("DATA", 354)
	start := time.Now()
	s.write("From: " + aliceName + " <" + aliceAddr + ">\r\nSubject: bare cr\r\n\r\nthe last line ends in a bare CR\r\r\n.\r\n")
	code, line := s.reply()
	if d := time.Since(start); d > time.Second || code != 250 && code/100 != 5 {
		t.Fatalf("end of DATA answered %q after %v, want 250 or a 5xx at once", line, d)
	}
}

// TestLongLineReencoded: a post with a line over 998 octets (but under 64
// KiB) is accepted, and its copies are valid mail: SPEC §10 has the part
// re-encoded as quoted-printable. The sink keeps go-smtp's 2000-octet line
// limit, so a copy relayed as it came would be refused.
func TestLongLineReencoded(t *testing.T) {
	e := newEnv(t, setup{sink: true})
	e.fixture()
	long := strings.Repeat("word ", 1000) + "end"
	e.post(aliceAddr, message([]string{
		"From: " + aliceName + " <" + aliceAddr + ">",
		"Subject: long line",
		"Content-Type: text/plain; charset=utf-8",
	}, "short line\n"+long+"\nlast line\n"))
	e.waitQueueEmpty()
	if failed, _ := e.srv.Store.FailedJobs(); len(failed) > 0 {
		t.Errorf("%d deliveries failed for good, first: %s", len(failed), failed[0].LastErr)
	}
	copies := e.posts("long line")
	if len(copies) != 3 {
		t.Fatalf("%d copies delivered, want 3", len(copies))
	}
	for _, c := range copies {
		for i, line := range bytes.Split(c.Data, []byte("\r\n")) {
			if len(line) > 998 {
				t.Errorf("copy to %s: line %d has %d octets", c.Rcpt, i+1, len(line))
			}
		}
		text, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(c.Body)))
		if c.Header.Get("Content-Transfer-Encoding") != "quoted-printable" || err != nil || !bytes.Contains(text, []byte(long)) {
			t.Errorf("copy to %s: not a quoted-printable part holding the long line (CTE %q, %v)", c.Rcpt, c.Header.Get("Content-Transfer-Encoding"), err)
		}
	}
}

// TestDefaultRateLimit: with the group's default posts_per_hour (30), the
// 31st post within the hour gets 451 4.7.1 and is not stored. The posts
// go over one SMTP connection, as a mail client's would.
func TestDefaultRateLimit(t *testing.T) {
	e := newEnv(t, setup{})
	e.group(listserv.GroupSpec{Name: "busy"}, aliceAddr)
	aliceFrom := aliceName + " <" + aliceAddr + ">"
	if g, _ := e.srv.Store.Group("busy"); g.PostsPerHour != 30 {
		t.Fatalf("default posts_per_hour = %d, want 30", g.PostsPerHour)
	}
	c, err := smtp.Dial(e.srv.SMTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(i int) error {
		if err := c.Mail(aliceAddr, nil); err != nil {
			return err
		}
		if err := c.Rcpt("busy@"+testDomain, nil); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		w.Write(simple(aliceFrom, fmt.Sprintf("post %d", i), fmt.Sprintf("p%d@example.org", i)))
		return w.Close()
	}
	for i := 1; i <= 30; i++ {
		if err := send(i); err != nil {
			t.Fatalf("post %d refused: %v", i, err)
		}
	}
	err = send(31)
	se, ok := err.(*smtp.SMTPError)
	if !ok || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 7, 1}) {
		t.Fatalf("31st post: %v, want 451 4.7.1", err)
	}
	if n, _ := e.srv.Store.ArchiveCount("busy"); n != 30 {
		t.Fatalf("%d posts archived, want 30", n)
	}
}
