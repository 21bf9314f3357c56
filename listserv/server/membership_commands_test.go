package server_test

// Leaving, the -request commands (nomail, self, password, alias) and
// private replies through aliases (helpers in membership_test.go).

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"listserv/listserv"
)

// TestLeave: leaving takes a confirmation; the posts stay in the archive
// under the alias.
func TestLeave(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	carmen := m.member(testGroup, carmenAddr)

	m.write(carmenAddr, memCarmenName, groupAddr, "My story", "It has been a long year.\n")
	ms := m.settle()
	m.wantRelayed(ms, "My story", carmenAddr, memEveryone...)
	unsub := ms[0].Header.Get("List-Unsubscribe")

	// A non-member asking to leave gets nothing.
	m.write(memMallory, "", memLeaveAddr, "leave", "")
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("a non-member's leave request was answered: %v", ms)
	}

	m.write(carmenAddr, memCarmenName, memLeaveAddr, "leave", "")
	ms = m.settle()
	memWant(t, "a leave request", ms, carmenAddr)
	memWantSubject(t, ms[0], "Please confirm: leaving "+testGroup)
	_, tok := ms[0].token(t)
	m.secret(tok)
	m.wantState(carmenAddr, "active")
	m.reply(ms[0], carmenAddr, memCarmenName)
	ms = m.settle()
	memWant(t, "after the confirmation", ms, carmenAddr)
	memWantSubject(t, ms[0], "You have left "+testGroup)
	m.wantState(carmenAddr, "")

	// Her post stays, under her alias.
	raw, meta, err := m.srv.Store.ArchivedPost(testGroup, 1)
	if err != nil || meta.AuthorID != carmen.ID || !bytes.Contains(raw, []byte(carmen.Alias)) {
		t.Errorf("archived post after leaving: author %d, err %v, want %d with alias %q", meta.AuthorID, err, carmen.ID, carmen.Alias)
	}
	// She gets no more posts, may not post, and her alias no longer
	// takes private mail.
	m.write(aliceAddr, aliceName, groupAddr, "After Carmen", "Hi.\n")
	m.wantRelayed(m.settle(), "After Carmen", aliceAddr, memAda, memBen, aliceAddr, brunoAddr)
	st, err := m.send(carmenAddr, []string{groupAddr}, simple("<"+carmenAddr+">", "Still here?", "c1@example.com"))
	wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
	st, err = m.send(aliceAddr, []string{testGroup + "+" + carmen.Slug + "@" + testDomain}, simple("<"+aliceAddr+">", "Miss you", "a1@example.org"))
	wantRefused(t, st, err, stepRcpt, 550, smtp.EnhancedCode{5, 1, 1})

	// Bruno uses the List-Unsubscribe target of a copy; without his reply
	// nothing changes.
	target, ok := strings.CutPrefix(strings.Trim(unsub, "<>"), "mailto:")
	if !ok || target != memLeaveAddr {
		t.Fatalf("List-Unsubscribe %q, want <mailto:%s>", unsub, memLeaveAddr)
	}
	m.write(brunoAddr, memBrunoName, target, "unsubscribe", "")
	ms = m.settle()
	memWant(t, "Bruno's unsubscribe", ms, brunoAddr)
	memWantSubject(t, ms[0], "Please confirm: leaving "+testGroup)
	m.wantState(brunoAddr, "active")
}

