package server_test

// End-to-end tests of erasure and retention (SPEC §4, last bullet): a
// member erases their posts by mail, and a group's archive_days purges
// old posts; an open IMAP session sees EXPUNGE for exactly those posts,
// searches no longer find them, UIDs are not reused, and a backup made
// afterwards holds none of their words. Helpers start with "erase".

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"listserv/listserv"
	"listserv/listserv/config"
	"listserv/templates"
)

// eraseWatch collects a session's unilateral EXPUNGE and EXISTS.
type eraseWatch struct {
	mu       sync.Mutex
	expunged []uint32
	exists   []uint32
	notify   chan struct{}
}

func newEraseWatch() *eraseWatch { return &eraseWatch{notify: make(chan struct{}, 64)} }

func (w *eraseWatch) options() *imapclient.Options {
	return &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) {
			w.mu.Lock()
			w.expunged = append(w.expunged, seq)
			w.mu.Unlock()
			w.notify <- struct{}{}
		},
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				w.mu.Lock()
				w.exists = append(w.exists, *d.NumMessages)
				w.mu.Unlock()
				w.notify <- struct{}{}
			}
		},
	}}
}

// waitExpunged waits until n EXPUNGE responses came and returns them.
func (w *eraseWatch) waitExpunged(t *testing.T, n int) []uint32 {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		w.mu.Lock()
		got := append([]uint32(nil), w.expunged...)
		w.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-w.notify:
		case <-deadline:
			t.Fatalf("%d EXPUNGE responses after 5s, want %d: %v", len(got), n, got)
		}
	}
}

func (w *eraseWatch) snapshot() (expunged, exists []uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]uint32(nil), w.expunged...), append([]uint32(nil), w.exists...)
}

// eraseUIDs runs UID SEARCH TEXT word.
func eraseUIDs(t *testing.T, c *imapclient.Client, word string) []imap.UID {
	t.Helper()
	res, err := c.UIDSearch(&imap.SearchCriteria{Text: []string{word}}, nil).Wait()
	if err != nil {
		t.Fatalf("UID SEARCH TEXT %s: %v", word, err)
	}
	return res.AllUIDs()
}

