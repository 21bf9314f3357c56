package imapview

import (
	"errors"
	"sync"
	"time"

	"listserv/listserv/msgindex"
	"listserv/mailstore"
)

// archive is the in-memory state of one group's archive, shared by every
// session that has it selected: the summary of every post (UID, size,
// dates: what STATUS, sequence numbers and date or size searches need),
// in UID order. New posts are appended; a removal (erasure, retention:
// the PostsRemoved event) replaces the slice with a new one and counts
// an epoch. A session keeps the slice it announced (selected.view): while
// the epoch is the one it saw, that slice is a prefix of sums; after a
// removal it compares the two and sends EXPUNGE for what is gone.
type archive struct {
	srv         *Server
	group       string
	uidValidity uint32

	mu      sync.RWMutex
	search  *msgindex.Searcher // replaced at each removal (its vocabulary holds the removed posts' words)
	sums    []mailstore.Summary
	size    int64
	lastUID uint64        // the highest UID the store ever gave
	epoch   uint64        // counts removals
	grown   chan struct{} // closed (and replaced) when sums grows or shrinks
	kicks   chan struct{}

	// removed holds the UIDs of PostsRemoved events not yet applied.
	rmu     sync.Mutex
	removed []uint64
}

// archive returns group's archive state, loading it on first use.
func (s *Server) archive(group string) (*archive, error) {
	s.mu.Lock()
	a := s.archives[group]
	s.mu.Unlock()
	if a != nil {
		return a, nil
	}
	g, err := s.db.Group(group)
	if err != nil {
		return nil, err
	}
	a = &archive{
		srv:         s,
		group:       group,
		uidValidity: g.UIDValidity,
		search:      msgindex.NewSearcher(s.db, group),
		grown:       make(chan struct{}),
		kicks:       make(chan struct{}, 1),
	}
	if err := a.refresh(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev := s.archives[group]; prev != nil {
		return prev, nil
	}
	if s.closed {
		return nil, errors.New("imapview: server closed")
	}
	s.archives[group] = a
	s.running.Add(1)
	go func() { defer s.running.Done(); a.run() }()
	return a, nil
}

// current returns group's archive state with every post archived so far
// (SELECT and STATUS must count posts committed without an event).
func (s *Server) current(group string) (*archive, error) {
	a, err := s.archive(group)
	if err != nil {
		return nil, err
	}
	return a, a.refresh()
}

// remove notes posts removed from the store, and has them dropped
// without waiting (called from the PostsRemoved event).
func (a *archive) remove(uids []uint64) {
	a.rmu.Lock()
	a.removed = append(a.removed, uids...)
	a.rmu.Unlock()
	a.kick()
}

// applyRemovals drops the posts removed since the last call. Callers
// hold a.mu.
func (a *archive) applyRemovals() {
	a.rmu.Lock()
	uids := a.removed
	a.removed = nil
	a.rmu.Unlock()
	if len(uids) == 0 {
		return
	}
	dead := make(map[uint64]bool, len(uids))
	for _, u := range uids {
		dead[u] = true
	}
	kept := make([]mailstore.Summary, 0, len(a.sums))
	for _, s := range a.sums {
		if dead[s.UID] {
			a.size -= int64(s.Size)
			continue
		}
		kept = append(kept, s)
	}
	// The searcher's vocabulary lists every word it saw, the removed
	// posts' too: start a new one (built from the store's index, which
	// no longer holds them, at the next search).
	a.search = msgindex.NewSearcher(a.srv.db, a.group)
	a.srv.forgetFlags(a.group, uids)
	if len(kept) == len(a.sums) {
		return
	}
	a.sums = kept[:len(kept):len(kept)]
	a.epoch++
	close(a.grown)
	a.grown = make(chan struct{})
}

// searcher returns the current searcher.
func (a *archive) searcher() *msgindex.Searcher {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.search
}

// kick asks for a refresh without waiting (called from event listeners).
func (a *archive) kick() {
	select {
	case a.kicks <- struct{}{}:
	default:
	}
}

// termDelay is how long new posts wait before their terms are indexed,
// so that a burst of posts shares one index commit (until then a search
// reads their text).
const termDelay = 500 * time.Millisecond

// run keeps the archive state and its term index up to date: after each
// kick (a post was archived) it loads the new posts at once (IDLE clients
// are told), and indexes their terms a little later, many posts per
// commit (see mailstore.PutTerms).
func (a *archive) run() {
	index := time.NewTimer(0) // index what was archived while no one was reading
	defer index.Stop()
	pending := true
	for {
		select {
		case <-a.kicks:
			if err := a.refresh(); err != nil {
				a.srv.log.Error("imap: archive refresh failed", "group", a.group, "err", err)
			}
			if !pending {
				index.Reset(termDelay)
				pending = true
			}
		case <-index.C:
			pending = false
			a.srv.indexTerms(a.group)
		case <-a.srv.done:
			return
		}
	}
}

// refresh drops the posts removed and appends the posts archived since
// the last refresh, indexing first any that were archived without an
// index.
func (a *archive) refresh() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applyRemovals()
	for {
		var (
			fresh   []mailstore.Summary
			missing []uint64
			after   = a.lastSeen()
			last    uint64
		)
		err := a.srv.db.ReadArchive(a.group, func(tx *mailstore.ArchiveTx) error {
			last = tx.LastUID()
			return tx.Summaries(after, func(s mailstore.Summary, indexed bool) error {
				if !indexed || len(missing) > 0 {
					missing = append(missing, s.UID)
				} else {
					fresh = append(fresh, s)
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		a.lastUID = max(a.lastUID, last)
		if len(fresh) > 0 {
			a.sums = append(a.sums, fresh...)
			for _, s := range fresh {
				a.size += int64(s.Size)
			}
			close(a.grown)
			a.grown = make(chan struct{})
		}
		if len(missing) == 0 {
			return nil
		}
		if err := a.srv.backfill(a.group, missing); err != nil {
			return err
		}
	}
}

func (a *archive) lastSeen() uint64 {
	if len(a.sums) == 0 {
		return 0
	}
	return a.sums[len(a.sums)-1].UID
}

// view returns the summaries and the channel closed at the next change.
func (a *archive) view() ([]mailstore.Summary, <-chan struct{}) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.sums[:len(a.sums):len(a.sums)], a.grown
}

// snapshot returns the summaries and the epoch they belong to.
func (a *archive) snapshot() ([]mailstore.Summary, uint64) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.sums[:len(a.sums):len(a.sums)], a.epoch
}

// stats returns the post count, total size and next UID.
func (a *archive) stats() (n int, size int64, uidNext uint64) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.sums), a.size, max(a.lastUID, a.lastSeen()) + 1
}
