package listserv

import (
	"context"
	"strings"
	"testing"
	"time"

	"listserv/mailstore"
)

// Bounce samples, written for these tests in the shapes real MTAs use.
// Each is the message as it reaches GROUP-bounces+TOKEN@.

const postfixDSN = `Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: recovery-bounces+abc@lists.example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="8E5C41A0B1.1772528100/mx.example.net"

This is a MIME-encapsulated message.

--8E5C41A0B1.1772528100/mx.example.net
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<bob@example.net>: host mail.example.net[192.0.2.10] said: 550 5.1.1
    <bob@example.net>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--8E5C41A0B1.1772528100/mx.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: 8E5C41A0B1
X-Postfix-Sender: rfc822; recovery-bounces+abc@lists.example.org
Arrival-Date: Tue,  3 Mar 2026 09:15:00 +0000 (UTC)

Final-Recipient: rfc822; bob@example.net
Original-Recipient: rfc822;bob@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mail.example.net
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address
    rejected: User unknown in virtual mailbox table

--8E5C41A0B1.1772528100/mx.example.net
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: "Quiet Heron" <recovery+quiet-heron@lists.example.org>
To: recovery@lists.example.org
Subject: hello

Hello.

--8E5C41A0B1.1772528100/mx.example.net--
`

// Exim's classic plain-text bounce (no DSN), with the returned message
// inline after the marker.
const eximPlain = `From: Mail Delivery System <Mailer-Daemon@mx.example.com>
To: recovery-bounces+abc@lists.example.org
Subject: Mail delivery failed: returning message to sender
Auto-Submitted: auto-replied
X-Failed-Recipients: carol@example.com

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  carol@example.com
    host mx1.example.com [198.51.100.7]
    SMTP error from remote mail server after RCPT TO:<carol@example.com>:
    550-5.1.1 <carol@example.com>: mailbox unavailable

------ This is a copy of the message, including all the headers. ------

From: "Quiet Heron" <recovery+quiet-heron@lists.example.org>
Subject: quota exceeded again, sigh

My mailbox is full: quota exceeded. Auto-reply. 4.2.2
`

const gmailDSN = `From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: recovery-bounces+abc@lists.example.org
Subject: Delivery Status Notification (Failure)
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000a1b2c3"; report-type=delivery-status

--000000000000a1b2c3
Content-Type: multipart/related; boundary="000000000000a1b2c4"

--000000000000a1b2c4
Content-Type: multipart/alternative; boundary="000000000000a1b2c5"

--000000000000a1b2c5
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to dana.lost@gmail.com because the address couldn't be found, or is unable to receive mail.

The response from the remote server was:
550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces.

--000000000000a1b2c5
Content-Type: text/html; charset="UTF-8"

<html><body><p>Address not found</p></body></html>

--000000000000a1b2c5--

--000000000000a1b2c4--

--000000000000a1b2c3
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; smtp.lists.example.org
Arrival-Date: Tue, 03 Mar 2026 01:15:08 -0800 (PST)
X-Original-Message-ID: <abc@lists.example.org>

Final-Recipient: rfc822; dana.lost@gmail.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (2a00:1450:4013:c16::1a, the
 server for the domain gmail.com.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does
 not exist. Please try 550-5.1.1 double-checking the recipient's email address for
 typos or 550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1
 https://support.google.com/mail/?p=NoSuchUser a1si1234567wrc.1 - gsmtp
Last-Attempt-Date: Tue, 03 Mar 2026 01:15:09 -0800 (PST)

--000000000000a1b2c3
Content-Type: text/rfc822-headers

From: "Quiet Heron" <recovery+quiet-heron@lists.example.org>
Subject: hello

--000000000000a1b2c3--
`

// An old Exchange-style non-delivery report without a DSN.
const microsoftPlain = `From: postmaster@outlook.example.com
To: recovery-bounces+abc@lists.example.org
Subject: Undeliverable: hello
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Delivery has failed to these recipients or groups:

erin@outlook.example.com
The e-mail address you entered couldn't be found.

Diagnostic information for administrators:

Generating server: EX01.outlook.example.com

erin@outlook.example.com
Remote Server returned '550 5.5.0 Requested action not taken: mailbox unava=
ilable'

Original message headers:
`

