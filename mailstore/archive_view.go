package mailstore

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ArchiveTx reads one group's archive inside a read transaction. Byte
// slices it returns are valid only until the function given to
// ReadArchive returns: copy what must outlive it. Keep the function
// short: a long read transaction delays the writer when the file grows,
// so never write to a network peer inside it.
type ArchiveTx struct {
	archive, listing, text, terms *bolt.Bucket
}

// ReadArchive runs fn with a read-only view of group's archive.
func (db *DB) ReadArchive(group string, fn func(*ArchiveTx) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		return fn(&ArchiveTx{
			archive: gb.Bucket(bArchive),
			listing: gb.Bucket(bListing),
			text:    gb.Bucket(bText),
			terms:   gb.Bucket(bTerms),
		})
	})
}

// TermsThrough is the UID through which term postings are indexed.
func (a *ArchiveTx) TermsThrough() uint64 {
	if a.terms == nil {
		return 0
	}
	return a.terms.Sequence()
}

// LastUID is the highest UID ever given in the archive (0 for none).
func (a *ArchiveTx) LastUID() uint64 { return a.archive.Sequence() }

// Raw returns the stored message uid, or nil.
func (a *ArchiveTx) Raw(uid uint64) []byte { return a.archive.Get(u64(uid)) }

// Listing decodes the listing of uid; ErrNotFound if it has none.
func (a *ArchiveTx) Listing(uid uint64) (Listing, error) {
	v := a.listingBytes(uid)
	if v == nil {
		return Listing{}, fmt.Errorf("listing %d: %w", uid, ErrNotFound)
	}
	return DecodeListing(v)
}

// Envelope decodes the listing of uid without its part tree.
func (a *ArchiveTx) Envelope(uid uint64) (Listing, error) {
	v := a.listingBytes(uid)
	if v == nil {
		return Listing{}, fmt.Errorf("listing %d: %w", uid, ErrNotFound)
	}
	return DecodeEnvelope(v)
}

func (a *ArchiveTx) listingBytes(uid uint64) []byte {
	if a.listing == nil {
		return nil
	}
	return a.listing.Get(u64(uid))
}

// Summaries calls fn for every archived post after UID after, in UID
// order; indexed is false (and the summary holds only the UID) for a post
// archived without an index (see Unindexed).
func (a *ArchiveTx) Summaries(after uint64, fn func(s Summary, indexed bool) error) error {
	c := a.archive.Cursor()
	for k, _ := c.Seek(u64(after + 1)); k != nil; k, _ = c.Next() {
		uid := be.Uint64(k)
		v := a.listingBytes(uid)
		if v == nil {
			if err := fn(Summary{UID: uid}, false); err != nil {
				return err
			}
			continue
		}
		s, err := DecodeSummary(v)
		if err != nil {
			return fmt.Errorf("listing %d: %w", uid, err)
		}
		s.UID = uid
		if err := fn(s, true); err != nil {
			return err
		}
	}
	return nil
}

// Text returns the searchable header and body text of uid (nil, nil when
// it has none).
func (a *ArchiveTx) Text(uid uint64) (header, body []byte) {
	if a.text == nil {
		return nil, nil
	}
	v := a.text.Get(u64(uid))
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)-w) {
		return nil, nil
	}
	return v[w : w+int(n)], v[w+int(n):]
}

// Postings calls fn for every post whose index holds term, in UID order,
// with the fields it occurs in.
func (a *ArchiveTx) Postings(term []byte, fn func(uid uint64, f Field)) {
	if a.terms == nil {
		return
	}
	prefix := append(append(make([]byte, 0, len(term)+5), term...), 0)
	c := a.terms.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != len(prefix)+4 || len(v) < 4 {
			continue
		}
		uid := uint64(be.Uint32(k[len(prefix):]))
		for p := v[4:]; len(p) > 0; {
			e, n := binary.Uvarint(p)
			if n <= 0 {
				break
			}
			p = p[n:]
			uid += e >> 7
			fn(uid, Field(e&0x7f))
		}
	}
}

// PostingsSize returns the stored size of term's postings, in bytes: about
// how many posts hold it, without decoding them.
func (a *ArchiveTx) PostingsSize(term []byte) int {
	if a.terms == nil {
		return 0
	}
	prefix := append(append(make([]byte, 0, len(term)+5), term...), 0)
	n := 0
	c := a.terms.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) == len(prefix)+4 {
			n += len(v)
		}
	}
	return n
}

// FirstUID returns the lowest UID whose index holds term (0 for none).
func (a *ArchiveTx) FirstUID(term []byte) uint64 {
	if a.terms == nil {
		return 0
	}
	prefix := append(append(make([]byte, 0, len(term)+5), term...), 0)
	k, _ := a.terms.Cursor().Seek(prefix)
	if k == nil || len(k) != len(prefix)+4 || !bytes.HasPrefix(k, prefix) {
		return 0
	}
	return uint64(be.Uint32(k[len(prefix):]))
}

// Terms calls fn once for every indexed term (LongTerms excluded) in
// byte order. term is valid only during the call.
func (a *ArchiveTx) Terms(fn func(term []byte)) {
	if a.terms == nil {
		return
	}
	c := a.terms.Cursor()
	k, _ := c.First()
	for k != nil {
		if len(k) < 5 {
			k, _ = c.Next()
			continue
		}
		term := k[:len(k)-5]
		if len(term) > 0 {
			fn(term)
		}
		next := append(append(make([]byte, 0, len(term)+1), term...), 1)
		k, _ = c.Seek(next)
	}
}
