package mailstore

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PostMeta is what listing a post needs without reading its bytes.
type PostMeta struct {
	MessageID string    `json:"message_id"` // ours, without brackets
	Date      time.Time `json:"date"`
	Size      int       `json:"size"`
	AuthorID  uint64    `json:"author_id"`
	Subject   string    `json:"subject,omitempty"`
}

// Post is an anonymized post ready to be archived and fanned out.
type Post struct {
	Group string
	Raw   []byte // the anonymized message, CRLF
	Meta  PostMeta
	// OrigMessageID is the author's Message-ID, remembered only to map
	// replies that cite it onto ours ("" when absent).
	OrigMessageID string
	// Index is what reading the archive needs (listserv/msgindex); nil
	// leaves the post to be indexed later (see Unindexed).
	Index *PostIndex `json:"-"`
	// NoDelivery archives the post without queueing any delivery (an
	// imported archive).
	NoDelivery bool `json:"-"`
}

// Committed tells what CommitPost stored.
type Committed struct {
	UID  uint64
	Jobs int // deliveries queued
}

// CommitPost archives p and queues one delivery per receiving member (the
// author too, unless they turned their own copy off), all in one durable
// transaction.
func (db *DB) CommitPost(p Post) (Committed, error) {
	var out Committed
	now := time.Now()
	err := db.update(func(tx *bolt.Tx) error {
		var err error
		out, err = db.commitPostTx(tx, p, now)
		return err
	})
	return out, err
}

// commitPostTx is CommitPost inside a transaction (a held post's approval
// shares it).
func (db *DB) commitPostTx(tx *bolt.Tx, p Post, now time.Time) (Committed, error) {
	var out Committed
	meta, err := json.Marshal(p.Meta)
	if err != nil {
		return out, err
	}
	gb, err := groupBucket(tx, p.Group)
	if err != nil {
		return out, err
	}
	arch := gb.Bucket(bArchive)
	uid, err := arch.NextSequence()
	if err != nil {
		return out, err
	}
	if uid > 1<<32-1 {
		return out, fmt.Errorf("group %q: archive UIDs exhausted", p.Group)
	}
	key := u64(uid)
	if err := arch.Put(key, p.Raw); err != nil {
		return out, err
	}
	if err := gb.Bucket(bArchMeta).Put(key, meta); err != nil {
		return out, err
	}
	if p.Index != nil {
		if err := putIndex(gb, uid, p.Index); err != nil {
			return out, err
		}
	}
	if err := gb.Bucket(bOurs).Put([]byte(p.Meta.MessageID), key); err != nil {
		return out, err
	}
	if p.OrigMessageID != "" {
		if err := gb.Bucket(bMsgID).Put([]byte(p.OrigMessageID), []byte(p.Meta.MessageID)); err != nil {
			return out, err
		}
	}
	q := tx.Bucket(bQueue)
	members := gb.Bucket(bMembers)
	for _, r := range db.roster(gb, p.Group) {
		if p.NoDelivery {
			break
		}
		if r.id == p.Meta.AuthorID && r.noSelf {
			continue
		}
		out.Jobs++
		if err := putJob(q, &Job{Due: now, Created: now, Ref: MsgRef{Group: p.Group, UID: uid}, MemberID: r.id, Rcpt: r.addr}); err != nil {
			return out, err
		}
	}
	if author, err := memberByID(gb, u64(p.Meta.AuthorID)); err == nil {
		author.Posts++
		if err := putMember(members, &author); err != nil {
			return out, err
		}
	}
	out.UID = uid
	return out, nil
}

// ResolveRefs maps Message-IDs that a new post cites: an author's
// Message-ID that we archived maps to ours; one of our own is kept; any
// other is absent from the result.
func (db *DB) ResolveRefs(group string, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		msgid, ours := gb.Bucket(bMsgID), gb.Bucket(bOurs)
		for _, id := range ids {
			if v := msgid.Get([]byte(id)); v != nil {
				out[id] = string(v)
			} else if ours.Get([]byte(id)) != nil {
				out[id] = id
			}
		}
		return nil
	})
	return out, err
}

// ArchiveCount returns how many posts a group's archive holds.
func (db *DB) ArchiveCount(group string) (int, error) {
	var n int
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		n = gb.Bucket(bArchive).Stats().KeyN
		return nil
	})
	return n, err
}

// ArchivedPost returns one archived post's bytes and metadata.
func (db *DB) ArchivedPost(group string, uid uint64) ([]byte, PostMeta, error) {
	var raw []byte
	var meta PostMeta
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		v := gb.Bucket(bArchive).Get(u64(uid))
		if v == nil {
			return fmt.Errorf("post %d: %w", uid, ErrNotFound)
		}
		raw = clone(v)
		return json.Unmarshal(gb.Bucket(bArchMeta).Get(u64(uid)), &meta)
	})
	return raw, meta, err
}
