package imapview

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"listserv/mailstore"
)

// session is one IMAP connection. imapserver calls its methods from the
// connection's goroutine, except Idle, which runs while that goroutine
// waits for DONE; mu guards what both touch.
type session struct {
	srv  *Server
	conn *imapserver.Conn
	id   string // names the connection in logs
	ip   string // for the login limiter only; never logged
	addr string // the logged-in address; never logged

	stale atomic.Bool   // a membership changed: re-read before use
	wake  chan struct{} // wakes Idle after a membership change

	mu      sync.Mutex
	members map[string]mailstore.Member // readable memberships, by group
	sel     *selected
}

// selected is the selected mailbox of a session.
type selected struct {
	mbox     mbox
	readOnly bool
	arch     *archive  // the group's archive; nil for INBOX and Held
	book     *flagBook // nil for INBOX and Held
	// view is the archive's posts as the client knows them (sequence
	// number n is view[n-1]); epoch is the archive's removal epoch that
	// view was taken in (see archive).
	view  []mailstore.Summary
	epoch uint64
	at    int // position in book's change log

	// A Held mailbox: the shared state, and the posts the client was
	// told of (decided ones stay until EXPUNGE may be sent), with their
	// summaries and the highest id among them ever.
	held  *heldBox
	hmsgs []heldMsg
	hsums []mailstore.Summary
	htop  uint64
}

var (
	_ imapserver.Session          = (*session)(nil)
	_ imapserver.SessionNamespace = (*session)(nil)
	_ imapserver.SessionMove      = (*session)(nil)
)

func (s *session) membershipChanged() {
	s.stale.Store(true)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close ends the session.
func (s *session) Close() error {
	s.mu.Lock()
	s.unselect()
	s.mu.Unlock()
	s.srv.mu.Lock()
	delete(s.srv.sessions, s)
	s.srv.mu.Unlock()
	s.srv.running.Done()
	return nil
}

// Login checks an address and its archive password. A wrong password, an
// unknown address and an address with no current membership fail alike.
func (s *session) Login(username, password string) error {
	addr := mailstore.NormAddr(username)
	keys := []uint64{s.srv.limiter.Key("addr", addr), s.srv.limiter.Key("ip", s.ip)}
	wait, ok := s.srv.limiter.Turn(keys...)
	if !ok {
		s.srv.log.Info("imap login refused", "conn", s.id, "reason", "too many failures")
		return imapserver.ErrAuthFailed
	}
	select {
	case <-time.After(wait):
	case <-s.srv.done:
		return unavailable()
	}
	good, err := s.srv.svc.CheckPassword(addr, password)
	if err != nil {
		s.srv.log.Error("imap login: password check failed", "conn", s.id, "err", err)
		return unavailable()
	}
	var members map[string]mailstore.Member
	if good {
		if members, err = s.srv.readable(addr); err != nil {
			s.srv.log.Error("imap login: memberships unreadable", "conn", s.id, "err", err)
			return unavailable()
		}
	}
	if !good || len(members) == 0 {
		s.srv.limiter.Failed(keys...)
		s.srv.log.Info("imap login failed", "conn", s.id)
		return imapserver.ErrAuthFailed
	}
	s.srv.limiter.Succeeded(keys[0])
	s.mu.Lock()
	s.addr, s.members = addr, members
	s.mu.Unlock()
	s.srv.log.Info("imap login", "conn", s.id, "groups", len(members))
	return nil
}

// readable returns addr's memberships that may read the archive.
func (s *Server) readable(addr string) (map[string]mailstore.Member, error) {
	all, err := s.db.Memberships(addr)
	if err != nil {
		return nil, err
	}
	for g, m := range all {
		if m.State != mailstore.Active && m.State != mailstore.NoMail && m.State != mailstore.Suspended {
			delete(all, g)
		}
	}
	return all, nil
}

// memberships returns the session's current memberships, re-read from
// the store when force is set or one changed. Callers hold s.mu.
func (s *session) memberships(force bool) (map[string]mailstore.Member, error) {
	if s.stale.Swap(false) || force {
		m, err := s.srv.readable(s.addr)
		if err != nil {
			s.stale.Store(true)
			return nil, err
		}
		s.members = m
	}
	return s.members, nil
}

// Namespace: one personal namespace, "/" as the hierarchy delimiter.
func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: delim}}}, nil
}

// Errors of this view.

func unavailable() error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Temporary failure, please try again later"}
}

func cannot(text string) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: text}
}

func noSuchMailbox() error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such mailbox"}
}

func revoked() error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNoPerm, Text: "You no longer have access to this mailbox"}
}

func badCommand(text string) error {
	return &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: text}
}

var errReadOnly = cannot("The archive is read-only: only flags can change")
