package server_test

// End-to-end tests of the GROUP/Held IMAP mailbox: an admin reads the
// posts awaiting approval, read-only; a decided post leaves it, a newly
// held one appears, both while the mailbox is open.

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"listserv/listserv"
	"listserv/listserv/config"
	"listserv/mailstore"
)

const heldBox = testGroup + "/Held"

// imapHeldEnv starts a server whose fixture group is moderated: Carmen is
// its admin, the posts of Alice and Bruno are held.
func imapHeldEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, setup{config: func(c *config.Config) {
		c.IMAP.Listen = "127.0.0.1:0"
		c.Auth.PasswordCost = 4
	}})
	e.group(listserv.GroupSpec{Name: testGroup, JoinPolicy: "approve", PostPolicy: "moderated", Admins: []string{carmenAddr}}, aliceAddr, brunoAddr)
	e.secret(aliceName)
	return e
}

// imapHold has Alice post subject and returns the held post once stored.
func (e *env) imapHold(subject string) mailstore.HeldPost {
	e.t.Helper()
	e.post(aliceAddr, simple(aliceName+" <"+aliceAddr+">", subject, subject+"@example.org"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		held, err := e.srv.Store.HeldPosts(testGroup)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, h := range held {
			if h.Decided == nil && strings.Contains(string(h.Post.Raw), "Subject: "+subject+"\r\n") {
				return h
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("post %q was not held", subject)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIMAPHeldShowsWaitingPosts(t *testing.T) {
	e := imapHeldEnv(t)
	h := e.imapHold("Held one")
	c := e.imapLogin(carmenAddr, e.imapPassword(carmenAddr), nil)
	g, _ := e.srv.Store.Group(testGroup)

	st, err := c.Status(heldBox, &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true}).Wait()
	if err != nil || *st.NumMessages != 1 || st.UIDNext != imap.UID(h.ID+1) || st.UIDValidity == g.UIDValidity {
		t.Fatalf("STATUS %s: %+v %v", heldBox, st, err)
	}
	sel, err := c.Select(heldBox, nil).Wait()
	if err != nil || sel.NumMessages != 1 || sel.UIDValidity != st.UIDValidity || sel.UIDValidity != g.UIDValidity^1<<31 {
		t.Fatalf("SELECT %s: %+v %v", heldBox, sel, err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{{Peek: true}, {Specifier: imap.PartSpecifierText}},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH: %v %v", msgs, err)
	}
	m := msgs[0]
	alias := e.member(testGroup, aliceAddr)
	body := m.FindBodySection(&imap.FetchItemBodySection{Peek: true})
	if m.UID != imap.UID(h.ID) || !bytes.Equal(body, h.Post.Raw) || m.RFC822Size != int64(len(body)) {
		t.Fatalf("FETCH: UID %d (want %d), %d bytes, size %d:\n%s", m.UID, h.ID, len(body), m.RFC822Size, body)
	}
	if bytes.Contains(body, []byte(aliceAddr)) || bytes.Contains(body, []byte(aliceName)) {
		t.Fatalf("the held post shows its author:\n%s", body)
	}
	if text := m.FindBodySection(&imap.FetchItemBodySection{Specifier: imap.PartSpecifierText}); !bytes.Contains(text, []byte("this is a test post")) {
		t.Errorf("BODY[TEXT]: %q", text)
	}
	if m.Envelope.Subject != "Held one" || len(m.Envelope.From) != 1 ||
		m.Envelope.From[0].Name != alias.Alias || m.Envelope.From[0].Mailbox != testGroup+"+"+alias.Slug {
		t.Errorf("envelope %+v", m.Envelope)
	}
	if bs, ok := m.BodyStructure.(*imap.BodyStructureSinglePart); !ok || bs.MediaType() != "text/plain" {
		t.Errorf("BODYSTRUCTURE %#v", m.BodyStructure)
	}
	if len(m.Flags) != 0 || time.Since(m.InternalDate) > time.Minute {
		t.Errorf("flags %v, internal date %v", m.Flags, m.InternalDate)
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "held ONE"}}}, nil).Wait()
	if err != nil || !equalUIDs(res.AllUIDs(), imap.UID(h.ID)) {
		t.Errorf("UID SEARCH SUBJECT: %v %v", res, err)
	}
	res, err = c.UIDSearch(&imap.SearchCriteria{Body: []string{"nowhere to be found"}}, nil).Wait()
	if err != nil || len(res.AllUIDs()) != 0 {
		t.Errorf("UID SEARCH BODY: %v %v", res, err)
	}

	// Read-only: nothing can be set, removed, copied or added.
	for _, f := range []imap.Flag{imap.FlagSeen, imap.FlagDeleted} {
		_, err = c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{f}}, nil).Collect()
		wantIMAPRefused(t, "STORE "+string(f), err, imap.ResponseCodeCannot)
	}
	wantIMAPRefused(t, "EXPUNGE", c.Expunge().Close(), imap.ResponseCodeCannot)
	_, err = c.Copy(imap.SeqSetNum(1), testGroup).Wait()
	wantIMAPRefused(t, "COPY", err, imap.ResponseCodeCannot)
	_, err = c.Move(imap.SeqSetNum(1), testGroup).Wait()
	wantIMAPRefused(t, "MOVE", err, imap.ResponseCodeCannot)
	msg := "Subject: x\r\n\r\nhello\r\n"
	app := c.Append(heldBox, int64(len(msg)), nil)
	app.Write([]byte(msg))
	app.Close()
	_, err = app.Wait()
	wantIMAPRefused(t, "APPEND", err, imap.ResponseCodeCannot)
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Fatalf("CLOSE: %v", err)
	}
	if held, _ := e.srv.Store.HeldPost(testGroup, h.ID); held.Decided != nil || e.archiveCount(testGroup) != 0 {
		t.Fatalf("refused commands changed the held post: %+v", held.Decided)
	}

	// A non-admin neither lists nor opens it.
	b := e.imapLogin(brunoAddr, e.imapPassword(brunoAddr), nil)
	boxes, err := b.List("", "*", nil).Collect()
	if err != nil || len(boxes) != 2 || boxes[1].Mailbox != testGroup {
		t.Fatalf("Bruno's LIST: %v %v", boxes, err)
	}
	_, err = b.Select(heldBox, nil).Wait()
	wantIMAPRefused(t, "Bruno's SELECT", err, imap.ResponseCodeNonExistent)

	// An admin who is removed loses it at once, even while it is open.
	if _, err := c.Select(heldBox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Service.RemoveMember(context.Background(), testGroup, carmenAddr); err != nil {
		t.Fatal(err)
	}
	_, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect()
	wantIMAPRefused(t, "FETCH after removal", err, imap.ResponseCodeNoPerm)
}

