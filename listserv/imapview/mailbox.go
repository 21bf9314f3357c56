package imapview

import (
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"listserv/mailstore"
)

const (
	delim    = '/'
	inbox    = "INBOX"
	heldName = "Held"
	// inboxUIDValidity is INBOX's: it never holds a message.
	inboxUIDValidity = 1
)

type mboxKind int

const (
	kindInbox mboxKind = iota
	kindArchive
	kindHeld
)

// mbox is a mailbox a session can see.
type mbox struct {
	name   string
	kind   mboxKind
	group  string
	member mailstore.Member
}

// mailboxes lists what the session sees, INBOX first, each group
// followed by its Held mailbox for its admins. Callers hold s.mu.
func (s *session) mailboxes() ([]mbox, error) {
	members, err := s.memberships(true)
	if err != nil {
		return nil, err
	}
	groups := make([]string, 0, len(members))
	for g := range members {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	out := []mbox{{name: inbox, kind: kindInbox}}
	for _, g := range groups {
		m := members[g]
		out = append(out, mbox{name: g, kind: kindArchive, group: g, member: m})
		if m.Admin {
			out = append(out, mbox{name: g + string(delim) + heldName, kind: kindHeld, group: g, member: m})
		}
	}
	return out, nil
}

// lookup finds a visible mailbox by name (INBOX in any case). Callers
// hold s.mu.
func (s *session) lookup(name string) (mbox, error) {
	if strings.EqualFold(name, inbox) {
		return mbox{name: inbox, kind: kindInbox}, nil
	}
	members, err := s.memberships(true)
	if err != nil {
		return mbox{}, unavailable()
	}
	group, held := strings.CutSuffix(name, string(delim)+heldName)
	m, ok := members[group]
	switch {
	case !ok, held && !m.Admin:
		return mbox{}, noSuchMailbox()
	case held:
		return mbox{name: name, kind: kindHeld, group: group, member: m}, nil
	}
	return mbox{name: name, kind: kindArchive, group: group, member: m}, nil
}

// allowed reports whether the session may still use mailbox b. Callers
// hold s.mu.
func (s *session) allowed(b mbox) (bool, error) {
	if b.kind == kindInbox {
		return true, nil
	}
	members, err := s.memberships(false)
	if err != nil {
		return false, unavailable()
	}
	m, ok := members[b.group]
	return ok && m.ID == b.member.ID && (b.kind != kindHeld || m.Admin), nil
}

// selection returns the selected mailbox after checking that access to
// it was not revoked. Callers hold s.mu.
func (s *session) selection() (*selected, error) {
	if s.sel == nil {
		return nil, badCommand("No mailbox selected")
	}
	ok, err := s.allowed(s.sel.mbox)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, revoked()
	}
	return s.sel, nil
}

// Select opens a mailbox (EXAMINE: opts.ReadOnly).
func (s *session) Select(name string, opts *imap.SelectOptions) (*imap.SelectData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unselect()
	b, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	sel := &selected{mbox: b, readOnly: opts.ReadOnly}
	data := &imap.SelectData{
		Flags:       flagList(nil),
		UIDNext:     1,
		UIDValidity: inboxUIDValidity,
	}
	if b.kind != kindInbox {
		g, err := s.srv.db.Group(b.group)
		if err != nil {
			return nil, unavailable()
		}
		data.UIDValidity = g.UIDValidity
	}
	if b.kind == kindHeld {
		if err := s.selectHeld(sel, data); err != nil {
			return nil, unavailable()
		}
	}
	if b.kind == kindArchive {
		if sel.arch, err = s.srv.current(b.group); err != nil {
			return nil, unavailable()
		}
		if sel.book, err = s.srv.book(b.group, b.member.ID); err != nil {
			return nil, unavailable()
		}
		sums, epoch := sel.arch.snapshot()
		_, _, uidNext := sel.arch.stats()
		sel.view, sel.epoch = sums, epoch
		sel.at, _ = sel.book.pos()
		data.NumMessages = uint32(len(sums))
		data.UIDNext = imap.UID(uidNext)
		_, first := sel.book.unseen(sums)
		data.FirstUnseenSeqNum = uint32(first)
		data.Flags = flagList(sel.book.keywords())
		if !opts.ReadOnly {
			data.PermanentFlags = append(flagList(nil), imap.FlagWildcard)
		}
	}
	if data.PermanentFlags == nil {
		data.PermanentFlags = []imap.Flag{}
	}
	s.sel = sel
	return data, nil
}

// flagList is the FLAGS of an archive mailbox: the system flags a member
// can set, then their keywords.
func flagList(keywords []string) []imap.Flag {
	out := []imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.FlagAnswered}
	for _, k := range keywords {
		out = append(out, imap.Flag(k))
	}
	return out
}

// Unselect closes the selected mailbox.
func (s *session) Unselect() error {
	s.mu.Lock()
	s.unselect()
	s.mu.Unlock()
	return nil
}

func (s *session) unselect() {
	if s.sel != nil && s.sel.book != nil {
		s.sel.book.release()
	}
	s.sel = nil
}

// Status reports on a visible mailbox.
func (s *session) Status(name string, opts *imap.StatusOptions) (*imap.StatusData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	return s.status(b, opts)
}

