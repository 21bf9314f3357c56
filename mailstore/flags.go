package mailstore

import (
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Each member keeps their own read state of a group's archive: which
// posts they have seen, flagged or answered, and their own keywords. It
// lives in g/<name>/flags/<member id>: UID → Flags (binary), and a post
// without a record has no flags.

var bFlags = []byte("flags")

// Flags is one member's marks on one archived post.
type Flags struct {
	Seen, Flagged, Answered bool
	// Keywords are the member's own labels, sorted, without duplicates.
	Keywords []string
}

// Zero reports whether f holds no flag at all.
func (f *Flags) Zero() bool { return !f.Seen && !f.Flagged && !f.Answered && len(f.Keywords) == 0 }

// Equal reports whether f and g hold the same flags.
func (f *Flags) Equal(g *Flags) bool {
	if f.Seen != g.Seen || f.Flagged != g.Flagged || f.Answered != g.Answered || len(f.Keywords) != len(g.Keywords) {
		return false
	}
	for i := range f.Keywords {
		if f.Keywords[i] != g.Keywords[i] {
			return false
		}
	}
	return true
}

const (
	flagSeen = 1 << iota
	flagFlagged
	flagAnswered
)

// encodeFlags: one byte of bits, then the keywords separated by spaces
// (a keyword is an IMAP atom: it holds no space).
func encodeFlags(f *Flags) []byte {
	var bits byte
	if f.Seen {
		bits |= flagSeen
	}
	if f.Flagged {
		bits |= flagFlagged
	}
	if f.Answered {
		bits |= flagAnswered
	}
	return append([]byte{bits}, strings.Join(f.Keywords, " ")...)
}

func decodeFlags(v []byte) Flags {
	if len(v) == 0 {
		return Flags{}
	}
	f := Flags{Seen: v[0]&flagSeen != 0, Flagged: v[0]&flagFlagged != 0, Answered: v[0]&flagAnswered != 0}
	if len(v) > 1 {
		f.Keywords = strings.Fields(string(v[1:]))
		sort.Strings(f.Keywords)
	}
	return f
}

// MemberFlags returns every flagged post of member in group, by UID.
func (db *DB) MemberFlags(group string, member uint64) (map[uint64]Flags, error) {
	out := map[uint64]Flags{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		fb := gb.Bucket(bFlags)
		if fb == nil {
			return nil
		}
		mb := fb.Bucket(u64(member))
		if mb == nil {
			return nil
		}
		return mb.ForEach(func(k, v []byte) error {
			out[be.Uint64(k)] = decodeFlags(v)
			return nil
		})
	})
	return out, err
}

// SetFlags stores member's flags for the posts in changes (zero Flags
// delete the record) in one durable commit. A UID that is not archived
// is refused.
func (db *DB) SetFlags(group string, member uint64, changes map[uint64]Flags) error {
	if len(changes) == 0 {
		return nil
	}
	return db.update(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		fb, err := gb.CreateBucketIfNotExists(bFlags)
		if err != nil {
			return err
		}
		mb, err := fb.CreateBucketIfNotExists(u64(member))
		if err != nil {
			return err
		}
		arch := gb.Bucket(bArchive)
		for uid, f := range changes {
			key := u64(uid)
			if arch.Get(key) == nil {
				return fmt.Errorf("post %d: %w", uid, ErrNotFound)
			}
			if f.Zero() {
				err = mb.Delete(key)
			} else {
				err = mb.Put(key, encodeFlags(&f))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}
