package server_test

// Bounce processing end to end: posts go out through a smarthost sink
// with VERP envelope senders, bounces come back over SMTP to those
// addresses, and the member's score, suspension, the admins' notice and
// reactivation follow (listserv/bounce.go).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"listserv/listserv"
	"listserv/listserv/cli"
	"listserv/listserv/config"
)

const bounceAdmin = "facilitator@example.org"

// dsnBounce is an RFC 3464 report about one failed recipient.
func dsnBounce(verp, rcpt, action, status, diag string) []byte {
	return message([]string{
		"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>",
		"To: " + verp,
		"Subject: Undelivered Mail Returned to Sender",
		"Date: Tue, 03 Mar 2026 09:20:00 +0000",
		"MIME-Version: 1.0",
		`Content-Type: multipart/report; report-type=delivery-status; boundary="bnd"`,
	}, `--bnd
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com. Your message could not
be delivered to one or more recipients.

--bnd
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; `+rcpt+`
Action: `+action+`
Status: `+status+`
Diagnostic-Code: smtp; `+diag+`

--bnd
Content-Type: text/rfc822-headers

Subject: a post

--bnd--
`)
}

// plainBounce is a non-standard bounce: text only.
func plainBounce(verp, rcpt string) []byte {
	return message([]string{
		"From: postmaster@mx.example.com",
		"To: " + verp,
		"Subject: Undeliverable: a post",
	}, "Delivery has failed to these recipients:\n\n"+rcpt+
		"\nRemote Server returned '550 5.5.0 Requested action not taken: mailbox unavailable'\n")
}

// verpOf posts a message from Alice and returns the envelope sender of
// its copy to rcpt.
func (e *env) verpOf(subject, rcpt string) (verp, token string) {
	e.t.Helper()
	e.post(aliceAddr, simple(aliceName+" <"+aliceAddr+">", subject, strings.ReplaceAll(subject, " ", ".")+"@example.org"))
	for _, c := range e.waitPosts(subject, 4) {
		if c.Rcpt == rcpt {
			m := verpRE.FindStringSubmatch(c.EnvFrom)
			if m == nil {
				e.t.Fatalf("envelope sender %q is no VERP address", c.EnvFrom)
			}
			e.secret(m[1])
			return c.EnvFrom, m[1]
		}
	}
	e.t.Fatalf("no copy of %q to %s", subject, rcpt)
	return "", ""
}

// bounce sends a bounce to a VERP address from the null sender and
// fails unless it is accepted.
func (e *env) bounce(verp string, msg []byte) {
	e.t.Helper()
	if st, err := e.send("", []string{verp}, msg); st != stepOK {
		e.t.Fatalf("bounce refused at %s: %v", st, err)
	}
}

func (e *env) score(addr string) float64 {
	e.t.Helper()
	return e.member(testGroup, addr).Bounce.Score
}

