package imapview_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"listserv/listserv"
	"listserv/listserv/imapview"
	"listserv/mailstore"
)

// TestCapabilities: what is advertised is exactly what is implemented.
func TestCapabilities(t *testing.T) {
	f := small(t, 3, imapview.Options{})
	c := f.login(t, nil)
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for cp := range caps {
		got = append(got, string(cp))
	}
	for _, want := range []imap.Cap{imap.CapIMAP4rev1, imap.CapNamespace, imap.CapESearch, imap.CapListExtended,
		imap.CapListStatus, imap.CapChildren, imap.CapStatusSize, imap.CapIdle, imap.CapUnselect} {
		if !caps.Has(want) {
			t.Errorf("%s not advertised: %v", want, got)
		}
	}
	for _, absent := range []imap.Cap{imap.CapIMAP4rev2, imap.CapBinary, imap.CapMove, imap.CapUIDPlus, imap.CapSearchRes, imap.CapCondStore} {
		if caps.Has(absent) {
			t.Errorf("%s advertised", absent)
		}
	}
	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' {
		t.Fatalf("NAMESPACE %+v %v", ns, err)
	}
}

func TestListExtendedAndStatus(t *testing.T) {
	f := small(t, 5, imapview.Options{})
	ctx := context.Background()
	if _, err := f.svc.CreateGroup(ctx, listserv.GroupSpec{Name: "grief", Admins: []string{reader}}); err != nil {
		t.Fatal(err)
	}
	c := f.login(t, nil)
	boxes, err := c.List("", "%", &imap.ListOptions{
		ReturnSubscribed: true, ReturnChildren: true,
		ReturnStatus: &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true, Size: true},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, b := range boxes {
		line := fmt.Sprintf("%s %v", b.Mailbox, b.Attrs)
		if b.Status != nil {
			line += fmt.Sprintf(" messages=%d unseen=%d next=%d", *b.Status.NumMessages, *b.Status.NumUnseen, b.Status.UIDNext)
		}
		lines = append(lines, line)
	}
	want := []string{
		`INBOX [\HasNoChildren \Subscribed] messages=0 unseen=0 next=1`,
		`grief [\HasChildren \Subscribed] messages=0 unseen=0 next=1`,
		`recovery [\HasNoChildren \Subscribed] messages=5 unseen=5 next=6`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("LIST RETURN (SUBSCRIBED CHILDREN STATUS):\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	boxes, err = c.List("", "*", &imap.ListOptions{SelectSubscribed: true, SelectRecursiveMatch: true}).Collect()
	if err != nil || len(boxes) != 4 {
		t.Fatalf("LIST (SUBSCRIBED RECURSIVEMATCH) * : %v %v", boxes, err)
	}
	boxes, err = c.List("", "inbox", nil).Collect()
	if err != nil || len(boxes) != 1 || boxes[0].Mailbox != "INBOX" {
		t.Fatalf("LIST inbox: %v %v", boxes, err)
	}
	st, err := c.Status("recovery", &imap.StatusOptions{NumMessages: true, Size: true, NumDeleted: true}).Wait()
	if err != nil || *st.NumMessages != 5 || *st.Size < 1000 || *st.NumDeleted != 0 {
		t.Fatalf("STATUS: %+v %v", st, err)
	}
}

func TestESearch(t *testing.T) {
	f := small(t, 20, imapview.Options{})
	c := f.login(t, nil)
	res, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{{{Start: 3, Stop: 9}}}},
		&imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true}).Wait()
	if err != nil || res.Min != 3 || res.Max != 9 || res.Count != 7 {
		t.Fatalf("SEARCH RETURN (MIN MAX COUNT): %+v %v", res, err)
	}
	res, err = c.Search(&imap.SearchCriteria{Text: []string{"no such text anywhere"}}, &imap.SearchOptions{ReturnCount: true}).Wait()
	if err != nil || res.Count != 0 {
		t.Fatalf("empty ESEARCH: %+v %v", res, err)
	}
	res, err = c.Search(&imap.SearchCriteria{Text: []string{"no such text anywhere"}}, nil).Wait()
	if err != nil || len(res.AllSeqNums()) != 0 {
		t.Fatalf("empty SEARCH: %+v %v", res, err)
	}
}

// TestFlagsAcrossSessions: a member's second session hears of the flags
// the first one sets, as untagged FETCH responses, in IDLE too.
func TestFlagsAcrossSessions(t *testing.T) {
	f := small(t, 4, imapview.Options{})
	updates := make(chan []imap.Flag, 4)
	watcher := f.login(t, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Fetch: func(msg *imapclient.FetchMessageData) {
			for item := msg.Next(); item != nil; item = msg.Next() {
				if fl, ok := item.(imapclient.FetchItemDataFlags); ok {
					updates <- fl.Flags
				}
			}
		},
	}})
	idle, err := watcher.Idle()
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(50 * time.Millisecond)
	c := f.login(t, nil)
	if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case fl := <-updates:
		if len(fl) != 1 || fl[0] != imap.FlagFlagged {
			t.Fatalf("update %v", fl)
		}
	case <-time.After(time.Second):
		t.Fatal("the idle session was not told of the new flag")
	}
}

// TestUnindexedPostIsBackfilled: a post archived without an index (by an
// older version, or a path that did not compute one) is indexed when the
// view meets it, and then lists and searches like the others.
func TestUnindexedPostIsBackfilled(t *testing.T) {
	f := small(t, 2, imapview.Options{})
	raw := []byte("From: \"Calm Otter\" <recovery+calm-otter@lists.example.org>\r\nSubject: legacy\r\nMessage-ID: <old@x>\r\n\r\nan old zebrafinch post\r\n")
	if _, err := f.db.CommitPost(mailstore.Post{Group: group, Raw: raw, Meta: mailstore.PostMeta{MessageID: "old@x", Date: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	c := f.login(t, nil)
	msgs, err := c.Fetch(imap.SeqSetNum(3), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].Envelope.Subject != "legacy" {
		t.Fatalf("FETCH of the unindexed post: %+v %v", msgs, err)
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{Text: []string{"zebrafin"}}, nil).Wait()
	if err != nil || len(res.AllUIDs()) != 1 || res.AllUIDs()[0] != 3 {
		t.Fatalf("SEARCH: %v %v", res.AllUIDs(), err)
	}
}
