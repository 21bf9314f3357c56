package server_test

// Joining: confirmation, admin approval by reply and by CLI, rejection,
// open groups, tokens, forged approvals (helpers in membership_test.go).

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"listserv/mailstore"
)

// TestJoinApproveByReply is the whole join flow of a join_policy approve
// group, decided by an admin's reply: the second admin is told who took
// it, and the new member's first post is relayed.
func TestJoinApproveByReply(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	ada := m.member(testGroup, memAda)

	p := m.joinUntilPending(memDana, memDanaName, "Hello, my sister told me about this group.\nI am three weeks sober.")
	m.reply(p.notices[memAda], memAda, "Ada Admin")
	ms := m.settle()
	memWant(t, "after Ada's approval", ms, memDana)
	pw := m.welcomePassword(ms[0], memDana)
	m.wantPassword(memDana, pw, true)
	m.wantPassword(memDana, pw+"x", false)
	memNoLeak(t, ms, memAda, memBen, aliceAddr, brunoAddr, carmenAddr)
	m.wantState(memDana, "active")

	// Ben acts on the same request, by the approve and by the reject
	// address: he is told that Ada (by alias) approved it, and nothing
	// changes twice.
	m.reply(p.notices[memBen], memBen, "Ben Admin")
	m.replyTo(p.notices[memBen], p.reject, memBen, "Ben Admin")
	ms = m.settle()
	memWant(t, "after Ben's late decisions", ms, memBen, memBen)
	for _, mm := range ms {
		memWantSubject(t, mm, "Already handled: The join request")
		if !strings.Contains(mm.Body, "approved by "+ada.Alias) {
			t.Errorf("the note to Ben does not say that %s approved it:\n%s", ada.Alias, mm.Body)
		}
	}
	memNoLeak(t, ms, memAda, memDana)
	m.wantState(memDana, "active")

	// The new member posts.
	m.write(memDana, memDanaName, groupAddr, "Hello from the new member", "Hello everyone, "+memDanaName+" here.\n")
	ms = m.settle()
	m.wantRelayed(ms, "Hello from the new member", memDana, append(memEveryone, memDana)...)
	memNoLeak(t, ms, memDana, memDanaName)
	if n := m.archiveCount(testGroup); n != 1 {
		t.Errorf("archive holds %d posts, want 1", n)
	}
}

// TestJoinApproveByCLI is the same flow decided with `member pending` and
// `member approve`; an admin's reply afterwards is told it was taken.
func TestJoinApproveByCLI(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")

	p := m.joinUntilPending(memDana, memDanaName, "Hi,\n\tI would like   to join.")
	out := m.cliOK("member", "pending", testGroup)
	f := strings.Split(strings.TrimSuffix(out, "\n"), "\t")
	if strings.Count(out, "\n") != 1 || len(f) != 3 || f[0] != memDana || f[2] != "Hi, I would like to join." {
		t.Fatalf("member pending printed %q, want one line: address, date, introduction", out)
	}
	if _, err := time.Parse(time.RFC3339, f[1]); err != nil {
		t.Errorf("member pending: date %q: %v", f[1], err)
	}
	if got := m.cliOK("member", "approve", "Recovery", strings.ToUpper(memDana)); got != strings.ToUpper(memDana)+": approved\n" {
		t.Errorf("member approve printed %q", got)
	}
	ms := m.settle()
	memWant(t, "after the approval from the command line", ms, memDana)
	m.wantPassword(memDana, m.welcomePassword(ms[0], memDana), true)
	m.wantState(memDana, "active")
	if out := m.cliOK("member", "pending", testGroup); out != "" {
		t.Errorf("member pending after the approval printed %q", out)
	}

	// Ada's reply comes late: she is told, and nothing changes twice.
	m.reply(p.notices[memAda], memAda, "")
	ms = m.settle()
	memWant(t, "after Ada's late approval", ms, memAda)
	if !strings.Contains(ms[0].Body, "approved by "+memByCLI) {
		t.Errorf("the note to Ada does not say it was approved from the command line:\n%s", ms[0].Body)
	}
	if code, _, errout := m.cli("member", "approve", testGroup, memDana); code != 1 || !strings.Contains(errout, "not waiting") {
		t.Errorf("a second member approve: exit %d, stderr %q, want exit 1", code, errout)
	}
	if len(m.settle()) != 0 {
		t.Errorf("a refused approval sent mail")
	}

	m.write(memDana, memDanaName, groupAddr, "Posting again", "Hello.\n")
	m.wantRelayed(m.settle(), "Posting again", memDana, append(memEveryone, memDana)...)
}

