package mailstore

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The archive index: what reading a group's archive needs besides the
// message bytes (see store.go for the buckets). A post's listing and
// searchable text are written in the same transaction as the post; posts
// archived without them (by an older version, or a path that did not
// compute them) get them later with PutIndex. The term postings are
// appended afterwards, many posts per commit, by an indexer that reads
// the stored text (PutTerms): writing them in the post's own commit
// would touch a page per distinct word and slow every post down. The
// terms bucket's sequence is the UID through which terms are indexed;
// a search reads the text of the posts after it.

var (
	bListing = []byte("listing")
	bText    = []byte("text")
	bTerms   = []byte("terms")
)

// Field says where in a post a term occurs; a term's postings carry the
// union of the fields it was found in.
type Field uint8

// Fields of a post. InHeader is any header field of the message (field
// names included); InBody is everything after the message's header (the
// MIME headers of its parts included); the others name one header field
// and come with InHeader.
const (
	InHeader Field = 1 << iota
	InBody
	InFrom
	InTo
	InCc
	InBcc
	InSubject
)

// LongTerms is the term under which posts holding words too long to
// index one by one are listed: a search must read such posts' text.
const LongTerms = ""

// MaxTermLen is the longest indexed term, in bytes.
const MaxTermLen = 48

// PostIndex is what archiving computes once per post (listserv/msgindex)
// so that listing and searching never reparse it.
type PostIndex struct {
	Listing Listing
	// HeaderText and BodyText are the post's header fields and body text,
	// decoded to UTF-8 and case-folded, that substring searches read.
	HeaderText, BodyText string
}

// Posting is one post's occurrence of a term.
type Posting struct {
	UID    uint64
	Fields Field
}

// chunkMax is the size past which a term's postings start a new record.
const chunkMax = 1024

func termPrefix(term string) []byte {
	k := make([]byte, len(term)+1, len(term)+5)
	copy(k, term)
	return k
}

// putIndex writes idx for the post uid of group bucket gb.
func putIndex(gb *bolt.Bucket, uid uint64, idx *PostIndex) error {
	listing, err := gb.CreateBucketIfNotExists(bListing)
	if err != nil {
		return err
	}
	text, err := gb.CreateBucketIfNotExists(bText)
	if err != nil {
		return err
	}
	key := u64(uid)
	if err := listing.Put(key, EncodeListing(&idx.Listing)); err != nil {
		return err
	}
	tv := binary.AppendUvarint(make([]byte, 0, 8+len(idx.HeaderText)+len(idx.BodyText)), uint64(len(idx.HeaderText)))
	tv = append(append(tv, idx.HeaderText...), idx.BodyText...)
	return text.Put(key, tv)
}

// PutTerms appends the postings of the posts after UID from through UID
// through, and records that terms are indexed through it. It refuses
// (ErrExists) when the index is no longer at from, so that two indexers
// never add a post twice.
func (db *DB) PutTerms(group string, from, through uint64, terms map[string][]Posting) error {
	if through > 1<<32-1 {
		return fmt.Errorf("uid %d out of range", through)
	}
	return db.update(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		b, err := gb.CreateBucketIfNotExists(bTerms)
		if err != nil {
			return err
		}
		if b.Sequence() != from {
			return fmt.Errorf("terms indexed through %d, not %d: %w", b.Sequence(), from, ErrExists)
		}
		// A post erased after the indexer read its text gets no postings.
		arch := gb.Bucket(bArchive)
		live := map[uint64]bool{}
		isLive := func(uid uint64) bool {
			l, ok := live[uid]
			if !ok {
				l = arch.Get(u64(uid)) != nil
				live[uid] = l
			}
			return l
		}
		for term, ps := range terms {
			if len(term) > MaxTermLen || bytes.IndexByte([]byte(term), 0) >= 0 {
				continue
			}
			kept := ps[:0:0]
			for _, p := range ps {
				if isLive(p.UID) {
					kept = append(kept, p)
				}
			}
			if len(kept) == 0 {
				continue
			}
			if err := appendPostings(b, term, kept); err != nil {
				return err
			}
		}
		return b.SetSequence(through)
	})
}

// A term's postings are records keyed term ‖ 0 ‖ first UID (4 bytes BE),
// each holding the last UID (4 bytes BE) and then one uvarint per post:
// (UID − previous UID) << 7 | fields. ps must be in UID order.
func appendPostings(b *bolt.Bucket, term string, ps []Posting) error {
	prefix := termPrefix(term)
	c := b.Cursor()
	k, v := c.Seek(append(prefix, 0xff, 0xff, 0xff, 0xff, 0xff))
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	var key, val []byte
	if k != nil && len(k) == len(prefix)+4 && bytes.HasPrefix(k, prefix) && len(v) >= 4 && len(v) < chunkMax {
		key, val = clone(k), clone(v)
	}
	for _, p := range ps {
		uid := uint32(p.UID)
		if val != nil && uid <= be.Uint32(val) {
			continue // indexed already
		}
		if val == nil || len(val) >= chunkMax {
			if val != nil {
				if err := b.Put(key, val); err != nil {
					return err
				}
			}
			key = be.AppendUint32(append([]byte(nil), prefix...), uid)
			val = be.AppendUint32(make([]byte, 0, 64), uid)
			val = binary.AppendUvarint(val, uint64(p.Fields&0x7f))
			continue
		}
		last := be.Uint32(val)
		be.PutUint32(val, uid)
		val = binary.AppendUvarint(val, uint64(uid-last)<<7|uint64(p.Fields&0x7f))
	}
	if val == nil {
		return nil
	}
	return b.Put(key, val)
}

// PutIndex stores the index of an archived post that has none (a post
// archived before indexing existed). A post indexed already is left as it
// is.
func (db *DB) PutIndex(group string, uid uint64, idx *PostIndex) error {
	return db.update(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		if gb.Bucket(bArchive).Get(u64(uid)) == nil {
			return fmt.Errorf("post %d: %w", uid, ErrNotFound)
		}
		if l := gb.Bucket(bListing); l != nil && l.Get(u64(uid)) != nil {
			return nil
		}
		return putIndex(gb, uid, idx)
	})
}

// Unindexed lists the archived posts of group after UID after that have
// no index, in UID order.
func (db *DB) Unindexed(group string, after uint64) ([]uint64, error) {
	var out []uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		listing := gb.Bucket(bListing)
		c := gb.Bucket(bArchive).Cursor()
		for k, _ := c.Seek(u64(after + 1)); k != nil; k, _ = c.Next() {
			if listing == nil || listing.Get(k) == nil {
				out = append(out, be.Uint64(k))
			}
		}
		return nil
	})
	return out, err
}