const quotaDSN = `From: MAILER-DAEMON@mx.example.org
To: recovery-bounces+abc@lists.example.org
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered: the recipient's mailbox is full.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; frank@example.org
Action: failed
Status: 4.2.2
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full (quota exceeded)

--b1--
`

const delayedDSN = `From: MAILER-DAEMON@mx.example.org
To: recovery-bounces+abc@lists.example.org
Subject: Delayed Mail (still being retried)
Content-Type: multipart/report; report-type=delivery-status; boundary="b2"

--b2
Content-Type: text/plain

This is the mail system at host mx.example.org.
Your message could not be delivered for 4.0 hours. It will be retried until it is 5.0 days old.

--b2
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; gina@example.org
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mail.example.org[192.0.2.1]:25: Connection timed out
Will-Retry-Until: Sun,  8 Mar 2026 09:15:00 +0000 (UTC)

--b2--
`

const autoReply = `From: Bob Example <bob@example.net>
To: recovery-bounces+abc@lists.example.org
Subject: Automatic reply: hello
Auto-Submitted: auto-replied
X-Autoreply: yes
Content-Type: text/plain

I am away until Monday with no access to email. Urgent matters:
call the office. (My old address, bob@old.example.net, does not exist
any more: user unknown there. 550 5.1.1)
`

const dmarcDSN = `From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: recovery-bounces+abc@lists.example.org
Subject: Delivery Status Notification (Failure)
Content-Type: multipart/report; report-type=delivery-status; boundary="b3"

--b3
Content-Type: text/plain

Message blocked.

--b3
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com

Final-Recipient: rfc822; hank@gmail.com
Action: failed
Status: 5.7.26
Diagnostic-Code: smtp; 550-5.7.26 Unauthenticated email from example.org is not
 accepted due to domain's DMARC policy. Please contact the administrator of
 example.org domain if this was a legitimate mail. - gsmtp

--b3--
`

const dmarcPlain = `From: postmaster@outlook.example.com
To: recovery-bounces+abc@lists.example.org
Subject: Undeliverable: hello
Content-Type: text/plain

Remote Server returned '550 5.7.509 Access denied, sending domain
example.org does not pass DMARC verification and has a DMARC policy of
reject.'
`

const spamPolicyDSN = `From: MAILER-DAEMON@mx.example.org
To: recovery-bounces+abc@lists.example.org
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="b4"

--b4
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; ivy@example.org
Action: failed
Status: 5.7.1
Diagnostic-Code: smtp; 554 5.7.1 Service unavailable; Client host blocked using zen.example

--b4--
`

const eximDelay = `From: Mail Delivery System <Mailer-Daemon@mx.example.com>
To: recovery-bounces+abc@lists.example.org
Subject: Warning: message 1vAbCd-000123-Xy delayed 24 hours
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.
A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on mx.example.com.

  jo@example.com
    Delay reason: SMTP error from remote mail server after RCPT TO:<jo@example.com>:
    451 4.7.1 Greylisted, please try again later

No action is required on your part. Delivery attempts will continue for
some time, and this warning may be repeated at intervals if the message
remains undelivered.
`

const phraseOnly = `From: postmaster@smallhost.example
To: recovery-bounces+abc@lists.example.org
Subject: Returned mail: see transcript for details

The original message was received at Tue, 3 Mar 2026 09:15:00 GMT

   ----- The following addresses had permanent fatal errors -----
<kim@smallhost.example>
    (reason: User unknown)
`

const readReceipt = `From: Bob <bob@example.net>
To: recovery-bounces+abc@lists.example.org
Subject: Read: hello
Content-Type: multipart/report; report-type=disposition-notification; boundary="b5"

--b5
Content-Type: text/plain

Your message was read.

--b5
Content-Type: message/disposition-notification

Final-Recipient: rfc822; bob@example.net
Disposition: manual-action/MDN-sent-manually; displayed

--b5--
`

const successDSN = `From: MAILER-DAEMON@mx.example.org
To: recovery-bounces+abc@lists.example.org
Subject: Successful Mail Delivery Report
Content-Type: multipart/report; report-type=delivery-status; boundary="b6"

--b6
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; lee@example.org
Action: delivered
Status: 2.0.0

--b6--
`

