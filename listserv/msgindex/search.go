package msgindex

import (
	"bytes"
	"sort"
	"strings"
	"sync"

	"listserv/mailstore"
)

// Query is one substring criterion over a group's archive.
type Query struct {
	// Fields says where Value must occur: InHeader|InBody for anywhere
	// (IMAP TEXT), InBody, one header-field bit (InFrom...), or InHeader
	// with Header set for a named header field.
	Fields mailstore.Field
	// Header names the field for a named-header criterion.
	Header string
	// Value is the substring, as the client sent it.
	Value string
}

// maxTerms is how many vocabulary terms one query term may expand to
// before the search stops narrowing by terms and reads every post's text.
const maxTerms = 4000

// Searcher answers substring queries over one group's archive index. It
// keeps the group's vocabulary in memory (every term once, in one byte
// slice), built on first use and extended as posts arrive. It is safe for
// concurrent use.
type Searcher struct {
	db    *mailstore.DB
	group string

	mu    sync.Mutex
	vocab []byte // "\n" term "\n" term ... "\n"
	upto  uint64 // the vocabulary holds the terms of posts up to this UID
	built bool
}

// NewSearcher returns a Searcher over group's archive in db.
func NewSearcher(db *mailstore.DB, group string) *Searcher {
	return &Searcher{db: db, group: group}
}

// Match returns the UIDs of the posts that match q.
func (s *Searcher) Match(q Query) (UIDs, error) {
	var out UIDs
	err := s.db.ReadArchive(s.group, func(tx *mailstore.ArchiveTx) error {
		vocab := s.vocabulary(tx)
		out = match(tx, vocab, q)
		return nil
	})
	return out, err
}

// vocabulary brings the vocabulary up to the transaction's last post and
// returns it (the slice is never modified afterwards, only replaced).
func (s *Searcher) vocabulary(tx *mailstore.ArchiveTx) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := tx.TermsThrough()
	if !s.built {
		v := []byte{'\n'}
		tx.Terms(func(t []byte) {
			v = append(append(v, t...), '\n')
		})
		s.vocab, s.upto, s.built = v[:len(v):len(v)], last, true
		return s.vocab
	}
	if last <= s.upto {
		return s.vocab
	}
	v := s.vocab
	fresh := map[string]bool{}
	for uid := s.upto + 1; uid <= last; uid++ {
		h, b := tx.Text(uid)
		for _, text := range [][]byte{h, b} {
			Terms(string(text), func(t string, _, _ int) {
				if len(t) <= mailstore.MaxTermLen && !fresh[t] && s.isNew(tx, t) {
					fresh[t] = true
					v = append(append(v, t...), '\n')
				}
			})
		}
	}
	s.vocab, s.upto = v[:len(v):len(v)], last
	return s.vocab
}

// isNew reports whether term first occurs after the vocabulary's posts.
func (s *Searcher) isNew(tx *mailstore.ArchiveTx, term string) bool {
	return tx.FirstUID([]byte(term)) > s.upto
}

// qterm is one term of a query, with whether the query has a separator
// right before it (left) and right after it (right).
type qterm struct {
	text        string
	left, right bool
}

func queryTerms(v string) []qterm {
	var out []qterm
	Terms(v, func(t string, start, end int) {
		out = append(out, qterm{t, start > 0, end < len(v)})
	})
	return out
}

// match runs q inside one read transaction: through the term index for
// the posts it covers, by reading the text of the posts after them.
func match(tx *mailstore.ArchiveTx, vocab []byte, q Query) UIDs {
	v := Fold(q.Value)
	last, indexed := tx.LastUID(), tx.TermsThrough()
	all := NewUIDs(last)
	all.FillTo(last)
	if v == "" && q.Header == "" && q.Fields&(mailstore.InHeader|mailstore.InBody) != 0 {
		return all // the empty string is in every text
	}
	tail := NewUIDs(last)
	tail.FillTo(last)
	head := NewUIDs(last)
	head.FillTo(indexed)
	tail.AndNot(head)
	out := matchIndexed(tx, vocab, q, v, head)
	out.Or(verify(tx, tail, v, q))
	return out
}

// narrowEnough is the candidate count below which further query terms
// are not looked up: reading that few posts' text costs less.
const narrowEnough = 64