// TestJoinReject rejects a request by reply and, after a new request,
// from the command line: each time only the requester hears, kindly.
func TestJoinReject(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	ada := m.member(testGroup, memAda)

	p := m.joinUntilPending(memErin, memErinName, "Hello.")
	m.replyTo(p.notices[memAda], p.reject, memAda, "")
	ms := m.settle()
	memWant(t, "after the rejection", ms, memErin)
	memWantSubject(t, ms[0], "About your request to join "+testGroup)
	memNoLeak(t, ms, memAda, ada.Alias)
	m.wantState(memErin, "")

	// Ben's approval comes too late.
	m.reply(p.notices[memBen], memBen, "")
	ms = m.settle()
	memWant(t, "after Ben's late approval", ms, memBen)
	if !strings.Contains(ms[0].Body, "rejected by "+ada.Alias) {
		t.Errorf("the note to Ben does not say that %s rejected it:\n%s", ada.Alias, ms[0].Body)
	}
	m.wantState(memErin, "")

	// Erin may ask again; this time the command line says no.
	m.joinUntilPending(memErin, memErinName, "Me again.")
	if got := m.cliOK("member", "reject", testGroup, memErin); got != memErin+": rejected\n" {
		t.Errorf("member reject printed %q", got)
	}
	ms = m.settle()
	memWant(t, "after the rejection from the command line", ms, memErin)
	memWantSubject(t, ms[0], "About your request to join "+testGroup)
	m.wantState(memErin, "")
	if code, _, _ := m.cli("member", "reject", testGroup, memErin); code != 1 {
		t.Errorf("rejecting someone who is not waiting: exit %d, want 1", code)
	}
}

// TestJoinOpen: with join_policy open, the confirmation makes a member at
// once; a second confirmation of an earlier request does nothing.
func TestJoinOpen(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("open", "members")

	m.write(memDana, memDanaName, memJoinAddr, "join", "")
	m.write(memDana, memDanaName, memRequestAddr, "join", "")
	ms := m.settle()
	memWant(t, "two join requests", ms, memDana, memDana, memDana)
	var confirms []memMail
	for _, mm := range ms {
		if mm.subject() == "Please confirm: joining "+testGroup {
			confirms = append(confirms, mm)
		}
	}
	if len(confirms) != 2 {
		t.Fatalf("%d confirmations for two requests: %v", len(confirms), ms)
	}
	_, t1 := confirms[0].token(t)
	_, t2 := confirms[1].token(t)
	m.secret(t1, t2)
	if t1 == t2 {
		t.Fatal("two requests got the same token")
	}

	// Tokens match case-insensitively.
	caddr, _ := confirms[0].token(t)
	local, domain, _ := strings.Cut(caddr, "@")
	m.replyTo(confirms[0], strings.ToUpper(local)+"@"+domain, memDana, memDanaName)
	ms = m.settle()
	memWant(t, "after the confirmation", ms, memDana)
	m.wantPassword(memDana, m.welcomePassword(ms[0], memDana), true)
	m.wantState(memDana, "active")

	m.reply(confirms[1], memDana, memDanaName)
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("confirming a second request of a member sent %v", ms)
	}
	m.wantState(memDana, "active")

	m.write(memDana, memDanaName, groupAddr, "Open door", "Hi.\n")
	m.wantRelayed(m.settle(), "Open door", memDana, append(memEveryone, memDana)...)
}

// TestCannotSubscribeSomeoneElse: the confirmation goes only to the From
// address, and without its token nothing happens.
func TestCannotSubscribeSomeoneElse(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("open", "members")

	// Mallory asks in Dana's name, hoping for the answer herself.
	m.mail(memMallory, memJoinAddr, m.headers(memDanaName+" <"+memDana+">", memJoinAddr, "join",
		"Reply-To: <"+memMallory+">", "Sender: <"+memMallory+">"), "Please add me.\n")
	m.mail(memMallory, memRequestAddr, m.headers("<"+memDana+">", memRequestAddr, "join",
		"Reply-To: <"+memMallory+">"), "join\n")
	ms := m.settle()
	memWant(t, "join requests in Dana's name", ms, memDana, memDana, memDana)
	m.wantState(memDana, "")
	confirms := 0
	for _, mm := range ms {
		if mm.subject() == "Please confirm: joining "+testGroup {
			_, tok := mm.token(t)
			m.secret(tok)
			confirms++
		}
	}
	if confirms != 2 {
		t.Errorf("%d confirmations for two requests (one with join in subject and body): %v", confirms, ms)
	}
	memNoLeak(t, ms, memMallory)

	// Guessing a token does nothing, answers nothing.
	guess := testGroup + "-confirm+" + strings.Repeat("a", 26) + "@" + testDomain
	m.write(memMallory, "", guess, "Re: Please confirm", "yes\n")
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("a guessed token got answers: %v", ms)
	}
	m.wantState(memDana, "")
	// There is no confirmation address without a token.
	st, err := m.send(memMallory, []string{testGroup + "-confirm@" + testDomain}, message(m.headers("<"+memMallory+">", "x", "yes"), "yes\n"))
	wantRefused(t, st, err, stepRcpt, 550, smtp.EnhancedCode{5, 1, 1})
	if roster := m.memberList(testGroup); len(roster) != len(memEveryone) {
		t.Errorf("the roster changed: %v", roster)
	}
}