// TestNomailAndSelf: nomail stops and restarts deliveries; self off
// stops the author's own copy.
func TestNomailAndSelf(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")

	// In the subject.
	m.write(brunoAddr, memBrunoName, memRequestAddr, "nomail on", "")
	ms := m.settle()
	memWant(t, "nomail on", ms, brunoAddr)
	if !strings.Contains(ms[0].Body, "no longer sent") {
		t.Errorf("answer to nomail on:\n%s", ms[0].Body)
	}
	m.wantState(brunoAddr, "nomail")
	m.write(aliceAddr, aliceName, groupAddr, "While Bruno rests", "Hi.\n")
	m.wantRelayed(m.settle(), "While Bruno rests", aliceAddr, memAda, memBen, aliceAddr, carmenAddr)
	// He may still post.
	m.write(brunoAddr, memBrunoName, groupAddr, "A post while on nomail", "Hi.\n")
	m.wantRelayed(m.settle(), "A post while on nomail", brunoAddr, memAda, memBen, aliceAddr, carmenAddr)

	// In the body.
	if a := m.command(brunoAddr, memBrunoName, "nomail off"); !strings.Contains(a.Body, "sent to you again") {
		t.Errorf("answer to nomail off:\n%s", a.Body)
	}
	m.wantState(brunoAddr, "active")
	m.write(aliceAddr, aliceName, groupAddr, "Bruno is back", "Hi.\n")
	m.wantRelayed(m.settle(), "Bruno is back", aliceAddr, memEveryone...)

	// self off, then on; two commands in one message.
	a := m.command(aliceAddr, aliceName, "self off", "nomail off")
	if !strings.Contains(a.Body, "not get a copy of your own") || !strings.Contains(a.Body, "sent to you again") {
		t.Errorf("answer to self off + nomail off:\n%s", a.Body)
	}
	m.write(aliceAddr, aliceName, groupAddr, "No copy for me", "Hi.\n")
	m.wantRelayed(m.settle(), "No copy for me", aliceAddr, memAda, memBen, brunoAddr, carmenAddr)
	m.command(aliceAddr, aliceName, "self on")
	m.write(aliceAddr, aliceName, groupAddr, "A copy for me", "Hi.\n")
	m.wantRelayed(m.settle(), "A copy for me", aliceAddr, memEveryone...)
}

// TestPasswordCommand: password mails a new archive password and the old
// one stops working.
func TestPasswordCommand(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	var old string
	for _, mm := range m.history {
		if mm.Rcpt == aliceAddr && mm.subject() == "Welcome to "+testGroup {
			old = m.welcomePassword(mm, aliceAddr)
		}
	}
	if old == "" {
		t.Fatal("no welcome for Alice")
	}
	m.wantPassword(aliceAddr, old, true)

	a := m.command(aliceAddr, aliceName, "password")
	pw := regexp.MustCompile(`new archive password is: (\S+)`).FindStringSubmatch(a.Body)
	if pw == nil {
		t.Fatalf("no new password in the answer:\n%s", a.Body)
	}
	m.secret(pw[1])
	if pw[1] == old {
		t.Fatal("the new password is the old one")
	}
	m.wantPassword(aliceAddr, pw[1], true)
	m.wantPassword(aliceAddr, old, false)

	// A non-member gets no account.
	a = m.command(memMallory, "", "password")
	if !strings.Contains(a.Body, "Only members") {
		t.Errorf("a non-member's password command answered:\n%s", a.Body)
	}
	if _, err := m.srv.Store.Account(memMallory); !listserv.IsNotFound(err) {
		t.Errorf("a non-member got an account: %v", err)
	}
}

// TestAliasCommand: alias NAME refuses what would reveal the member or
// collide, and takes a good name; the old alias address still reaches
// the member.
func TestAliasCommand(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	aliceOld := m.member(testGroup, aliceAddr)
	bruno := m.member(testGroup, brunoAddr)

	refused := func(addr, name, alias, why string) {
		t.Helper()
		a := m.command(addr, name, "alias "+alias)
		if !strings.Contains(a.Body, why) {
			t.Errorf("alias %q for %s: answer does not say %q:\n%s", alias, addr, why, a.Body)
		}
	}
	const bad = "cannot be used"
	refused(aliceAddr, aliceName, memDana, bad)                // an address
	refused(aliceAddr, aliceName, "alice at example org", bad) // her address spelt out
	refused(aliceAddr, aliceName, "Alice Wonder", bad)         // her local part
	refused(aliceAddr, aliceName, "Example Heron", bad)        // her display name
	refused(brunoAddr, memBrunoName, "Bruno Quist", bad)       // his local part, bruno.quist
	refused(brunoAddr, memBrunoName, "Quiet Quist", bad)       // part of it
	refused(aliceAddr, aliceName, bruno.Alias, "taken")        // Bruno's alias
	refused(aliceAddr, aliceName, strings.ToUpper(bruno.Alias), "taken")
	if got := m.member(testGroup, aliceAddr); got.Alias != aliceOld.Alias {
		t.Fatalf("a refused alias changed Alice's to %q", got.Alias)
	}

	a := m.command(aliceAddr, aliceName, "alias Morning Walker")
	if !strings.Contains(a.Body, `You are now known as "Morning Walker"`) {
		t.Fatalf("a good alias was not taken:\n%s", a.Body)
	}
	// Bruno cannot take her old one.
	refused(brunoAddr, memBrunoName, aliceOld.Alias, "taken")

	m.write(aliceAddr, aliceName, groupAddr, "New name", "Hi.\n")
	ms := m.settle()
	m.wantRelayed(ms, "New name", aliceAddr, memEveryone...)
	if from := ms[0].addr(t, "From"); from.Name != "Morning Walker" || from.Address != testGroup+"+morning-walker@"+testDomain {
		t.Errorf("From after the alias change: %q <%s>", from.Name, from.Address)
	}
	// The old alias address still reaches her, privately.
	m.write(brunoAddr, memBrunoName, testGroup+"+"+aliceOld.Slug+"@"+testDomain, "To your old name", "Hi.\n")
	ms = m.settle()
	memWant(t, "a private message to the old alias", ms, aliceAddr)
	memNoLeak(t, ms, brunoAddr, memBrunoName)
}

