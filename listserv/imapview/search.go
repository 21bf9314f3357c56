package imapview

import (
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"listserv/listserv/msgindex"
	"listserv/mailstore"
)

// Search answers SEARCH and UID SEARCH (with ESEARCH's RETURN options).
// Criteria are evaluated as sets of positions in the client's view: dates,
// sizes and flags from memory, text keys from the archive's index
// (msgindex; for Held, the held posts' text in memory), combined with
// AND, OR and NOT.
func (s *session) Search(kind imapserver.NumKind, c *imap.SearchCriteria, opts *imap.SearchOptions) (*imap.SearchData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sel, err := s.selection()
	if err != nil {
		return nil, err
	}
	if opts.ReturnSave {
		return nil, badCommand("SEARCH RETURN (SAVE) is not supported")
	}
	sums := sel.sums()
	ev := &evaluator{sel: sel, sums: sums}
	hits, err := ev.eval(c)
	if err != nil {
		return nil, err
	}
	dropRemoved(sel, sums, hits)
	data := &imap.SearchData{}
	var uids imap.UIDSet
	var seqs imap.SeqSet
	for i, hit := range hits {
		if !hit {
			continue
		}
		n := uint32(i + 1)
		if kind == imapserver.NumKindUID {
			n = uint32(sums[i].UID)
			uids.AddNum(imap.UID(n))
		} else {
			seqs.AddNum(n)
		}
		if data.Min == 0 {
			data.Min = n
		}
		data.Max = n
		data.Count++
	}
	data.All = seqs
	if kind == imapserver.NumKindUID {
		data.All = uids
	}
	return data, nil
}

// dropRemoved clears the hits on posts removed from the archive (erasure,
// retention) that the client has not been sent EXPUNGE for yet: they
// still have sequence numbers, but no criterion may find them.
func dropRemoved(sel *selected, sums []mailstore.Summary, hits []bool) {
	if sel.arch == nil {
		return
	}
	cur, epoch := sel.arch.snapshot()
	if epoch == sel.epoch {
		return // no removal since the client's view was taken
	}
	live := make(map[uint64]bool, len(cur))
	for _, s := range cur {
		live[s.UID] = true
	}
	for i := range hits {
		if hits[i] && !live[sums[i].UID] {
			hits[i] = false
		}
	}
}

// evaluator evaluates criteria for one SEARCH.
type evaluator struct {
	sel  *selected
	sums []mailstore.Summary
}

type hits []bool

func (ev *evaluator) all() hits {
	h := make(hits, len(ev.sums))
	for i := range h {
		h[i] = true
	}
	return h
}

func (h hits) and(o hits) {
	for i := range h {
		h[i] = h[i] && o[i]
	}
}

// eval returns which posts match c.
func (ev *evaluator) eval(c *imap.SearchCriteria) (hits, error) {
	if c.ModSeq != nil {
		return nil, badCommand("MODSEQ (CONDSTORE) is not supported")
	}
	h := ev.all()
	for _, set := range c.SeqNum {
		if err := ev.andSet(h, set); err != nil {
			return nil, err
		}
	}
	for _, set := range c.UID {
		if err := ev.andSet(h, set); err != nil {
			return nil, err
		}
	}
	ev.filter(h, func(s *mailstore.Summary) bool { return matchDates(c, s) })
	if c.Larger > 0 || c.Smaller > 0 {
		ev.filter(h, func(s *mailstore.Summary) bool {
			size := int64(s.Size)
			return (c.Larger == 0 || size > c.Larger) && (c.Smaller == 0 || size < c.Smaller)
		})
	}
	if err := ev.flags(h, c.Flag, true); err != nil {
		return nil, err
	}
	if err := ev.flags(h, c.NotFlag, false); err != nil {
		return nil, err
	}
	for _, q := range textQueries(c) {
		if err := ev.text(h, q); err != nil {
			return nil, err
		}
	}
	for i := range c.Not {
		n, err := ev.eval(&c.Not[i])
		if err != nil {
			return nil, err
		}
		for j := range h {
			h[j] = h[j] && !n[j]
		}
	}
	for i := range c.Or {
		a, err := ev.eval(&c.Or[i][0])
		if err != nil {
			return nil, err
		}
		b, err := ev.eval(&c.Or[i][1])
		if err != nil {
			return nil, err
		}
		for j := range h {
			h[j] = h[j] && (a[j] || b[j])
		}
	}
	return h, nil
}

