package imapview

import (
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"listserv/mailstore"
)

// Limits on a member's keywords, so that flags cannot fill the store.
const (
	maxKeywordLen      = 64
	maxKeywordsPerPost = 32
)

// Store answers STORE and UID STORE: it changes the member's own flags.
func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sel, err := s.selection()
	if err != nil {
		return err
	}
	if sel.readOnly {
		return cannot("The mailbox is open read-only (EXAMINE)")
	}
	if sel.held != nil {
		return cannot("Held posts are read-only: no flag can be set on them")
	}
	if err := checkFlags(flags.Flags); err != nil {
		return err
	}
	if sel.arch == nil {
		return nil
	}
	sums := sel.sums()
	pos, err := resolve(sums, numSet)
	if err != nil {
		return err
	}
	changes := map[uint64]mailstore.Flags{}
	for _, p := range pos {
		uid := sums[p].UID
		old := sel.book.get(uid)
		f := apply(old, flags)
		if len(f.Keywords) > maxKeywordsPerPost {
			return cannot("Too many keywords on one message")
		}
		if !f.Equal(&old) {
			changes[uid] = f
		}
	}
	if err := sel.book.set(changes, s); err != nil {
		s.srv.log.Error("imap: storing flags failed", "conn", s.id, "err", err)
		return unavailable()
	}
	if flags.Silent {
		return nil
	}
	_, isUID := numSet.(imap.UIDSet)
	for _, p := range pos {
		uid := sums[p].UID
		rw := w.CreateMessage(uint32(p + 1))
		if isUID {
			rw.WriteUID(imap.UID(uid))
		}
		rw.WriteFlags(imapFlags(sel.book.get(uid)))
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// checkFlags refuses the flags a member cannot set on the archive.
func checkFlags(flags []imap.Flag) error {
	for _, f := range flags {
		switch {
		case f == imap.FlagSeen || f == imap.FlagFlagged || f == imap.FlagAnswered:
		case f == imap.FlagDeleted:
			return cannot("The archive keeps every post: \\Deleted cannot be set")
		case strings.HasPrefix(string(f), "\\"):
			return cannot("Flag " + string(f) + " cannot be set in the archive")
		case len(f) > maxKeywordLen:
			return cannot("Keyword too long")
		}
	}
	return nil
}

// apply computes the flags after a STORE operation. Keywords compare
// without case (the first spelling stays).
func apply(old mailstore.Flags, st *imap.StoreFlags) mailstore.Flags {
	f := old
	if st.Op == imap.StoreFlagsSet {
		f = mailstore.Flags{}
	}
	on := st.Op != imap.StoreFlagsDel
	kw := map[string]string{}
	for _, k := range f.Keywords {
		kw[strings.ToLower(k)] = k
	}
	for _, fl := range st.Flags {
		switch fl {
		case imap.FlagSeen:
			f.Seen = on
		case imap.FlagFlagged:
			f.Flagged = on
		case imap.FlagAnswered:
			f.Answered = on
		default:
			lower := strings.ToLower(string(fl))
			if _, ok := kw[lower]; !on {
				delete(kw, lower)
			} else if !ok {
				kw[lower] = string(fl)
			}
		}
	}
	f.Keywords = nil
	for _, k := range kw {
		f.Keywords = append(f.Keywords, k)
	}
	sort.Strings(f.Keywords)
	return f
}
