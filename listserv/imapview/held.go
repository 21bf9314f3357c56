package imapview

import (
	"errors"
	"slices"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"listserv/listserv/msgindex"
	"listserv/mailstore"
)

// heldUIDValidityBit is flipped in the group's UIDVALIDITY to give its
// Held mailbox one of its own: fixed for the group's life, and never the
// archive's, so that a client cannot mistake one mailbox's UIDs for the
// other's.
const heldUIDValidityBit = 1 << 31

// heldUIDValidity is the UIDVALIDITY of a group's Held mailbox.
func heldUIDValidity(group uint32) uint32 {
	if v := group ^ heldUIDValidityBit; v != 0 {
		return v
	}
	return 1 // the group's is 1<<31; 1 still differs from it
}

// heldMsg is one waiting held post as the Held mailbox serves it: its
// listing and searchable text are built in memory (msgindex.Build) when
// it is first loaded, since held queues are small and a held post is not
// indexed in the store.
type heldMsg struct {
	sum mailstore.Summary // UID is the held post's id
	idx *mailstore.PostIndex
	raw []byte // the anonymized post, as stored
}

// heldBox is the in-memory state of one group's Held mailbox, shared by
// the sessions that have it selected: the posts still waiting, in id
// order. Unlike the archive it also shrinks (a decided post leaves it),
// so each session keeps its own copy of what it announced (selected.hmsgs)
// and compares it with msgs at each poll.
type heldBox struct {
	srv   *Server
	group string
	kicks chan struct{}

	mu      sync.RWMutex
	msgs    []heldMsg     // replaced on change, never modified
	last    uint64        // the last id the held queue gave
	changed chan struct{} // closed (and replaced) when msgs changes
}

// heldBox returns group's Held state, loading it on first use.
func (s *Server) heldBox(group string) (*heldBox, error) {
	s.mu.Lock()
	h := s.helds[group]
	s.mu.Unlock()
	if h != nil {
		return h, nil
	}
	h = &heldBox{srv: s, group: group, kicks: make(chan struct{}, 1), changed: make(chan struct{})}
	if err := h.refresh(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev := s.helds[group]; prev != nil {
		return prev, nil
	}
	if s.closed {
		return nil, errors.New("imapview: server closed")
	}
	s.helds[group] = h
	s.running.Add(1)
	go func() { defer s.running.Done(); h.run() }()
	return h, nil
}

// currentHeld returns group's Held state as the store has it now.
func (s *Server) currentHeld(group string) (*heldBox, error) {
	h, err := s.heldBox(group)
	if err != nil {
		return nil, err
	}
	return h, h.refresh()
}

// kick asks for a refresh without waiting (from the HeldChanged event).
func (h *heldBox) kick() {
	select {
	case h.kicks <- struct{}{}:
	default:
	}
}

// run reloads the waiting posts after each HeldChanged event, so that
// IDLE sessions hear of them at once.
func (h *heldBox) run() {
	for {
		select {
		case <-h.kicks:
			if err := h.refresh(); err != nil {
				h.srv.log.Error("imap: held refresh failed", "group", h.group, "err", err)
			}
		case <-h.srv.done:
			return
		}
	}
}

// refresh re-reads the waiting posts. Posts already loaded keep their
// index (a waiting post never changes); new ones are indexed here.
func (h *heldBox) refresh() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	waiting, last, err := h.srv.db.WaitingHeld(h.group)
	if err != nil {
		return err
	}
	h.last = max(h.last, last)
	known := make(map[uint64]heldMsg, len(h.msgs))
	for _, m := range h.msgs {
		known[m.sum.UID] = m
	}
	same := len(waiting) == len(h.msgs)
	msgs := make([]heldMsg, 0, len(waiting))
	for i, p := range waiting {
		m, ok := known[p.ID]
		if !ok {
			idx := msgindex.Build(p.Post.Raw, p.Created)
			l := &idx.Listing
			m = heldMsg{idx: idx, raw: p.Post.Raw, sum: mailstore.Summary{
				UID: p.ID, Size: len(p.Post.Raw), Archived: l.Archived.Unix(),
				ArchivedDay: l.ArchivedDay(), SentDay: l.SentDay,
			}}
		}
		same = same && h.msgs[i].sum.UID == p.ID
		msgs = append(msgs, m)
	}
	if !same {
		h.msgs = msgs
		close(h.changed)
		h.changed = make(chan struct{})
	}
	return nil
}