// TestTokenReuseAndExpiry: a used or expired token changes nothing and
// brings a note to the address it was issued to, whoever uses it.
func TestTokenReuseAndExpiry(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")

	// Dana confirms twice; Mallory, who got hold of the token, once more.
	m.write(memDana, memDanaName, memJoinAddr, "join", "")
	confirm := m.settle()[0]
	caddr, _ := confirm.token(t)
	m.reply(confirm, memDana, memDanaName)
	memWant(t, "after the confirmation", m.settle(), memDana, memAda, memBen)
	m.reply(confirm, memDana, memDanaName)
	m.write(memMallory, "", caddr, "Re: confirm", "yes\n")
	ms := m.settle()
	memWant(t, "after reusing the token", ms, memDana, memDana)
	for _, mm := range ms {
		memWantSubject(t, mm, "Nothing was changed in "+testGroup)
		if !strings.Contains(mm.Body, "already used") {
			t.Errorf("the note does not say the confirmation was used:\n%s", mm.Body)
		}
	}
	memNoLeak(t, ms, memMallory)
	m.wantState(memDana, "pending")
	if out := m.cliOK("member", "pending", testGroup); strings.Count(out, "\n") != 1 {
		t.Errorf("member pending after reuse: %q", out)
	}

	// Erin's confirmation expires before she answers. The token's expiry
	// is rewritten in the store (the token is known to the test).
	m.write(memErin, memErinName, memJoinAddr, "join", "")
	confirm = m.settle()[0]
	caddr, tok := confirm.token(t)
	m.secret(tok)
	expire := func(tok string, kt mailstore.Token) {
		t.Helper()
		kt.Expires = time.Now().Add(-time.Minute)
		if err := m.srv.Store.PutTokens([]string{tok}, []mailstore.Token{kt}); err != nil {
			t.Fatal(err)
		}
	}
	expire(tok, mailstore.Token{Kind: mailstore.TokJoin, Group: testGroup, Addr: memErin})
	m.write(memMallory, "", caddr, "Re: confirm", "yes\n")
	m.reply(confirm, memErin, memErinName)
	ms = m.settle()
	memWant(t, "after using an expired token", ms, memErin, memErin)
	for _, mm := range ms {
		memWantSubject(t, mm, "Nothing was changed in "+testGroup)
		if !strings.Contains(mm.Body, "expired") {
			t.Errorf("the note does not say the confirmation expired:\n%s", mm.Body)
		}
	}
	m.wantState(memErin, "")

	// An admin's approval token expires too.
	p := m.joinUntilPending(memErin, memErinName, "Once more.")
	_, atok := p.notices[memAda].token(t)
	erin := m.member(testGroup, memErin)
	expire(atok, mailstore.Token{Kind: mailstore.TokApproveJoin, Group: testGroup, Addr: memErin, Item: erin.ID})
	m.reply(p.notices[memAda], memAda, "")
	ms = m.settle()
	memWant(t, "after an expired approval", ms, memAda)
	memWantSubject(t, ms[0], "Nothing was changed in "+testGroup)
	m.wantState(memErin, "pending")
}

// TestForgedApproval: approving needs the token and an admin's address;
// a non-admin who holds the token changes nothing, and neither does an
// admin without it.
func TestForgedApproval(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	p := m.joinUntilPending(memDana, memDanaName, "Hi.")

	// Dana (the requester) and Bruno (a member, not an admin) got hold of
	// the approval address; Mallory forges nothing but tries it too.
	for _, who := range []string{memDana, brunoAddr, memMallory} {
		m.replyTo(p.notices[memAda], p.approve, who, "")
	}
	// Ada without the token: a made-up token, a command, the owner
	// address.
	m.write(memAda, "", testGroup+"-confirm+"+strings.Repeat("b", 26)+"@"+testDomain, "approve", "approve\n")
	m.write(memAda, "", memRequestAddr, "approve "+memDana, "approve "+memDana+"\n")
	ms := m.settle()
	memWant(t, "after the forged approvals", ms, memAda)
	memWantSubject(t, ms[0], "Help for "+testGroup)
	m.wantState(memDana, "pending")

	// The token still works for an admin.
	m.reply(p.notices[memBen], memBen, "")
	ms = m.settle()
	memWant(t, "after Ben's approval", ms, memDana)
	memWantSubject(t, ms[0], "Welcome to "+testGroup)
	m.wantState(memDana, "active")
}
