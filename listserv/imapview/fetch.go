package imapview

import (
	"errors"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"listserv/listserv/msgindex"
	"listserv/mailstore"
)

// fetchChunk is how many posts one read transaction loads: responses are
// written between transactions, never inside one, so that a slow client
// cannot hold the store's file mapping.
const fetchChunk = 64

// fetchPlan says what a FETCH must load for each post.
type fetchPlan struct {
	listing  bool // the part tree
	envelope bool // the envelope only
	raw      bool // the message bytes
	header   bool // only the header bytes
}

func planFetch(opts *imap.FetchOptions) fetchPlan {
	p := fetchPlan{envelope: opts.Envelope, listing: opts.BodyStructure != nil}
	if len(opts.BodySection) > 0 {
		p.raw, p.header = true, true
	}
	for _, sec := range opts.BodySection {
		if needsTree(sec) {
			p.listing = true
		}
		if !headerOnly(sec) {
			p.header = false
		}
	}
	return p
}

// item is one post loaded for a FETCH.
type item struct {
	seq     uint32
	sum     mailstore.Summary
	listing mailstore.Listing
	raw     []byte
}

// Fetch answers FETCH and UID FETCH.
func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, opts *imap.FetchOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sel, err := s.selection()
	if err != nil {
		return err
	}
	if len(opts.BinarySection) > 0 || len(opts.BinarySectionSize) > 0 {
		return badCommand("BINARY is not supported")
	}
	if sel.arch == nil && sel.held == nil {
		return nil
	}
	sums := sel.sums()
	pos, err := resolve(sums, numSet)
	if err != nil {
		return err
	}
	changed, err := s.markSeen(sel, sums, pos, opts)
	if err != nil {
		return err
	}
	plan := planFetch(opts)
	for start := 0; start < len(pos); start += fetchChunk {
		chunk := pos[start:min(start+fetchChunk, len(pos))]
		var items []item
		if sel.held != nil {
			items = sel.heldItems(chunk, plan)
		} else if items, err = s.load(sel, sums, chunk, plan); err != nil {
			return err
		}
		for i := range items {
			it := &items[i]
			withFlags := opts.Flags || changed[it.sum.UID]
			if err := writeItem(w, it, opts, withFlags, sel.book); err != nil {
				return err
			}
		}
	}
	return nil
}

// sums returns the posts the client knows of.
func (sel *selected) sums() []mailstore.Summary {
	if sel.held != nil {
		return sel.hsums
	}
	if sel.arch == nil {
		return nil
	}
	return sel.view
}

// markSeen sets \Seen, before the data is sent, on the posts a non-PEEK
// body fetch reads (not after EXAMINE), and returns those it changed.
func (s *session) markSeen(sel *selected, sums []mailstore.Summary, pos []int, opts *imap.FetchOptions) (map[uint64]bool, error) {
	peek := true
	for _, sec := range opts.BodySection {
		peek = peek && sec.Peek
	}
	if peek || sel.readOnly || sel.book == nil {
		return nil, nil
	}
	changes := map[uint64]mailstore.Flags{}
	for _, p := range pos {
		uid := sums[p].UID
		if f := sel.book.get(uid); !f.Seen {
			f.Seen = true
			changes[uid] = f
		}
	}
	if err := sel.book.set(changes, s); err != nil {
		s.srv.log.Error("imap: storing \\Seen failed", "conn", s.id, "err", err)
		return nil, unavailable()
	}
	out := make(map[uint64]bool, len(changes))
	for uid := range changes {
		out[uid] = true
	}
	return out, nil
}

// load reads the posts at positions pos in one read transaction, copying
// what outlives it.
func (s *session) load(sel *selected, sums []mailstore.Summary, pos []int, plan fetchPlan) ([]item, error) {
	items := make([]item, 0, len(pos))
	err := s.srv.db.ReadArchive(sel.mbox.group, func(tx *mailstore.ArchiveTx) error {
		for _, p := range pos {
			it := item{seq: uint32(p + 1), sum: sums[p]}
			uid := it.sum.UID
			if tx.Raw(uid) == nil {
				continue // removed (erasure, retention), not expunged yet
			}
			var err error
			switch {
			case plan.listing:
				it.listing, err = tx.Listing(uid)
			case plan.envelope:
				it.listing, err = tx.Envelope(uid)
			}
			if errors.Is(err, mailstore.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if plan.raw {
				raw := tx.Raw(uid)
				if raw == nil {
					continue
				}
				if plan.header {
					raw = raw[:msgindex.HeaderEnd(raw)]
				}
				it.raw = append([]byte(nil), raw...)
			}
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		s.srv.log.Error("imap: reading the archive failed", "conn", s.id, "err", err)
		return nil, unavailable()
	}
	return items, nil
}

// writeItem writes one FETCH response. Sections are cut before the
// response starts: a FetchResponseWriter holds the connection's write
// lock until it is closed.
func writeItem(w *imapserver.FetchWriter, it *item, opts *imap.FetchOptions, withFlags bool, book *flagBook) error {
	sections := make([][]byte, len(opts.BodySection))
	for i, sec := range opts.BodySection {
		sections[i] = section(it.raw, &it.listing.Body, sec)
	}
	var flags []imap.Flag
	if withFlags {
		flags = []imap.Flag{} // Held: no flags
		if book != nil {
			flags = imapFlags(book.get(it.sum.UID))
		}
	}
	rw := w.CreateMessage(it.seq)
	if opts.UID {
		rw.WriteUID(imap.UID(it.sum.UID))
	}
	if withFlags {
		rw.WriteFlags(flags)
	}
	if opts.InternalDate {
		rw.WriteInternalDate(time.Unix(it.sum.Archived, 0).UTC())
	}
	if opts.RFC822Size {
		rw.WriteRFC822Size(int64(it.sum.Size))
	}
	if opts.Envelope {
		rw.WriteEnvelope(envelope(&it.listing.Envelope))
	}
	if opts.BodyStructure != nil {
		rw.WriteBodyStructure(bodyStructure(&it.listing.Body))
	}
	for i, sec := range opts.BodySection {
		wc := rw.WriteBodySection(sec, int64(len(sections[i])))
		_, err := wc.Write(sections[i])
		if cerr := wc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			rw.Close()
			return err
		}
	}
	return rw.Close()
}

// imapFlags converts a member's flags.
func imapFlags(f mailstore.Flags) []imap.Flag {
	out := make([]imap.Flag, 0, 3+len(f.Keywords))
	if f.Seen {
		out = append(out, imap.FlagSeen)
	}
	if f.Flagged {
		out = append(out, imap.FlagFlagged)
	}
	if f.Answered {
		out = append(out, imap.FlagAnswered)
	}
	for _, k := range f.Keywords {
		out = append(out, imap.Flag(k))
	}
	return out
}
