package imapview

import (
	"sort"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Poll tells the client what changed since its last command: new posts
// (EXISTS from the shared archive's count, one number for any number of
// new posts) and flags changed by the member's other sessions; in a Held
// mailbox, decided posts (EXPUNGE, where allowed) and newly held ones. A session
// whose access was revoked is told nothing more.
func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.poll(w, allowExpunge)
}

func (s *session) poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	sel := s.sel
	if sel == nil || (sel.arch == nil && sel.held == nil) {
		return nil
	}
	if ok, err := s.allowed(sel.mbox); err != nil || !ok {
		return nil
	}
	if sel.held != nil {
		return pollHeld(w, sel, allowExpunge)
	}
	if err := pollArchive(w, sel, allowExpunge); err != nil {
		return err
	}
	sums := sel.sums()
	for _, uid := range sel.book.since(&sel.at, s) {
		if p, ok := position(sums, uid); ok {
			if err := w.WriteMessageFlags(uint32(p+1), imap.UID(uid), imapFlags(sel.book.get(uid))); err != nil {
				return err
			}
		}
	}
	return nil
}

// Idle sends updates as they happen until stop: it waits on the
// archive's growth (the service's PostArchived event, after the commit)
// or the Held mailbox's changes (HeldChanged),
// on the member's flag changes and on membership changes — never on a
// timer.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	for {
		var grown, flagged <-chan struct{}
		s.mu.Lock()
		if sel := s.sel; sel != nil && sel.arch != nil {
			_, grown = sel.arch.view()
			_, flagged = sel.book.pos()
		} else if sel != nil && sel.held != nil {
			_, grown = sel.held.view()
		}
		err := s.poll(w, true)
		s.mu.Unlock()
		if err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-grown:
		case <-flagged:
		case <-s.wake:
		}
	}
}

// pollArchive brings the client's view of the archive up to date: EXISTS
// for new posts and, after a removal (erasure or retention), EXPUNGE for
// each post of its view that is gone, highest sequence number first, so
// that each number is still right when the client reads it. Where EXPUNGE
// may not be sent (during FETCH, STORE, SEARCH) the view keeps the
// removed posts (FETCH of them returns nothing, a text search does not
// find them) and only gains the new ones.
func pollArchive(w *imapserver.UpdateWriter, sel *selected, allowExpunge bool) error {
	cur, epoch := sel.arch.snapshot()
	view := sel.view
	if epoch == sel.epoch {
		// No removal since view was taken: it is a prefix of cur.
		if len(cur) > len(view) {
			sel.view = cur
			return w.WriteNumMessages(uint32(len(cur)))
		}
		return nil
	}
	var top uint64
	if len(view) > 0 {
		top = view[len(view)-1].UID
	}
	fresh := sort.Search(len(cur), func(i int) bool { return cur[i].UID > top })
	if !allowExpunge {
		if fresh < len(cur) {
			sel.view = append(view[:len(view):len(view)], cur[fresh:]...)
			return w.WriteNumMessages(uint32(len(sel.view)))
		}
		return nil
	}
	for i := len(view) - 1; i >= 0; i-- {
		if _, ok := position(cur, view[i].UID); !ok {
			if err := w.WriteExpunge(uint32(i + 1)); err != nil {
				return err
			}
		}
	}
	// The client now holds cur's posts up to top, and nothing else.
	sel.view, sel.epoch = cur, epoch
	if fresh < len(cur) {
		return w.WriteNumMessages(uint32(len(cur)))
	}
	return nil
}