func (ev *evaluator) filter(h hits, keep func(*mailstore.Summary) bool) {
	for i := range h {
		if h[i] && !keep(&ev.sums[i]) {
			h[i] = false
		}
	}
}

func (ev *evaluator) andSet(h hits, set imap.NumSet) error {
	pos, err := resolve(ev.sums, set)
	if err != nil {
		return err
	}
	in := make(hits, len(h))
	for _, p := range pos {
		in[p] = true
	}
	h.and(in)
	return nil
}

// day is a search date as days since 1970-01-01 (the date only).
func day(t time.Time) int32 { return mailstore.DayOf(t) }

// matchDates applies SINCE/BEFORE (archive date, UTC) and
// SENTSINCE/SENTBEFORE (the Date header's own day).
func matchDates(c *imap.SearchCriteria, s *mailstore.Summary) bool {
	ok := func(d int32, since, before time.Time) bool {
		return (since.IsZero() || d >= day(since)) && (before.IsZero() || d < day(before))
	}
	return ok(s.ArchivedDay, c.Since, c.Before) && ok(s.SentDay, c.SentSince, c.SentBefore)
}

// flags applies flag keys: want says whether the flags must be set.
func (ev *evaluator) flags(h hits, flags []imap.Flag, want bool) error {
	for _, fl := range flags {
		has := func(f *mailstore.Flags) bool {
			switch fl {
			case imap.FlagSeen:
				return f.Seen
			case imap.FlagFlagged:
				return f.Flagged
			case imap.FlagAnswered:
				return f.Answered
			}
			for _, k := range f.Keywords {
				if strings.EqualFold(k, string(fl)) {
					return true
				}
			}
			return false // \Deleted, \Draft, \Recent: never set here
		}
		for i := range h {
			if h[i] {
				f := mailstore.Flags{}
				if ev.sel.book != nil {
					f = ev.sel.book.get(ev.sums[i].UID)
				}
				h[i] = has(&f) == want
			}
		}
	}
	return nil
}

// textQueries maps the text keys of c onto index queries.
func textQueries(c *imap.SearchCriteria) []msgindex.Query {
	var out []msgindex.Query
	for _, hf := range c.Header {
		q := msgindex.Query{Value: hf.Value, Fields: mailstore.InHeader, Header: strings.ToLower(hf.Key)}
		switch q.Header {
		case "from":
			q.Fields, q.Header = mailstore.InFrom, ""
		case "to":
			q.Fields, q.Header = mailstore.InTo, ""
		case "cc":
			q.Fields, q.Header = mailstore.InCc, ""
		case "bcc":
			q.Fields, q.Header = mailstore.InBcc, ""
		case "subject":
			q.Fields, q.Header = mailstore.InSubject, ""
		}
		out = append(out, q)
	}
	for _, v := range c.Body {
		out = append(out, msgindex.Query{Value: v, Fields: mailstore.InBody})
	}
	for _, v := range c.Text {
		out = append(out, msgindex.Query{Value: v, Fields: mailstore.InHeader | mailstore.InBody})
	}
	return out
}

// text applies one text query through the archive's index.
func (ev *evaluator) text(h hits, q msgindex.Query) error {
	if ev.sel.held != nil { // held posts: their text is in memory
		for i := range h {
			h[i] = h[i] && msgindex.MatchPost(ev.sel.hmsgs[i].idx, q)
		}
		return nil
	}
	if ev.sel.arch == nil {
		for i := range h {
			h[i] = false
		}
		return nil
	}
	some := false
	for _, v := range h {
		some = some || v
	}
	if !some {
		return nil
	}
	uids, err := ev.sel.arch.searcher().Match(q)
	if err != nil {
		return unavailable()
	}
	for i := range h {
		h[i] = h[i] && uids.Has(ev.sums[i].UID)
	}
	return nil
}