func TestEraseByMail(t *testing.T) {
	m := newMemEnv(t, func(c *config.Config) { c.IMAP.Listen = "127.0.0.1:0" })
	m.fixture("open", "members")
	alice := m.member(testGroup, aliceAddr)
	// Alice writes three posts, Bruno one; each has a word of its own.
	aliceWords := []string{"aardvarkquill", "bisonlantern", "cheetahmarble"}
	for i, w := range aliceWords {
		m.write(aliceAddr, aliceName, groupAddr, fmt.Sprintf("Alice %d", i+1), "Today I want to say "+w+" to you all.\n")
	}
	m.write(brunoAddr, memBrunoName, groupAddr, "Bruno 1", "Bruno says dolphinharbor.\n")
	m.settle()
	if n := m.archiveCount(testGroup); n != 4 {
		t.Fatalf("archive holds %d posts, want 4", n)
	}
	for _, w := range aliceWords {
		if m.storedIn(w) == 0 {
			t.Fatalf("the backup walk does not find %q before the erasure", w)
		}
	}

	// Carmen reads the archive: one session idles, another issues NOOPs.
	pass := m.imapPassword(carmenAddr)
	idleWatch, noopWatch := newEraseWatch(), newEraseWatch()
	c := m.imapLogin(carmenAddr, pass, idleWatch.options())
	d := m.imapLogin(carmenAddr, pass, noopWatch.options())
	for _, cl := range []*imapclient.Client{c, d} {
		if sel, err := cl.Select(testGroup, nil).Wait(); err != nil || sel.NumMessages != 4 || sel.UIDNext != 5 {
			t.Fatalf("SELECT: %+v %v", sel, err)
		}
	}
	if got := eraseUIDs(t, d, "bisonlantern"); len(got) != 1 || got[0] != 2 {
		t.Fatalf("SEARCH TEXT bisonlantern before the erasure: %v", got)
	}
	// Carmen's flags on Alice's posts go with them.
	if _, err := d.Store(imap.SeqSetNum(1, 2, 3, 4), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}, Silent: true}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let IDLE reach the server

	// "erase" to -request: a confirmation, and the command's answer.
	m.write(aliceAddr, aliceName, memRequestAddr, "erase", "")
	ms := m.settle()
	memWant(t, "answer to erase", ms, aliceAddr, aliceAddr)
	var confirm memMail
	for _, mm := range ms {
		if mm.subject() == "Please confirm: erase your posts from "+testGroup {
			confirm = mm
		}
	}
	if confirm.Header == nil {
		t.Fatalf("no erase confirmation among %v", ms)
	}
	confirm.token(t)
	if len(idleWatch.expunged) != 0 || m.archiveCount(testGroup) != 4 {
		t.Fatal("posts were erased before the confirmation")
	}
	m.reply(confirm, aliceAddr, aliceName)

	// The idle session gets EXPUNGE for exactly Alice's three posts,
	// highest sequence number first: 3, 2, 1.
	if got := idleWatch.waitExpunged(t, 3); fmt.Sprint(got) != "[3 2 1]" {
		t.Fatalf("EXPUNGE in IDLE: %v, want [3 2 1]", got)
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	ms = m.settle()
	memWant(t, "after the confirmation", ms, aliceAddr)
	memWantSubject(t, ms[0], "Your posts were erased from "+testGroup)
	if !strings.Contains(ms[0].Body, "3 posts you wrote") || !strings.Contains(ms[0].Body, "cannot be recalled") {
		t.Errorf("the erasure notice:\n%s", ms[0].Body)
	}
	memNoLeak(t, ms, aliceName)

	// The other session hears of it at its NOOP.
	if err := d.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if got := noopWatch.waitExpunged(t, 3); fmt.Sprint(got) != "[3 2 1]" {
		t.Fatalf("EXPUNGE at NOOP: %v, want [3 2 1]", got)
	}
	for _, cl := range []*imapclient.Client{c, d} {
		for _, w := range aliceWords {
			if got := eraseUIDs(t, cl, w); len(got) != 0 {
				t.Errorf("SEARCH TEXT %s after the erasure: %v", w, got)
			}
		}
		if got := eraseUIDs(t, cl, "dolphinharbor"); len(got) != 1 || got[0] != 4 {
			t.Errorf("SEARCH TEXT dolphinharbor: %v, want UID 4", got)
		}
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 4 ||
		!strings.Contains(string(msgs[0].FindBodySection(&imap.FetchItemBodySection{Peek: true})), "dolphinharbor") {
		t.Fatalf("FETCH 1 after the erasure: %v %v", msgs, err)
	}
	if fmt.Sprint(msgs[0].Flags) != "[\\Flagged]" {
		t.Errorf("flags of the remaining post: %v", msgs[0].Flags)
	}
	msgs, err = c.Fetch(imap.UIDSetNum(1, 2, 3), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil || len(msgs) != 0 {
		t.Fatalf("UID FETCH of erased posts: %v %v", msgs, err)
	}
	st, err := c.Status(testGroup, &imap.StatusOptions{NumMessages: true, UIDNext: true}).Wait()
	if err != nil || *st.NumMessages != 1 || st.UIDNext != 5 {
		t.Fatalf("STATUS after the erasure: %+v %v", st, err)
	}
	if flags, _ := m.srv.Store.MemberFlags(testGroup, m.member(testGroup, carmenAddr).ID); len(flags) != 1 || !flags[4].Flagged {
		t.Errorf("Carmen's flags after the erasure: %v", flags)
	}

	// Alice is still a member; her next post gets a UID above every
	// earlier one, and the open session sees it.
	m.wantState(aliceAddr, "active")
	m.write(aliceAddr, aliceName, groupAddr, "Alice again", "After the erasure.\n")
	m.settle()
	if uids, _ := m.srv.Store.PostsBy(testGroup, alice.ID); len(uids) != 1 || uids[0] != 5 {
		t.Fatalf("Alice's posts after a new one: %v, want [5]", uids)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if _, exists := idleWatch.snapshot(); len(exists) == 0 || exists[len(exists)-1] != 2 {
		t.Errorf("EXISTS after the new post: %v, want 2 last", exists)
	}

	// A backup made now holds none of the erased posts' words.
	for _, w := range aliceWords {
		if n := m.storedIn(w); n != 0 {
			t.Errorf("%d records of a fresh backup hold %q", n, w)
		}
	}
	if m.storedIn("dolphinharbor") == 0 {
		t.Error("the backup lost Bruno's post")
	}
}

// TestEraseWithdrawsHeldPosts: a member's posts waiting for approval are
// withdrawn by an erasure; an admin who acts on one later is told.
func TestEraseWithdrawsHeldPosts(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("open", "moderated")
	m.write(aliceAddr, aliceName, groupAddr, "Please hold", "A post with heldwombat in it.\n")
	held := m.heldNotices(m.settle(), aliceAddr, aliceName, "Please hold")
	out := m.cliOK("member", "erase", testGroup, aliceAddr)
	if out != "erased 0 posts and 1 held post\n" {
		t.Errorf("member erase printed %q", out)
	}
	if w, _, _ := m.srv.Store.WaitingHeld(testGroup); len(w) != 0 {
		t.Fatalf("held posts still waiting: %d", len(w))
	}
	m.reply(held[memAda], memAda, "")
	ms := m.settle()
	memWant(t, "an approval after the erasure", ms, memAda)
	if !strings.Contains(ms[0].Body, "erased") {
		t.Errorf("the admin's note:\n%s", ms[0].Body)
	}
	if m.archiveCount(testGroup) != 0 {
		t.Fatal("the withdrawn post was archived")
	}
	if n := m.storedIn("heldwombat"); n != 0 {
		t.Errorf("%d records of a backup hold the withdrawn post", n)
	}
}

// TestArchiveRetention: with archive_days = 1, posts older than a day are
// purged by the sweep and expunged from an open session; a recent post
// stays.
func TestArchiveRetention(t *testing.T) {
	m := newMemEnv(t, func(c *config.Config) { c.IMAP.Listen = "127.0.0.1:0" })
	m.fixture("open", "members")
	m.cliOK("group", "set", testGroup, "archive_days", "1")
	m.write(aliceAddr, aliceName, groupAddr, "Old one", "An old post about emuquartz.\n")
	m.write(brunoAddr, memBrunoName, groupAddr, "Old two", "Another old one.\n")
	m.settle()

	// Nothing is due yet.
	if n, err := m.srv.Service.PurgeArchives(context.Background()); err != nil || n != 0 {
		t.Fatalf("PurgeArchives now: %d, %v", n, err)
	}
	// Two days later (a second service over the same store, its clock
	// moved on), Carmen posts.
	later := func(d time.Duration) *listserv.Service {
		s, err := listserv.New(listserv.Options{
			Store:        m.srv.Store,
			Domain:       testDomain,
			Hostname:     m.cfg.Hostname,
			PasswordCost: 4,
			Templates:    templates.New(filepath.Join(m.cfg.DataDir, "templates")),
			Wake:         m.srv.Queue.Wake,
			Logger:       slog.New(slog.NewTextHandler(m.logs, nil)),
			Now:          func() time.Time { return time.Now().Add(d) },
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	twoDays := later(48 * time.Hour)
	target, err := twoDays.Resolve(context.Background(), groupAddr)
	if err != nil {
		t.Fatal(err)
	}
	raw := message(m.headers(memCarmenName+" <"+carmenAddr+">", groupAddr, "Recent"), "A recent post about ibisfern.\n")
	if err := twoDays.Receive(context.Background(), &listserv.Envelope{MailFrom: carmenAddr, Target: target, ConnID: "test"}, raw); err != nil {
		t.Fatal(err)
	}
	m.settle()

	w, dw := newEraseWatch(), newEraseWatch()
	pass := m.imapPassword(carmenAddr)
	c := m.imapLogin(carmenAddr, pass, w.options())
	d := m.imapLogin(carmenAddr, pass, dw.options())
	for _, cl := range []*imapclient.Client{c, d} {
		if sel, err := cl.Select(testGroup, nil).Wait(); err != nil || sel.NumMessages != 3 {
			t.Fatalf("SELECT: %+v %v", sel, err)
		}
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)

	// The sweep, two days on, by the running service (so that its event
	// reaches the IMAP sessions).
	n, err := m.srv.Service.PurgeArchivesAt(context.Background(), time.Now().Add(48*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PurgeArchivesAt(+2 days): %d, %v; want 2", n, err)
	}
	if got := w.waitExpunged(t, 2); fmt.Sprint(got) != "[2 1]" {
		t.Fatalf("EXPUNGE: %v, want [2 1]", got)
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 || msgs[0].Envelope.Subject != "Recent" {
		t.Fatalf("FETCH after the sweep: %v %v", msgs, err)
	}
	if got := eraseUIDs(t, c, "emuquartz"); len(got) != 0 {
		t.Errorf("SEARCH finds a purged post: %v", got)
	}

	// The second session issues no command that allows EXPUNGE until a
	// new post has come: FETCH may not expunge, so it still numbers the
	// purged posts 1 and 2 (they return nothing) and learns of the new
	// post as 4 after it; its NOOP then expunges them.
	m.write(aliceAddr, aliceName, groupAddr, "Newest", "Fresh.\n")
	m.settle()
	msgs, err = d.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].SeqNum != 3 || msgs[0].UID != 3 {
		t.Fatalf("FETCH 1:3 before EXPUNGE may be sent: %+v %v", msgs, err)
	}
	msgs, err = d.Fetch(imap.SeqSetNum(1, 2, 3, 4), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 2 || msgs[0].SeqNum != 3 || msgs[1].SeqNum != 4 || msgs[1].UID != 4 {
		t.Fatalf("FETCH 1:4 before EXPUNGE may be sent: %+v %v", msgs, err)
	}
	// Flags cannot be set on the purged posts, and trying is no error.
	if _, err := d.Store(imap.SeqSetNum(1, 2, 3, 4), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}, Silent: true}, nil).Collect(); err != nil {
		t.Fatalf("STORE over purged posts: %v", err)
	}
	msgs, err = d.Fetch(imap.SeqSetNum(1, 2, 3, 4), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("FETCH BODY[] 1:4 over purged posts: %+v %v", msgs, err)
	}
	if flags, _ := m.srv.Store.MemberFlags(testGroup, m.member(testGroup, carmenAddr).ID); len(flags) != 2 || !flags[3].Seen || !flags[4].Flagged {
		t.Errorf("flags after STORE and FETCH over purged posts: %v", flags)
	}
	// SEARCH (by sequence number: EXPUNGE may not be sent during it)
	// finds no purged post, whatever the criteria.
	if res, err := d.Search(&imap.SearchCriteria{}, nil).Wait(); err != nil || fmt.Sprint(res.AllSeqNums()) != "[3 4]" {
		t.Fatalf("SEARCH ALL over purged posts: %v %v, want [3 4]", res.AllSeqNums(), err)
	}
	if exp, exists := dw.snapshot(); len(exp) != 0 || fmt.Sprint(exists) != "[4]" {
		t.Fatalf("during FETCH, STORE and SEARCH: EXPUNGE %v, EXISTS %v; want none and [4]", exp, exists)
	}
	if err := d.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if got := dw.waitExpunged(t, 2); fmt.Sprint(got) != "[2 1]" {
		t.Fatalf("second session's EXPUNGE: %v, want [2 1]", got)
	}
	msgs, err = d.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 2 || msgs[0].UID != 3 || msgs[1].UID != 4 {
		t.Fatalf("FETCH 1:2 after EXPUNGE: %+v %v", msgs, err)
	}
	if n := m.storedIn("emuquartz"); n != 0 {
		t.Errorf("%d records of a backup hold a purged post", n)
	}
	// The service's own clock: two days on, "Newest" (sent now, UID 4)
	// is due although "Recent" (sent at +2 days, UID 3) is not: dates do
	// not follow UIDs, and the sweep reads them all. Four days on, the
	// recent post goes too.
	if n, err := twoDays.PurgeArchives(context.Background()); err != nil || n != 1 {
		t.Fatalf("PurgeArchives at +2 days, again: %d, %v; want 1", n, err)
	}
	if n, err := later(96 * time.Hour).PurgeArchives(context.Background()); err != nil || n != 1 {
		t.Fatalf("PurgeArchives at +4 days: %d, %v; want 1", n, err)
	}
	if n := m.archiveCount(testGroup); n != 0 {
		t.Fatalf("archive holds %d posts after the sweeps", n)
	}
	// UIDs go on.
	m.write(aliceAddr, aliceName, groupAddr, "New", "Fresh.\n")
	m.settle()
	uids, _ := m.srv.Store.PostsBy(testGroup, m.member(testGroup, aliceAddr).ID)
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	if len(uids) != 1 || uids[0] != 5 {
		t.Fatalf("the post after the sweeps: %v, want UID 5", uids)
	}
}
