package server_test

// Held posts: first posts, moderated groups, expiry, and the -owner
// relay (helpers in membership_test.go).

import (
	"context"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"listserv/listserv"
	"listserv/mailstore"
	"listserv/templates"
)

// heldNotices checks the notices of a held post: one to each admin (with
// the alias, never the address) and one to the author. It returns the
// admins' notices.
func (m *memEnv) heldNotices(ms []memMail, author, authorName, subject string) map[string]memMail {
	m.t.Helper()
	t := m.t
	memWant(t, "holding "+subject, ms, memAda, memBen, author)
	memWantSubject(t, memTo(t, ms, author), "Your post to "+testGroup+" is waiting for approval")
	alias := m.member(testGroup, author).Alias
	out := map[string]memMail{}
	for _, admin := range []string{memAda, memBen} {
		n := memTo(t, ms, admin)
		memWantSubject(t, n, "Post held for approval in "+testGroup+": "+subject)
		_, tok := n.token(t)
		m.secret(tok)
		if !strings.Contains(n.Body, alias) {
			t.Errorf("the held notice does not name the alias %q:\n%s", alias, n.Body)
		}
		if addrs := n.bodyConfirmAddrs(); len(addrs) != 3 {
			t.Errorf("the held notice names %d confirmation addresses, want approve, reject, discard:\n%s", len(addrs), n.Body)
		} else {
			for _, a := range addrs {
				m.secret(memConfirmRE.FindStringSubmatch(a)[1])
			}
		}
		out[admin] = n
	}
	for _, n := range out {
		memNoLeak(t, []memMail{n}, author, authorName)
	}
	return out
}

// heldAddr returns a held notice's n-th confirmation address (0 approve,
// 1 reject, 2 discard).
func heldAddr(t *testing.T, n memMail, i int) string {
	t.Helper()
	addrs := n.bodyConfirmAddrs()
	if len(addrs) != 3 {
		t.Fatalf("held notice with %d confirmation addresses", len(addrs))
	}
	return addrs[i]
}