// matchIndexed answers q for the posts in head (those the term index
// covers).
func matchIndexed(tx *mailstore.ArchiveTx, vocab []byte, q Query, v string, head UIDs) UIDs {
	terms := queryTerms(v)
	exact := len(terms) == 1 && !terms[0].left && !terms[0].right && q.Header == ""
	long := NewUIDs(tx.LastUID())
	tx.Postings([]byte(mailstore.LongTerms), func(uid uint64, f mailstore.Field) {
		if f&q.Fields != 0 {
			long.Add(uid)
		}
	})
	// Look the query's terms up, the rarest first.
	type lookup struct {
		terms [][]byte
		size  int
	}
	var lookups []lookup
	for _, t := range terms {
		if len(terms) > 1 && len(t.text) < 2 {
			continue
		}
		found, ok := vocabTerms(vocab, t)
		if !ok {
			continue
		}
		l := lookup{terms: found}
		for _, term := range found {
			l.size += tx.PostingsSize(term)
		}
		lookups = append(lookups, l)
	}
	sort.Slice(lookups, func(i, j int) bool { return lookups[i].size < lookups[j].size })
	cand := head
	for i, l := range lookups {
		u := union(tx, l.terms, q.Fields)
		if exact {
			// A single term without separators lies inside one indexed
			// term: the postings are the answer, except for posts
			// holding terms too long to index, which are read.
			long.AndNot(u)
			u.Or(verify(tx, long, v, q))
			u.And(head)
			return u
		}
		u.Or(long)
		cand.And(u)
		if i+1 < len(lookups) && cand.Len() <= narrowEnough {
			break
		}
	}
	return verify(tx, cand, v, q)
}

// vocabTerms returns every vocabulary term that can hold t; false when
// there are too many for their postings to narrow anything.
func vocabTerms(vocab []byte, t qterm) ([][]byte, bool) {
	var pat []byte
	if t.left {
		pat = append(pat, '\n')
	}
	pat = append(pat, t.text...)
	if t.right {
		pat = append(pat, '\n')
	}
	var found [][]byte
	for pos := 0; ; {
		i := bytes.Index(vocab[pos:], pat)
		if i < 0 {
			break
		}
		i += pos
		start := bytes.LastIndexByte(vocab[:i+1], '\n') + 1
		if t.left {
			start = i + 1
		}
		end := i + len(pat)
		if !t.right {
			end += bytes.IndexByte(vocab[end:], '\n')
		} else {
			end--
		}
		found = append(found, vocab[start:end])
		if len(found) > maxTerms {
			return nil, false
		}
		pos = end
	}
	return found, true
}

// union returns the posts whose index holds one of terms in fields.
func union(tx *mailstore.ArchiveTx, terms [][]byte, fields mailstore.Field) UIDs {
	u := NewUIDs(tx.LastUID())
	for _, term := range terms {
		tx.Postings(term, func(uid uint64, f mailstore.Field) {
			if f&fields != 0 {
				u.Add(uid)
			}
		})
	}
	return u
}

// verify keeps the candidates whose text holds v where q asks.
func verify(tx *mailstore.ArchiveTx, cand UIDs, v string, q Query) UIDs {
	out := NewUIDs(tx.LastUID())
	needle := []byte(v)
	cand.Each(func(uid uint64) {
		h, b := tx.Text(uid)
		if h == nil && b == nil {
			return
		}
		if contains(h, b, needle, q) {
			out.Add(uid)
		}
	})
	return out
}

// contains tells whether the folded texts of one post hold needle where q
// asks.
func contains(header, body, needle []byte, q Query) bool {
	if q.Fields&mailstore.InBody != 0 && bytes.Contains(body, needle) {
		return true
	}
	if q.Fields&mailstore.InHeader != 0 && q.Header == "" && bytes.Contains(header, needle) {
		return true
	}
	name := q.Header
	switch q.Fields {
	case mailstore.InFrom:
		name = "from"
	case mailstore.InTo:
		name = "to"
	case mailstore.InCc:
		name = "cc"
	case mailstore.InBcc:
		name = "bcc"
	case mailstore.InSubject:
		name = "subject"
	}
	if name == "" {
		return false
	}
	name = Fold(strings.TrimSpace(name))
	for len(header) > 0 {
		line := header
		if i := bytes.IndexByte(header, '\n'); i >= 0 {
			line, header = header[:i], header[i+1:]
		} else {
			header = nil
		}
		k, val, ok := bytes.Cut(line, []byte(": "))
		if ok && string(k) == name && bytes.Contains(val, needle) {
			return true
		}
	}
	return false
}

// MatchPost tells whether one post's index (its folded texts) matches q,
// without a term index: for the few posts that are not in an archive,
// such as held ones. It answers as Searcher.Match would.
func MatchPost(idx *mailstore.PostIndex, q Query) bool {
	v := Fold(q.Value)
	if v == "" && q.Header == "" && q.Fields&(mailstore.InHeader|mailstore.InBody) != 0 {
		return true
	}
	return contains([]byte(idx.HeaderText), []byte(idx.BodyText), []byte(v), q)
}
