package mailstore

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Held posts wait for an admin in g/<name>/held: id → HeldPost (JSON).
// They are stored already anonymized: the original never touches the
// disk. Once decided, the record stays (without the message) so that a
// second admin can be told who decided, until it is purged.

var bHeld = []byte("held")

// Decision records who acted on a held post or a pending member.
type Decision struct {
	Action string    `json:"action"` // "approved", "rejected", "discarded", "expired"
	By     string    `json:"by"`     // an admin's alias, or "the command line"
	At     time.Time `json:"at"`
}

// HeldPost is a post awaiting approval.
type HeldPost struct {
	ID      uint64    `json:"id"`
	Post    Post      `json:"post"`
	Author  uint64    `json:"author"`
	Reason  string    `json:"reason"` // "moderated", "first post"
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// Decided is nil while the post waits.
	Decided *Decision `json:"decided,omitempty"`
}

func heldBucket(tx *bolt.Tx, group string, create bool) (*bolt.Bucket, error) {
	gb, err := groupBucket(tx, group)
	if err != nil {
		return nil, err
	}
	if create {
		return gb.CreateBucketIfNotExists(bHeld)
	}
	return gb.Bucket(bHeld), nil
}

// Hold stores a held post and returns its id.
func (db *DB) Hold(h HeldPost) (uint64, error) {
	var id uint64
	err := db.update(func(tx *bolt.Tx) error {
		b, err := heldBucket(tx, h.Post.Group, true)
		if err != nil {
			return err
		}
		if h.ID, err = b.NextSequence(); err != nil {
			return err
		}
		id = h.ID
		return putHeld(b, &h)
	})
	return id, err
}

func putHeld(b *bolt.Bucket, h *HeldPost) error {
	v, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return b.Put(u64(h.ID), v)
}

func getHeld(b *bolt.Bucket, id uint64) (HeldPost, error) {
	var h HeldPost
	var v []byte
	if b != nil {
		v = b.Get(u64(id))
	}
	if v == nil {
		return h, fmt.Errorf("held post %d: %w", id, ErrNotFound)
	}
	err := json.Unmarshal(v, &h)
	return h, err
}

// HeldPosts lists a group's held posts, waiting ones and decided ones.
func (db *DB) HeldPosts(group string) ([]HeldPost, error) {
	var out []HeldPost
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := heldBucket(tx, group, false)
		if err != nil || b == nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var h HeldPost
			if err := json.Unmarshal(v, &h); err != nil {
				return err
			}
			out = append(out, h)
			return nil
		})
	})
	return out, err
}

// HeldPost returns one held post.
func (db *DB) HeldPost(group string, id uint64) (HeldPost, error) {
	var h HeldPost
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := heldBucket(tx, group, false)
		if err != nil {
			return err
		}
		h, err = getHeld(b, id)
		return err
	})
	return h, err
}

// DecideHeld records d on a waiting held post, in one commit with the
// decision's effect: an approved post is archived and queued for every
// receiving member (as CommitPost does), after prepare (if not nil) has
// completed it (the service adds its archive index). If another decision
// came first, it returns that decision's post with taken = true and
// changes nothing.
func (db *DB) DecideHeld(group string, id uint64, d Decision, prepare func(*Post)) (h HeldPost, c Committed, taken bool, err error) {
	now := time.Now()
	err = db.update(func(tx *bolt.Tx) error {
		c, taken = Committed{}, false
		b, err := heldBucket(tx, group, false)
		if err != nil {
			return err
		}
		h, err = getHeld(b, id)
		if err != nil {
			return err
		}
		if h.Decided != nil {
			taken = true
			return nil
		}
		if d.Action == "approved" {
			p := h.Post
			if prepare != nil {
				prepare(&p)
			}
			if c, err = db.commitPostTx(tx, p, now); err != nil {
				return err
			}
		}
		dec := d
		stored := h
		stored.Decided = &dec
		stored.Post.Raw = nil // the message is not kept once decided
		return putHeld(b, &stored)
	})
	return h, c, taken, err
}

// PurgeHeld deletes decided records older than cutoff.
func (db *DB) PurgeHeld(group string, cutoff time.Time) error {
	return db.update(func(tx *bolt.Tx) error {
		b, err := heldBucket(tx, group, false)
		if err != nil || b == nil {
			return err
		}
		var dead [][]byte
		b.ForEach(func(k, v []byte) error {
			var h HeldPost
			if json.Unmarshal(v, &h) == nil && h.Decided != nil && h.Decided.At.Before(cutoff) {
				dead = append(dead, clone(k))
			}
			return nil
		})
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// WaitingHeld returns a group's held posts that still wait for a
// decision, in id order, and the last id the group's held queue ever gave
// (ids are never reused), read in one transaction.
func (db *DB) WaitingHeld(group string) (waiting []HeldPost, last uint64, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		b, err := heldBucket(tx, group, false)
		if err != nil || b == nil {
			return err
		}
		last = b.Sequence()
		return b.ForEach(func(k, v []byte) error {
			var h HeldPost
			if err := json.Unmarshal(v, &h); err != nil {
				return err
			}
			if h.Decided == nil {
				waiting = append(waiting, h)
			}
			return nil
		})
	})
	return waiting, last, err
}