func crlfText(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestParseBounce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		msg    string
		kind   bounceKind
		status string
	}{
		{"postfix DSN, user unknown", postfixDSN, bounceHard, "5.1.1"},
		{"exim plain text", eximPlain, bounceHard, "5.1.1"},
		{"gmail DSN, no such account", gmailDSN, bounceHard, "5.1.1"},
		{"microsoft plain, mailbox unavailable", microsoftPlain, bounceHard, "5.5.0"},
		{"quota 4.2.2", quotaDSN, bounceSoft, "4.2.2"},
		{"postfix delay DSN", delayedDSN, bounceDelayed, "4.4.1"},
		{"exim delay warning", eximDelay, bounceDelayed, "4.7.1"},
		{"auto-reply", autoReply, notBounce, ""},
		{"gmail DMARC DSN", dmarcDSN, bounceDMARC, "5.7.26"},
		{"microsoft DMARC text", dmarcPlain, bounceDMARC, "5.7.509"},
		{"blocklist policy 5.7.1", spamPolicyDSN, bounceSoft, "5.7.1"},
		{"phrase only", phraseOnly, bounceHard, "5.0.0"},
		{"read receipt", readReceipt, notBounce, ""},
		{"success DSN", successDSN, notBounce, ""},
		{"empty", "", notBounce, ""},
		{"a post", "From: a@example.org\nSubject: hi\n\nuser unknown 550 5.1.1\n", notBounce, ""},
	} {
		for _, eol := range []string{"LF", "CRLF"} {
			raw := []byte(tc.msg)
			if eol == "CRLF" {
				raw = crlfText(tc.msg)
			}
			got := parseBounce(raw)
			if got.kind != tc.kind || got.status != tc.status {
				t.Errorf("%s (%s): got %v %q (%s), want %v %q", tc.name, eol, got.kind, got.status, got.why, tc.kind, tc.status)
			}
		}
	}
}

