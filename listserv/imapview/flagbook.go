package imapview

import (
	"errors"
	"sort"
	"sync"

	"listserv/mailstore"
)

// flagBook holds one member's flags on one group's archive while any of
// their sessions has it selected: loaded once, changed only through set
// (which persists first), shared by their sessions. A log of changed
// UIDs lets each session tell its client about the others' changes.
type flagBook struct {
	srv    *Server
	key    bookKey
	refs   int // guarded by srv.mu
	mu     sync.Mutex
	flags  map[uint64]mailstore.Flags
	log    []flagChange
	base   int           // log position of log[0]
	change chan struct{} // closed (and replaced) at each change
}

type bookKey struct {
	group  string
	member uint64
}

type flagChange struct {
	uid uint64
	src *session
}

// maxLog bounds the change log; a session further behind misses updates
// (its client sees them at the next SELECT).
const maxLog = 4096

// book returns (loading if needed) the flag book of member in group; the
// caller must release it.
func (s *Server) book(group string, member uint64) (*flagBook, error) {
	k := bookKey{group, member}
	s.mu.Lock()
	if b := s.books[k]; b != nil {
		b.refs++
		s.mu.Unlock()
		return b, nil
	}
	s.mu.Unlock()
	flags, err := s.db.MemberFlags(group, member)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.books[k]; b != nil {
		b.refs++
		return b, nil
	}
	b := &flagBook{srv: s, key: k, refs: 1, flags: flags, change: make(chan struct{})}
	s.books[k] = b
	return b, nil
}

func (b *flagBook) release() {
	b.srv.mu.Lock()
	defer b.srv.mu.Unlock()
	if b.refs--; b.refs == 0 {
		delete(b.srv.books, b.key)
	}
}

// get returns the flags of uid.
func (b *flagBook) get(uid uint64) mailstore.Flags {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flags[uid]
}

// pos returns the current end of the change log and the channel closed at
// the next change.
func (b *flagBook) pos() (int, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.base + len(b.log), b.change
}

// set persists changes (UID → new flags), then applies them and logs
// them as made by src. A post removed from the archive (erasure,
// retention) that the client still sees until its EXPUNGE keeps no
// flags: it is dropped from changes.
func (b *flagBook) set(changes map[uint64]mailstore.Flags, src *session) error {
	if len(changes) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.srv.db.SetFlags(b.key.group, b.key.member, changes)
	if errors.Is(err, mailstore.ErrNotFound) {
		err = b.srv.db.ReadArchive(b.key.group, func(tx *mailstore.ArchiveTx) error {
			for uid := range changes {
				if tx.Raw(uid) == nil {
					delete(changes, uid)
				}
			}
			return nil
		})
		if err == nil && len(changes) > 0 {
			err = b.srv.db.SetFlags(b.key.group, b.key.member, changes)
		}
	}
	if err != nil {
		return err
	}
	uids := make([]uint64, 0, len(changes))
	for uid, f := range changes {
		if f.Zero() {
			delete(b.flags, uid)
		} else {
			b.flags[uid] = f
		}
		uids = append(uids, uid)
	}
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	for _, uid := range uids {
		b.log = append(b.log, flagChange{uid, src})
	}
	if over := len(b.log) - maxLog; over > 0 {
		b.log = append(b.log[:0:0], b.log[over:]...)
		b.base += over
	}
	close(b.change)
	b.change = make(chan struct{})
	return nil
}

// since returns the UIDs changed by sessions other than me after log
// position *at, and moves *at to the end.
func (b *flagBook) since(at *int, me *session) []uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	start := max(*at-b.base, 0)
	var out []uint64
	for _, c := range b.log[min(start, len(b.log)):] {
		if c.src != me {
			out = append(out, c.uid)
		}
	}
	*at = b.base + len(b.log)
	return out
}

// keywords lists the keywords in use, sorted.
func (b *flagBook) keywords() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, f := range b.flags {
		for _, k := range f.Keywords {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// unseen counts the posts among sums without \Seen, and finds the first.
func (b *flagBook) unseen(sums []mailstore.Summary) (n int, first int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, s := range sums {
		if !b.flags[s.UID].Seen {
			if n == 0 {
				first = i + 1
			}
			n++
		}
	}
	return n, first
}

// forgetFlags drops removed posts from the loaded flag books of group
// (the store dropped them in the same commit as the posts).
func (s *Server) forgetFlags(group string, uids []uint64) {
	s.mu.Lock()
	var books []*flagBook
	for k, b := range s.books {
		if k.group == group {
			books = append(books, b)
		}
	}
	s.mu.Unlock()
	for _, b := range books {
		b.mu.Lock()
		for _, u := range uids {
			delete(b.flags, u)
		}
		b.mu.Unlock()
	}
}
