package listserv

import "sync"

// Event tells listeners (the IMAP server's idle sessions, metrics) what
// changed, after it is durably committed. Listeners must not block.
type Event struct {
	Kind  EventKind
	Group string
	// UID of the archived post (PostArchived), or the held post's id
	// (HeldChanged).
	UID uint64
	// MemberID whose membership changed (MembershipChanged,
	// MemberSuspended).
	MemberID uint64
	// UIDs of the posts removed from Group's archive (PostsRemoved), in
	// order.
	UIDs []uint64
}

// EventKind says what an Event is about.
type EventKind int

// Kinds of events.
const (
	// PostArchived: a post was committed to Group's archive as UID.
	PostArchived EventKind = iota
	// MembershipChanged: a member joined, left, was removed or changed
	// state; open sessions must re-check what the member may see.
	MembershipChanged
	// HeldChanged: a post was held in Group (UID is the held post's id)
	// or a held post was decided.
	HeldChanged
	// PostsRemoved: the posts UIDs were removed from Group's archive for
	// good (a member's erasure, or the group's archive_days). Open
	// sessions must expunge them; their UIDs are never given again.
	PostsRemoved
	// PostHeld: a post was held in Group for an admin (UID is the held
	// post's id); HeldChanged is emitted too. For counting.
	PostHeld
	// MemberSuspended: delivery to MemberID was suspended for bounces.
	MemberSuspended
)

type listeners struct {
	mu  sync.RWMutex
	fns []func(Event)
}

// Subscribe registers fn to be called after each committed change. fn
// runs on the committing goroutine and must return quickly.
func (s *Service) Subscribe(fn func(Event)) {
	s.events.mu.Lock()
	s.events.fns = append(s.events.fns, fn)
	s.events.mu.Unlock()
}

func (s *Service) emit(e Event) {
	s.events.mu.RLock()
	defer s.events.mu.RUnlock()
	for _, fn := range s.events.fns {
		fn(e)
	}
}