// TestFirstPost: with post_policy first-post a new member's first post is
// held; approval relays it (by reply or from the command line),
// rejection tells the author only, discarding tells nobody.
func TestFirstPost(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "first-post")
	ada := m.member(testGroup, memAda)
	ctx := context.Background()
	add := func(addr string) {
		t.Helper()
		if _, err := m.srv.Service.AddMember(ctx, testGroup, addr, false); err != nil {
			t.Fatal(err)
		}
		m.settle()
	}
	add(memDana)
	all := append(memEveryone, memDana)

	m.write(memDana, memDanaName, groupAddr, "First words", "Hello, "+memDanaName+" here.\n")
	ms := m.settle()
	held := m.heldNotices(ms, memDana, memDanaName, "First words")
	if !strings.Contains(held[memAda].Body, "Hello,") {
		t.Errorf("the held notice does not show the post:\n%s", held[memAda].Body)
	}
	if n := m.archiveCount(testGroup); n != 0 {
		t.Fatalf("a held post was archived")
	}

	// Ada approves by reply: the post goes to every member.
	m.reply(held[memAda], memAda, "")
	m.wantRelayed(m.settle(), "First words", memDana, all...)
	if n := m.archiveCount(testGroup); n != 1 {
		t.Errorf("archive holds %d posts after the approval, want 1", n)
	}
	// Ben's late rejection is refused, naming Ada's alias.
	m.replyTo(held[memBen], heldAddr(t, held[memBen], 1), memBen, "")
	ms = m.settle()
	memWant(t, "Ben's late rejection", ms, memBen)
	memWantSubject(t, ms[0], "Already handled: The held post")
	if !strings.Contains(ms[0].Body, "approved by "+ada.Alias) {
		t.Errorf("the note to Ben does not name Ada's alias:\n%s", ms[0].Body)
	}
	memNoLeak(t, ms, memAda)
	// Dana's second post is not held.
	m.write(memDana, memDanaName, groupAddr, "Second words", "Hi.\n")
	m.wantRelayed(m.settle(), "Second words", memDana, all...)

	// Erin's first post is approved from the command line.
	add(memErin)
	all = append(all, memErin)
	m.write(memErin, memErinName, groupAddr, "A first post", "Hi.\n")
	held = m.heldNotices(m.settle(), memErin, memErinName, "A first post")
	erin := m.member(testGroup, memErin)
	list := m.cliOK("held", "list", testGroup)
	rows := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	if len(rows) != 2 {
		t.Fatalf("held list printed %q, want 2 rows", list)
	}
	wantRow := regexp.MustCompile(`^2\t` + regexp.QuoteMeta(erin.Alias) + `\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\twaiting\tA first post$`)
	if !wantRow.MatchString(rows[1]) {
		t.Errorf("held list row %q, want id 2, Erin's alias, date, waiting, subject", rows[1])
	}
	if !strings.Contains(rows[0], "\tapproved by "+ada.Alias+"\t") {
		t.Errorf("held list row %q does not say Ada approved it", rows[0])
	}
	if got := m.cliOK("held", "approve", testGroup, "2"); got != "held post 2: approved\n" {
		t.Errorf("held approve printed %q", got)
	}
	m.wantRelayed(m.settle(), "A first post", memErin, all...)
	m.reply(held[memAda], memAda, "")
	ms = m.settle()
	memWant(t, "Ada's late approval", ms, memAda)
	if !strings.Contains(ms[0].Body, "approved by "+memByCLI) {
		t.Errorf("the note to Ada:\n%s", ms[0].Body)
	}
	if code, _, errout := m.cli("held", "approve", testGroup, "2"); code != 1 || !strings.Contains(errout, "already approved") {
		t.Errorf("approving twice: exit %d, stderr %q", code, errout)
	}

	// Bruno has not posted yet either: rejected, he alone hears; he is
	// held again next time.
	m.write(brunoAddr, memBrunoName, groupAddr, "Bruno's first", "Hi.\n")
	held = m.heldNotices(m.settle(), brunoAddr, memBrunoName, "Bruno's first")
	m.replyTo(held[memBen], heldAddr(t, held[memBen], 1), memBen, "")
	ms = m.settle()
	memWant(t, "a rejection", ms, brunoAddr)
	memWantSubject(t, ms[0], "About your post to "+testGroup)
	memNoLeak(t, ms, memBen)
	m.write(brunoAddr, memBrunoName, groupAddr, "Bruno tries again", "Hi.\n")
	held = m.heldNotices(m.settle(), brunoAddr, memBrunoName, "Bruno tries again")

	// Discarded: nobody hears.
	m.replyTo(held[memAda], heldAddr(t, held[memAda], 2), memAda, "")
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("discarding sent %v", ms)
	}
	// Rejecting from the command line, after the discard: refused.
	if code, _, errout := m.cli("held", "reject", testGroup, "4"); code != 1 || !strings.Contains(errout, "already discarded by "+ada.Alias) {
		t.Errorf("rejecting a discarded post: exit %d, stderr %q", code, errout)
	}
	if n := m.archiveCount(testGroup); n != 3 {
		t.Errorf("archive holds %d posts, want 3", n)
	}
}