func TestBounces(t *testing.T) {
	e := newEnv(t, setup{sink: true, config: func(c *config.Config) { c.Delivery.BounceThreshold = 3 }})
	e.group(listserv.GroupSpec{Name: testGroup, JoinPolicy: "approve", PostPolicy: "members", Admins: []string{bounceAdmin}},
		aliceAddr, brunoAddr, carmenAddr)
	e.secret(aliceName)
	carmen := e.member(testGroup, carmenAddr)

	// A hard DSN: +1.
	verp1, tok1 := e.verpOf("first post", carmenAddr)
	e.bounce(verp1, dsnBounce(verp1, carmenAddr, "failed", "5.1.1", "550 5.1.1 <"+carmenAddr+">: Recipient address rejected: User unknown"))
	if s := e.score(carmenAddr); s != 1 {
		t.Fatalf("score after a hard bounce: %v, want 1", s)
	}
	// The same delivery reported again: counted once.
	e.bounce(verp1, dsnBounce(verp1, carmenAddr, "failed", "5.1.1", "550 5.1.1 user unknown"))
	if s := e.score(carmenAddr); s != 1 {
		t.Fatalf("score after a second report of one delivery: %v, want 1", s)
	}

	// A forged token of the right shape (one character of its MAC
	// changed): taken, and nothing changes.
	// (Not the last character: its low bits may be base32 padding.)
	i := len(tok1) - 4
	c := byte('a')
	if tok1[i] == c {
		c = 'b'
	}
	forgedTok := tok1[:i] + string(c) + tok1[i+1:]
	forged := testGroup + "-bounces+" + forgedTok + "@" + testDomain
	e.secret(forgedTok)
	e.bounce(forged, dsnBounce(forged, carmenAddr, "failed", "5.1.1", "550 5.1.1 user unknown"))
	if s := e.score(carmenAddr); s != 1 {
		t.Fatalf("score after a forged bounce: %v, want 1", s)
	}
	if !strings.Contains(e.logs.String(), "bounce ignored") || !strings.Contains(e.logs.String(), "invalid token") {
		t.Errorf("the forged bounce is not logged as ignored:\n%s", e.logs)
	}

	// The author's DMARC policy refused the copy: not Carmen's fault.
	verp2, _ := e.verpOf("second post", carmenAddr)
	e.bounce(verp2, dsnBounce(verp2, carmenAddr, "failed", "5.7.26",
		"550-5.7.26 Unauthenticated email from example.org is not accepted due to domain's DMARC policy"))
	if s := e.score(carmenAddr); s != 1 {
		t.Fatalf("score after a DMARC bounce: %v, want 1", s)
	}
	if !strings.Contains(e.logs.String(), "dmarc bounce") {
		t.Errorf("no \"dmarc bounce\" in the log")
	}
	// A vacation notice to the envelope sender is no bounce.
	e.bounce(verp2, message([]string{"From: Carmen <" + carmenAddr + ">", "To: " + verp2, "Subject: Automatic reply: second post", "Auto-Submitted: auto-replied"},
		"I am away this week; my mailbox is full of unread mail. 550 user unknown.\n"))
	if s := e.score(carmenAddr); s != 1 {
		t.Fatalf("score after an auto-reply: %v, want 1", s)
	}
	// A delay warning counts nothing.
	e.bounce(verp2, dsnBounce(verp2, carmenAddr, "delayed", "4.4.1", "connect to mx.example.com: Connection timed out"))
	if s := e.score(carmenAddr); s != 1 {
		t.Fatalf("score after a delay warning: %v, want 1", s)
	}
	// A non-standard, plain-text bounce of the same delivery: +1.
	e.bounce(verp2, plainBounce(verp2, carmenAddr))
	if s := e.score(carmenAddr); s != 2 {
		t.Fatalf("score after a plain-text bounce: %v, want 2", s)
	}
	// A full mailbox is soft: +0.5.
	verp3, _ := e.verpOf("third post", carmenAddr)
	e.bounce(verp3, dsnBounce(verp3, carmenAddr, "failed", "4.2.2", "452 4.2.2 Mailbox full"))
	if m := e.member(testGroup, carmenAddr); m.Bounce.Score != 2.5 || m.Bounce.Suspended {
		t.Fatalf("after a soft bounce: %+v, want score 2.5, not suspended", m.Bounce)
	}
	if rows := e.memberList(testGroup); rows[carmenAddr][1] != "active" {
		t.Fatalf("member list before the threshold: %v", rows[carmenAddr])
	}

	// Past the threshold: suspended, and the admin told.
	verp4, _ := e.verpOf("fourth post", carmenAddr)
	before := len(e.sink.Messages())
	e.bounce(verp4, dsnBounce(verp4, carmenAddr, "failed", "5.1.1", "550 5.1.1 user unknown"))
	if m := e.member(testGroup, carmenAddr); !m.Bounce.Suspended || m.Bounce.Score != 3.5 || m.State != "active" {
		t.Fatalf("after the threshold: state %s, %+v", m.State, m.Bounce)
	}
	if rows := e.memberList(testGroup); rows[carmenAddr][1] != "suspended" {
		t.Fatalf("member list after the threshold: %v", rows[carmenAddr])
	}
	if !e.sink.WaitCount(before+1, 10*time.Second) {
		t.Fatal("no notice to the admin")
	}
	e.waitQueueEmpty()
	var notices []delivered
	for _, d := range e.deliveries() {
		if strings.HasPrefix(d.Header.Get("Subject"), "Delivery suspended") {
			notices = append(notices, d)
		}
	}
	if len(notices) != 1 || notices[0].Rcpt != bounceAdmin {
		t.Fatalf("suspension notices: %d, want one to the admin", len(notices))
	}
	text, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(notices[0].Body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{carmen.Alias, carmenAddr, "5.1.1", "listserv member reactivate " + testGroup + " " + carmenAddr} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the notice does not name %q:\n%s", want, text)
		}
	}
	for _, leak := range []string{"Recipient address rejected", "mx.example.com", "Diagnostic"} {
		if strings.Contains(string(text), leak) {
			t.Errorf("the notice quotes the bounce (%q):\n%s", leak, text)
		}
	}

	// The next post is not delivered to Carmen.
	e.post(aliceAddr, simple(aliceName+" <"+aliceAddr+">", "fifth post", "fifth@example.org"))
	for _, c := range e.waitPosts("fifth post", 3) {
		if c.Rcpt == carmenAddr {
			t.Fatal("a post was delivered to a suspended member")
		}
	}
	if n := len(e.posts("fifth post")); n != 3 {
		t.Fatalf("%d copies of the fifth post, want 3", n)
	}

	// Carmen writes to the group: reactivated, and she gets posts again.
	e.post(carmenAddr, simple("Carmen Vale <"+carmenAddr+">", "I am back", "back@example.com"))
	if m := e.member(testGroup, carmenAddr); m.Bounce.Suspended || m.Bounce.Score != 0 {
		t.Fatalf("after Carmen posted: %+v", m.Bounce)
	}
	e.waitPosts("I am back", 4)
	e.post(aliceAddr, simple(aliceName+" <"+aliceAddr+">", "sixth post", "sixth@example.org"))
	got := e.waitPosts("sixth post", 4)
	if !containsRcpt(got, carmenAddr) {
		t.Fatal("no copy to Carmen after she was reactivated")
	}

	// The log names members by id and alias, never the bounce's text.
	logs := e.logs.String()
	for _, leak := range []string{"Recipient address rejected", "Mailbox full", "Unauthenticated email", "mx.example.com"} {
		if strings.Contains(logs, leak) {
			t.Errorf("the log quotes a bounce (%q)", leak)
		}
	}
	if !strings.Contains(logs, fmt.Sprintf("member=%d", carmen.ID)) || !strings.Contains(logs, "alias="+carmen.Slug) {
		t.Errorf("the log does not name the member by id and alias")
	}
}