// view returns the waiting posts and the channel closed at the next
// change.
func (h *heldBox) view() ([]heldMsg, <-chan struct{}) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.msgs, h.changed
}

// stats returns the post count, total size and next UID.
func (h *heldBox) stats() (n int, size int64, uidNext uint64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, m := range h.msgs {
		size += int64(m.sum.Size)
	}
	return len(h.msgs), size, h.last + 1
}

// selectHeld opens a Held mailbox for sel.
func (s *session) selectHeld(sel *selected, data *imap.SelectData) error {
	h, err := s.srv.currentHeld(sel.mbox.group)
	if err != nil {
		return err
	}
	msgs, _ := h.view()
	_, _, uidNext := h.stats()
	sel.held = h
	sel.setHeld(slices.Clone(msgs))
	data.NumMessages = uint32(len(sel.hmsgs))
	data.UIDNext = imap.UID(uidNext)
	data.UIDValidity = heldUIDValidity(data.UIDValidity)
	data.Flags = []imap.Flag{}
	return nil
}

// setHeld replaces what the client knows of the Held mailbox.
func (sel *selected) setHeld(msgs []heldMsg) {
	sel.hmsgs = msgs
	sel.hsums = make([]mailstore.Summary, len(msgs))
	for i := range msgs {
		sel.hsums[i] = msgs[i].sum
		sel.htop = max(sel.htop, msgs[i].sum.UID)
	}
}

// pollHeld tells the client of the Held mailbox's changes: EXPUNGE for
// each post decided since (only where EXPUNGE may be sent; until then
// the session keeps serving its copy), EXISTS for newly held ones.
func pollHeld(w *imapserver.UpdateWriter, sel *selected, allowExpunge bool) error {
	cur, _ := sel.held.view()
	if len(cur) == len(sel.hmsgs) && (len(cur) == 0 || cur[len(cur)-1].sum.UID <= sel.htop) {
		// Nothing new (ids only grow, in commit order), so cur is a
		// subset of the client's view: of the same size, it is the same.
		return nil
	}
	waiting := make(map[uint64]bool, len(cur))
	for _, m := range cur {
		waiting[m.sum.UID] = true
	}
	msgs := slices.Clone(sel.hmsgs)
	if allowExpunge {
		for i := len(msgs) - 1; i >= 0; i-- {
			if !waiting[msgs[i].sum.UID] {
				if err := w.WriteExpunge(uint32(i + 1)); err != nil {
					return err
				}
				msgs = slices.Delete(msgs, i, i+1)
			}
		}
	}
	n := len(msgs)
	for _, m := range cur {
		if m.sum.UID > sel.htop {
			msgs = append(msgs, m)
		}
	}
	sel.setHeld(msgs)
	if len(msgs) > n {
		return w.WriteNumMessages(uint32(len(msgs)))
	}
	return nil
}

// heldItems returns the posts at positions pos of the client's view of
// the Held mailbox, from memory.
func (sel *selected) heldItems(pos []int, plan fetchPlan) []item {
	items := make([]item, 0, len(pos))
	for _, p := range pos {
		m := &sel.hmsgs[p]
		it := item{seq: uint32(p + 1), sum: m.sum, listing: m.idx.Listing}
		if plan.raw {
			it.raw = m.raw
			if plan.header {
				it.raw = m.raw[:msgindex.HeaderEnd(m.raw)]
			}
		}
		items = append(items, it)
	}
	return items
}