// TestHeldExpiry: a held post nobody decides expires with a note to its
// author only (the clock of a second Service over the same store has
// moved on).
func TestHeldExpiry(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "moderated")
	m.write(aliceAddr, aliceName, groupAddr, "Nobody looks", "Hi.\n")
	held := m.heldNotices(m.settle(), aliceAddr, aliceName, "Nobody looks")
	// A join request nobody answers expires too.
	m.joinUntilPending(memDana, memDanaName, "Anyone there?")

	later, err := listserv.New(listserv.Options{
		Store:        m.srv.Store,
		Domain:       testDomain,
		Hostname:     m.cfg.Hostname,
		PasswordCost: 4,
		Templates:    templates.New(filepath.Join(m.cfg.DataDir, "templates")),
		Wake:         m.srv.Queue.Wake,
		Logger:       slog.New(slog.NewTextHandler(m.logs, nil)),
		Now:          func() time.Time { return time.Now().Add(listserv.DefaultHoldDays*24*time.Hour + time.Hour) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.srv.Service.ExpireHeld(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ms := m.settle(); len(ms) != 0 {
		t.Fatalf("expiring on time sent %v", ms)
	}
	if err := later.ExpireHeld(context.Background()); err != nil {
		t.Fatal(err)
	}
	ms := m.settle()
	memWant(t, "expiry", ms, aliceAddr, memDana)
	note := memTo(t, ms, aliceAddr)
	memWantSubject(t, note, "Your post to "+testGroup+" was not sent")
	if !strings.Contains(note.Body, "Nobody looks") {
		t.Errorf("the expiry note does not name the post:\n%s", note.Body)
	}
	memWantSubject(t, memTo(t, ms, memDana), "About your request to join "+testGroup)
	m.wantState(memDana, "")
	if out := m.cliOK("held", "list", testGroup); !strings.Contains(out, "\texpired by the service\t") {
		t.Errorf("held list after the expiry: %q", out)
	}
	// Dana may ask again.
	m.write(memDana, memDanaName, memJoinAddr, "join", "")
	memWant(t, "a new join request", m.settle(), memDana)
	// An admin's approval after the expiry changes nothing.
	m.reply(held[memAda], memAda, "")
	ms = m.settle()
	memWant(t, "an approval after the expiry", ms, memAda)
	if n := m.archiveCount(testGroup); n != 0 {
		t.Errorf("an expired post was archived")
	}
}

// TestModerated: every non-admin post is held, admins' posts are not;
// the policy is changed with `group set`.
func TestModerated(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	m.write(aliceAddr, aliceName, groupAddr, "Before", "Hi.\n")
	m.wantRelayed(m.settle(), "Before", aliceAddr, memEveryone...)

	if got := m.cliOK("group", "set", testGroup, "post_policy", "moderated"); got != testGroup+": post_policy = moderated\n" {
		t.Errorf("group set printed %q", got)
	}
	m.write(aliceAddr, aliceName, groupAddr, "After", "Hi.\n")
	held := m.heldNotices(m.settle(), aliceAddr, aliceName, "After")
	m.write(memAda, "", groupAddr, "From an admin", "Hi.\n")
	m.wantRelayed(m.settle(), "From an admin", memAda, memEveryone...)
	m.reply(held[memBen], memBen, "")
	m.wantRelayed(m.settle(), "After", aliceAddr, memEveryone...)
	// Moderated means every post, not only the first.
	m.write(aliceAddr, aliceName, groupAddr, "Again", "Hi.\n")
	m.heldNotices(m.settle(), aliceAddr, aliceName, "Again")
}

// TestOwnerRelay: -owner reaches the admins; a member appears under the
// alias, a non-member with the address (the admins must answer them).
func TestOwnerRelay(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	bruno := m.member(testGroup, brunoAddr)

	m.write(brunoAddr, memBrunoName, memOwnerAddr, "A worry", "Someone is posting too much.\n"+memBrunoName+"\n")
	ms := m.settle()
	memWant(t, "a member to the admins", ms, memAda, memBen)
	for _, mm := range ms {
		if from := mm.addr(t, "From"); from.Name != bruno.Alias || from.Address != m.aliasAddr(brunoAddr) {
			t.Errorf("From %q <%s>, want Bruno's alias", from.Name, from.Address)
		}
		if !strings.Contains(mm.Body, "posting too much") {
			t.Errorf("the text is lost:\n%s", mm.Body)
		}
	}
	memNoLeak(t, ms, brunoAddr, memBrunoName, "bruno.quist")

	// A member who may not post (suspended) still appears by alias.
	if _, err := m.srv.Store.UpdateMember(testGroup, carmenAddr, func(mb *mailstore.Member) error {
		mb.State = mailstore.Suspended
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m.write(carmenAddr, memCarmenName, memOwnerAddr, "Why suspended?", "Hello?\n")
	ms = m.settle()
	memWant(t, "a suspended member to the admins", ms, memAda, memBen)
	memNoLeak(t, ms, carmenAddr, memCarmenName, "carmen.vale")

	m.write(memMallory, "Mal", memOwnerAddr, "Question", "How do I join?\n")
	ms = m.settle()
	memWant(t, "a non-member to the admins", ms, memAda, memBen)
	for _, mm := range ms {
		if !strings.Contains(mm.Body, memMallory) || !strings.Contains(mm.Body, "How do I join?") {
			t.Errorf("the relay does not show the sender's address and text:\n%s", mm.Body)
		}
		if rt := mm.addr(t, "Reply-To"); rt.Address != memMallory {
			t.Errorf("Reply-To %s, want the sender", rt.Address)
		}
	}
	memNoLeak(t, ms, aliceAddr, brunoAddr, carmenAddr)
}
