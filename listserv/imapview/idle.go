package imapview

import (
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
	if sums, _ := sel.arch.view(); len(sums) > sel.n {
		if err := w.WriteNumMessages(uint32(len(sums))); err != nil {
			return err
		}
		sel.n = len(sums)
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