// TestBounceReactivateCLI: an admin resumes delivery from the command
// line; a request from the member reactivates too.
func TestBounceReactivateCLI(t *testing.T) {
	e := newEnv(t, setup{sink: true, config: func(c *config.Config) { c.Delivery.BounceThreshold = 1 }})
	e.group(listserv.GroupSpec{Name: testGroup, JoinPolicy: "approve", PostPolicy: "members", Admins: []string{bounceAdmin}},
		aliceAddr, brunoAddr, carmenAddr)
	suspend := func(subject string) {
		t.Helper()
		verp, _ := e.verpOf(subject, brunoAddr)
		e.bounce(verp, dsnBounce(verp, brunoAddr, "failed", "5.1.1", "550 5.1.1 user unknown"))
		if !e.member(testGroup, brunoAddr).Bounce.Suspended {
			t.Fatal("not suspended at threshold 1")
		}
	}
	suspend("one")
	var out, errw bytes.Buffer
	if code := bounceCLI(e, &out, &errw, "member", "reactivate", testGroup, brunoAddr); code != 0 {
		t.Fatalf("member reactivate: exit %d: %s", code, errw.String())
	}
	if e.member(testGroup, brunoAddr).Bounce.Suspended {
		t.Fatal("still suspended after member reactivate")
	}
	if code := bounceCLI(e, &out, &errw, "member", "reactivate", testGroup, brunoAddr); code != 1 {
		t.Fatalf("reactivating an active member: exit %d, want 1", code)
	}

	suspend("two")
	msg := message([]string{"From: Bruno <" + brunoAddr + ">", "To: " + testGroup + "-request@" + testDomain, "Subject: help"}, "help\n")
	if st, err := e.send(brunoAddr, []string{testGroup + "-request@" + testDomain}, msg); st != stepOK {
		t.Fatalf("request refused at %s: %v", st, err)
	}
	if e.member(testGroup, brunoAddr).Bounce.Suspended {
		t.Fatal("still suspended after a request from the member")
	}
}

// bounceCLI runs an admin command and returns its exit status.
func bounceCLI(e *env, out, errw *bytes.Buffer, args ...string) int {
	return cli.Run(context.Background(), e.srv.Service, args, out, errw)
}

func containsRcpt(ds []delivered, rcpt string) bool {
	for _, d := range ds {
		if d.Rcpt == rcpt {
			return true
		}
	}
	return false
}