func (s *session) status(b mbox, opts *imap.StatusOptions) (*imap.StatusData, error) {
	var (
		n, unseen   int
		size        int64
		uidNext     uint64 = 1
		uidValidity uint32 = inboxUIDValidity
	)
	if b.kind != kindInbox {
		g, err := s.srv.db.Group(b.group)
		if err != nil {
			return nil, unavailable()
		}
		uidValidity = g.UIDValidity
	}
	if b.kind == kindHeld {
		h, err := s.srv.currentHeld(b.group)
		if err != nil {
			return nil, unavailable()
		}
		n, size, uidNext = h.stats()
		uidValidity = heldUIDValidity(uidValidity)
	}
	if b.kind == kindArchive {
		a, err := s.srv.current(b.group)
		if err != nil {
			return nil, unavailable()
		}
		n, size, uidNext = a.stats()
		if opts.NumUnseen {
			book, err := s.srv.book(b.group, b.member.ID)
			if err != nil {
				return nil, unavailable()
			}
			// The summaries as they are now: a removal since stats()
			// may have made them shorter than n.
			sums, _ := a.view()
			unseen, _ = book.unseen(sums[:min(n, len(sums))])
			book.release()
		}
	}
	u32 := func(v int) *uint32 { x := uint32(v); return &x }
	zero64 := int64(0)
	data := &imap.StatusData{Mailbox: b.name, UIDNext: imap.UID(uidNext), UIDValidity: uidValidity}
	data.NumMessages, data.NumUnseen, data.NumDeleted, data.NumRecent = u32(n), u32(unseen), u32(0), u32(0)
	data.Size, data.DeletedStorage = &size, &zero64
	return data, nil
}

// List answers LIST and LSUB, with the LIST-EXTENDED selection and
// return options. Every visible mailbox counts as subscribed.
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, opts *imap.ListOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(patterns) == 0 {
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	boxes, err := s.mailboxes()
	if err != nil {
		return unavailable()
	}
	for i, b := range boxes {
		if !matchAny(b.name, ref, patterns) {
			continue
		}
		children := i+1 < len(boxes) && boxes[i+1].kind == kindHeld
		data := &imap.ListData{Delim: delim, Mailbox: b.name, Attrs: []imap.MailboxAttr{imap.MailboxAttrHasNoChildren}}
		if children {
			data.Attrs[0] = imap.MailboxAttrHasChildren
			if opts.SelectRecursiveMatch && !matchAny(boxes[i+1].name, ref, patterns) {
				data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
			}
		}
		if opts.SelectSubscribed || opts.ReturnSubscribed {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if opts.ReturnStatus != nil {
			if data.Status, err = s.status(b, opts.ReturnStatus); err != nil {
				return err
			}
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// matchAny matches a mailbox name against LIST patterns; INBOX matches
// in any case.
func matchAny(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if imapserver.MatchList(name, delim, ref, p) {
			return true
		}
		if name == inbox && imapserver.MatchList(name, delim, upperInbox(ref), upperInbox(p)) {
			return true
		}
	}
	return false
}

func upperInbox(s string) string {
	if len(s) >= len(inbox) && strings.EqualFold(s[:len(inbox)], inbox) {
		return inbox + s[len(inbox):]
	}
	return s
}

// Subscribe accepts any visible mailbox (all are subscribed).
func (s *session) Subscribe(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.lookup(name)
	return err
}

// Unsubscribe is refused: the mailboxes are the memberships.
func (s *session) Unsubscribe(name string) error {
	return cannot("Archive mailboxes are always subscribed: leave the group to lose one")
}

// Create is refused.
func (s *session) Create(string, *imap.CreateOptions) error {
	return cannot("Mailboxes cannot be created here: there is one per group")
}

// Delete is refused.
func (s *session) Delete(string) error {
	return cannot("Archive mailboxes cannot be deleted")
}

// Rename is refused.
func (s *session) Rename(string, string, *imap.RenameOptions) error {
	return cannot("Archive mailboxes cannot be renamed")
}

// Append is refused: posts reach the archive by mail to the group.
func (s *session) Append(string, imap.LiteralReader, *imap.AppendOptions) (*imap.AppendData, error) {
	return nil, cannot("The archive is read-only: post by mail to the group")
}

// Copy is refused: every mailbox here is read-only.
func (s *session) Copy(imap.NumSet, string) (*imap.CopyData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.selection(); err != nil {
		return nil, err
	}
	return nil, errReadOnly
}

// Move is refused: the archive is read-only.
func (s *session) Move(*imapserver.MoveWriter, imap.NumSet, string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.selection(); err != nil {
		return err
	}
	return errReadOnly
}

// Expunge is refused, except the silent expunge of CLOSE, which has
// nothing to remove since \Deleted cannot be set. (imapserver gives CLOSE
// a zero ExpungeWriter and EXPUNGE one bound to the connection; a zero
// value is how this view tells them apart.)
func (s *session) Expunge(w *imapserver.ExpungeWriter, _ *imap.UIDSet) error {
	if w == nil || *w == (imapserver.ExpungeWriter{}) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.selection(); err != nil {
		return err
	}
	return cannot("The archive is read-only: posts cannot be expunged by a client")
}