// TestPrivateReply: a message to group+alias reaches that member alone,
// anonymized both ways, and is not archived.
func TestPrivateReply(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	alice, bruno := m.member(testGroup, aliceAddr), m.member(testGroup, brunoAddr)
	aliceAlias, brunoAlias := m.aliasAddr(aliceAddr), m.aliasAddr(brunoAddr)

	m.write(brunoAddr, memBrunoName, aliceAlias, "Just to you",
		"Hi, I did not want to say this on the list.\nWrite me at "+brunoAddr+" any time.\n\n-- \n"+memBrunoName+"\n")
	ms := m.settle()
	memWant(t, "a private message", ms, aliceAddr)
	pm := ms[0]
	if pm.notice() || pm.subject() != "Just to you" {
		t.Fatalf("private message: %v", pm)
	}
	if from := pm.addr(t, "From"); from.Name != bruno.Alias || from.Address != brunoAlias {
		t.Errorf("From %q <%s>, want %q <%s>", from.Name, from.Address, bruno.Alias, brunoAlias)
	}
	if rt := pm.addr(t, "Reply-To"); rt.Address != brunoAlias {
		t.Errorf("Reply-To %s, want %s", rt.Address, brunoAlias)
	}
	if to := pm.addr(t, "To"); to.Address != aliceAlias {
		t.Errorf("To %s, want %s", to.Address, aliceAlias)
	}
	if !strings.Contains(pm.Body, "did not want to say this") {
		t.Errorf("the text is lost:\n%s", pm.Body)
	}
	memNoLeak(t, ms, brunoAddr, "bruno.quist", memBrunoName, "example.net", aliceAddr, aliceName)
	if n := m.archiveCount(testGroup); n != 0 {
		t.Errorf("a private message was archived (%d posts)", n)
	}

	// Alice answers through the Reply-To.
	m.mail(aliceAddr, brunoAlias, m.headers(aliceName+" <"+aliceAddr+">", brunoAlias, "Re: Just to you",
		"In-Reply-To: "+pm.Header.Get("Message-ID")), "Thank you. "+aliceName+" here, "+aliceAddr+".\n")
	ms = m.settle()
	memWant(t, "the private answer", ms, brunoAddr)
	if from := ms[0].addr(t, "From"); from.Name != alice.Alias || from.Address != aliceAlias {
		t.Errorf("answer From %q <%s>", from.Name, from.Address)
	}
	memNoLeak(t, ms, aliceAddr, aliceName, "alice@", brunoAddr, memBrunoName)

	// Non-members are refused after DATA, unknown or pending aliases at
	// RCPT; nothing is delivered.
	st, err := m.send(memMallory, []string{aliceAlias}, simple("<"+memMallory+">", "hi", "m1@evil.example"))
	wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
	st, err = m.send(brunoAddr, []string{testGroup + "+no-such-heron@" + testDomain}, simple("<"+brunoAddr+">", "hi", "b1@example.net"))
	wantRefused(t, st, err, stepRcpt, 550, smtp.EnhancedCode{5, 1, 1})
	m.joinUntilPending(memDana, memDanaName, "Hi.")
	st, err = m.send(brunoAddr, []string{m.aliasAddr(memDana)}, simple("<"+brunoAddr+">", "hi", "b2@example.net"))
	wantRefused(t, st, err, stepRcpt, 550, smtp.EnhancedCode{5, 1, 1})
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("refused private messages delivered %v", ms)
	}
}