func TestFindStatus(t *testing.T) {
	for in, want := range map[string]string{
		"550 5.1.1 no":             "5.1.1",
		"550-5.1.1 no":             "5.1.1",
		"host 10.5.1.1 said: hi":   "",
		"version 5.1.1.2":          "",
		"(4.2.2)":                  "4.2.2",
		"status 5.7.509.":          "5.7.509",
		"see 192.0.2.1 5.2.2 full": "5.2.2",
		"2.0.0 ok":                 "",
	} {
		if got := findStatus(in); got != want {
			t.Errorf("findStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDescribeStatus(t *testing.T) {
	for in, want := range map[string]string{
		"5.1.1": "5.1.1 (the mailbox does not exist)",
		"4.2.2": "4.2.2 (the mailbox is full)",
		"5.7.1": "5.7.1 (refused by the receiving server's policy)",
		"5.5.0": "5.5.0 (permanent failure)",
		"":      "delivery failed (no status code given)",
	} {
		if got := describeStatus(in); got != want {
			t.Errorf("describeStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseBounce(f *testing.F) {
	for _, s := range []string{postfixDSN, eximPlain, gmailDSN, microsoftPlain, quotaDSN, delayedDSN,
		autoReply, dmarcDSN, dmarcPlain, spamPolicyDSN, eximDelay, phraseOnly, readReceipt, successDSN} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep := parseBounce(raw)
		if rep.kind < notBounce || rep.kind > bounceHard {
			t.Fatalf("kind %d", rep.kind)
		}
		if rep.status != "" && !statusRE.MatchString(rep.status) {
			t.Fatalf("status %q is not a status code", rep.status)
		}
		_ = rep.kind.String()
		_ = describeStatus(rep.status)
	})
}

// bounceService is a Service over a fresh store with a settable clock.
func bounceService(t *testing.T, rules BounceRules) (*Service, *time.Time) {
	t.Helper()
	db, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)
	s, err := New(Options{Store: db, Domain: "lists.example.org", PasswordCost: 4, Bounce: rules, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateGroup(context.Background(), GroupSpec{Name: "recovery", Admins: []string{"admin@example.org"}}); err != nil {
		t.Fatal(err)
	}
	return s, &now
}

// queued returns the jobs queued now and the last one's message, and
// empties the queue.
func queued(t *testing.T, s *Service) ([]mailstore.Job, string) {
	t.Helper()
	jobs, _, err := s.store.DueJobs(time.Now().Add(time.Hour), 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rs []mailstore.Result
	var msg []byte
	for _, j := range jobs {
		rs = append(rs, mailstore.Result{Job: j, Outcome: mailstore.Delivered})
		if msg, err = s.store.Message(j.Ref); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.store.Finish(rs); err != nil {
		t.Fatal(err)
	}
	return jobs, string(msg)
}

func TestBounceScoring(t *testing.T) {
	s, now := bounceService(t, BounceRules{Threshold: 2, ResetAfter: 48 * time.Hour})
	ctx := context.Background()
	m, err := s.AddMember(ctx, "recovery", "bob@example.net", false)
	if err != nil {
		t.Fatal(err)
	}
	queued(t, s)
	hard := bounceReport{kind: bounceHard, status: "5.1.1"}
	soft := bounceReport{kind: bounceSoft, status: "4.2.2"}
	count := func(job uint64, rep bounceReport) (mailstore.Member, bounceOutcome, error) {
		t.Helper()
		return s.countBounce("recovery", m.ID, job, rep)
	}
	record := func(job uint64, rep bounceReport) mailstore.Member {
		t.Helper()
		if err := s.recordBounce(s.log, "recovery", m.ID, job, rep); err != nil {
			t.Fatal(err)
		}
		got, err := s.store.MemberByID("recovery", m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got, _, err := count(10, soft); err != nil || got.Bounce.Score != 0.5 {
		t.Fatalf("soft bounce: score %v, err %v", got.Bounce.Score, err)
	}
	if _, _, err := count(10, hard); err != errNoChange {
		t.Fatalf("a second report of job 10: err %v, want errNoChange", err)
	}
	// Older than the reset period: the score starts over.
	*now = now.Add(49 * time.Hour)
	if got, _, _ := count(11, hard); got.Bounce.Score != 1 || got.Bounce.Suspended {
		t.Fatalf("after the reset period: %+v", got.Bounce)
	}
	got := record(12, hard)
	if !got.Bounce.Suspended || got.Bounce.Reason != "5.1.1" || got.Receives() {
		t.Fatalf("at the threshold: %+v", got.Bounce)
	}
	if got.ListState() != "suspended" || got.State != mailstore.Active {
		t.Fatalf("state %s, list state %s", got.State, got.ListState())
	}
	// The admin was told, with alias and address; the member was not.
	jobs, msg := queued(t, s)
	if len(jobs) != 1 || jobs[0].Rcpt != "admin@example.org" {
		t.Fatalf("notices queued: %+v", jobs)
	}
	if !strings.Contains(msg, "bob@example.net") || !strings.Contains(msg, m.Alias) || !strings.Contains(msg, "5.1.1") {
		t.Fatalf("notice lacks address, alias or reason:\n%s", msg)
	}
	// More bounces: no second notice.
	record(13, hard)
	if jobs, _ := queued(t, s); len(jobs) != 0 {
		t.Fatalf("a second notice: %+v", jobs)
	}

	// No probe before the reset period; one after it.
	if err := s.ProbeBouncing(ctx); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := queued(t, s); len(jobs) != 0 {
		t.Fatalf("probe sent early: %+v", jobs)
	}
	*now = now.Add(49 * time.Hour)
	s.ProbeBouncing(ctx)
	s.ProbeBouncing(ctx) // one probe only
	jobs, _, _ = s.store.DueJobs(time.Now().Add(time.Hour), 10, nil)
	if len(jobs) != 1 || jobs[0].MemberID != m.ID {
		t.Fatalf("probes queued: %+v", jobs)
	}
	probe := jobs[0]
	cur, _ := s.store.MemberByID("recovery", m.ID)
	if cur.Bounce.ProbeJob != probe.ID || cur.Bounce.Probes != 1 {
		t.Fatalf("probe not recorded: %+v", cur.Bounce)
	}
	// Delivered: reactivated with score 0.
	s.DeliveryResult(mailstore.Result{Job: probe, Outcome: mailstore.Delivered})
	cur, _ = s.store.MemberByID("recovery", m.ID)
	if cur.Bounce.Suspended || cur.Bounce.Score != 0 || !cur.Receives() {
		t.Fatalf("after the probe's delivery: %+v", cur.Bounce)
	}
	queued(t, s)
	// The smarthost took it but the final server bounces it: suspended
	// again at once, and the admins told again.
	got = record(probe.ID, hard)
	if !got.Bounce.Suspended || got.Bounce.ProbeJob != 0 {
		t.Fatalf("after the probe bounced: %+v", got.Bounce)
	}
	if jobs, _ := queued(t, s); len(jobs) != 1 {
		t.Fatalf("notices after the probe bounced: %+v", jobs)
	}
	// The member writes: reactivated, probes start over.
	s.noteMemberActivity(s.log, "recovery", &got)
	cur, _ = s.store.MemberByID("recovery", m.ID)
	if b := cur.Bounce; b.Suspended || b.Score != 0 || b.Probes != 0 || b.ProbeJob != 0 || len(b.Jobs) != 0 {
		t.Fatalf("after the member wrote: %+v", cur.Bounce)
	}
}

func TestReactivateMember(t *testing.T) {
	s, _ := bounceService(t, BounceRules{Threshold: 1})
	ctx := context.Background()
	m, _ := s.AddMember(ctx, "recovery", "bob@example.net", false)
	if _, err := s.ReactivateMember(ctx, "recovery", "bob@example.net"); err == nil {
		t.Fatal("reactivated a member who was not suspended")
	}
	if _, _, err := s.countBounce("recovery", m.ID, 5, bounceReport{kind: bounceHard, status: "5.1.1"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReactivateMember(ctx, "Recovery", "bob@example.net")
	if err != nil || got.Bounce.Suspended || !got.Receives() {
		t.Fatalf("reactivate: %+v, %v", got.Bounce, err)
	}
	if _, err := s.ReactivateMember(ctx, "recovery", "nobody@example.net"); !IsNotFound(err) {
		t.Fatalf("unknown member: %v", err)
	}
}

// A delivery refused for good in our own session (the mx transport's
// 550 at RCPT) counts like a bounce of it, once per delivery.
func TestDeliveryFailureCounts(t *testing.T) {
	s, _ := bounceService(t, BounceRules{Threshold: 2, ResetAfter: 48 * time.Hour})
	m, err := s.AddMember(context.Background(), "recovery", "bob@example.net", false)
	if err != nil {
		t.Fatal(err)
	}
	queued(t, s)
	fail := func(job uint64, reply string) float64 {
		t.Helper()
		s.DeliveryResult(mailstore.Result{
			Job:     mailstore.Job{ID: job, MemberID: m.ID, Ref: mailstore.MsgRef{Group: "recovery", UID: 1}},
			Outcome: mailstore.Failed, Err: reply,
		})
		got, err := s.store.MemberByID("recovery", m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Bounce.Score
	}
	if got := fail(1, "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown"); got != 1 {
		t.Fatalf("hard failure: score %v, want 1", got)
	}
	if got := fail(1, "550 5.1.1 again"); got != 1 {
		t.Fatalf("the same delivery counted twice: score %v", got)
	}
	// Failures that say nothing about Bob's mailbox count nothing.
	for i, reply := range []string{
		"550 5.7.1 Unauthenticated email from example.org is not accepted due to domain's DMARC policy",
		"4.4.1 no mail exchanger answered",
		"message no longer in the store",
		"smarthost AUTH: 535 5.7.8 authentication failed",
		"dial tcp 192.0.2.1:587: connection refused",
		"553 5.1.8 <g-bounces+x@lists.example.org>: Sender address rejected",
		"552 5.3.4 Message size exceeds fixed limit",
		"550 5.4.5 Daily sending quota exceeded",
	} {
		if got := fail(uint64(10+i), reply); got != 1 {
			t.Fatalf("%q counted: score %v", reply, got)
		}
	}
	if got := fail(3, "452 4.2.2 mailbox full"); got != 1.5 {
		t.Fatalf("a full mailbox given up: score %v, want 1.5 (soft)", got)
	}
	if got := fail(4, "5.1.10 the recipient's domain publishes a null MX: it accepts no mail"); got != 2.5 {
		t.Fatalf("null MX: score %v, want 2.5", got)
	}
	got, _ := s.store.MemberByID("recovery", m.ID)
	if !got.Bounce.Suspended || got.Receives() {
		t.Fatalf("past the threshold: %+v", got.Bounce)
	}
	jobs, msg := queued(t, s)
	if len(jobs) != 1 || jobs[0].Rcpt != "admin@example.org" || !strings.Contains(msg, "bob@example.net") {
		t.Fatalf("admin notice: %d jobs, %q", len(jobs), msg)
	}
}