func TestIMAPHeldLiveUpdates(t *testing.T) {
	e := imapHeldEnv(t)
	first := e.imapHold("Held one")
	exists := make(chan uint32, 8)
	expunged := make(chan uint32, 8)
	c := e.imapLogin(carmenAddr, e.imapPassword(carmenAddr), &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
			Expunge: func(seq uint32) { expunged <- seq },
		},
	})
	if sel, err := c.Select(heldBox, nil).Wait(); err != nil || sel.NumMessages != 1 {
		t.Fatalf("SELECT: %+v %v", sel, err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let IDLE reach the server

	// A second held post appears as EXISTS.
	sent := time.Now()
	second := e.imapHold("Held two")
	select {
	case n := <-exists:
		if n != 2 {
			t.Fatalf("EXISTS %d, want 2", n)
		}
		if d := time.Since(sent); d > time.Second {
			t.Fatalf("EXISTS came %v after the post", d)
		}
	case <-time.After(time.Second):
		t.Fatal("no EXISTS within a second of the held post")
	}

	// A second session, not idling, has both open.
	dExpunged := make(chan uint32, 8)
	d := e.imapLogin(carmenAddr, e.imapPassword(carmenAddr), &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{Expunge: func(seq uint32) { dExpunged <- seq }},
	})
	if sel, err := d.Select(heldBox, nil).Wait(); err != nil || sel.NumMessages != 2 {
		t.Fatalf("second SELECT: %+v %v", sel, err)
	}

	// Approving the first removes it (EXPUNGE 1) and archives it.
	if err := e.srv.Service.DecideHeld(context.Background(), testGroup, first.ID, true); err != nil {
		t.Fatal(err)
	}
	select {
	case seq := <-expunged:
		if seq != 1 {
			t.Fatalf("EXPUNGE %d, want 1", seq)
		}
	case <-time.After(time.Second):
		t.Fatal("no EXPUNGE within a second of the approval")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	// FETCH may not expunge: the second session still reads the approved
	// post; a NOOP then tells it.
	msgs, err := d.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 2 || msgs[0].UID != imap.UID(first.ID) ||
		!bytes.Equal(msgs[0].FindBodySection(&imap.FetchItemBodySection{Peek: true}), first.Post.Raw) {
		t.Fatalf("second session's FETCH 1:2 after the approval: %v %v", msgs, err)
	}
	if len(dExpunged) != 0 {
		t.Fatal("EXPUNGE sent during FETCH")
	}
	if err := d.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case seq := <-dExpunged:
		if seq != 1 {
			t.Fatalf("second session: EXPUNGE %d, want 1", seq)
		}
	case <-time.After(time.Second):
		t.Fatal("second session: no EXPUNGE at NOOP")
	}

	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != imap.UID(second.ID) {
		t.Fatalf("FETCH 1 after the approval: %v %v", msgs, err)
	}

	// Re-SELECT: only the second waits; the first is in the archive.
	if sel, err := c.Select(heldBox, nil).Wait(); err != nil || sel.NumMessages != 1 {
		t.Fatalf("re-SELECT: %+v %v", sel, err)
	}
	if sel, err := c.Select(testGroup, nil).Wait(); err != nil || sel.NumMessages != 1 {
		t.Fatalf("SELECT %s: %+v %v", testGroup, sel, err)
	}
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].Envelope.Subject != "Held one" {
		t.Fatalf("archive after the approval: %v %v", msgs, err)
	}
}
