package mailstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Erasure and retention: posts leave the archive for good.
//
// DeletePosts removes posts by UID in one commit: the message bytes
// (archive), archmeta, listing, text, every term posting that names them
// (a term whose postings become empty is deleted with them: a term is a
// word of the post), the Message-ID maps that point at them (msgid and
// ours), every member's flags on them and the deliveries of them still
// queued. UIDs are never reused: the archive bucket's sequence keeps
// counting, so a later post gets a higher UID than any removed one, even
// when the newest post was removed. What bbolt does with the freed pages
// is told in the package documentation (store.go).

// TermsFunc returns the index terms of a post from its stored searchable
// text (header and body, as ArchiveTx.Text gives them). It must be the
// function the term indexer uses (listserv/msgindex.PostTerms), so that
// every posting of the post is found.
type TermsFunc func(header, body []byte) []string

// PostsBy returns the UIDs of the archived posts written by any of the
// members ids, in UID order. Every post records its author's member id
// (PostMeta.AuthorID).
func (db *DB) PostsBy(group string, ids ...uint64) ([]uint64, error) {
	want := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var out []uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		return gb.Bucket(bArchMeta).ForEach(func(k, v []byte) error {
			var m struct {
				AuthorID uint64 `json:"author_id"`
			}
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("post %d: %w", be.Uint64(k), err)
			}
			if want[m.AuthorID] {
				out = append(out, be.Uint64(k))
			}
			return nil
		})
	})
	return out, err
}

// PostsBefore returns up to max UIDs, in UID order, of the posts whose
// date (PostMeta.Date: when the service accepted the post, or an
// imported post's own date) is before cutoff. It reads every post's
// metadata: dates do not grow with UIDs (an imported archive brings old
// posts after new ones; a held post keeps the date it was sent), so it
// cannot stop at the first recent post. The server calls it every
// quarter of an hour.
func (db *DB) PostsBefore(group string, cutoff time.Time, max int) ([]uint64, error) {
	var out []uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		c := gb.Bucket(bArchMeta).Cursor()
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			var m struct {
				Date time.Time `json:"date"`
			}
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("post %d: %w", be.Uint64(k), err)
			}
			if m.Date.Before(cutoff) {
				out = append(out, be.Uint64(k))
			}
		}
		return nil
	})
	return out, err
}

// DeletePosts removes the posts uids of group for good, in one durable
// commit, and returns the UIDs it removed (those still archived), in
// order. termsOf finds the terms whose postings to edit; nil reads every
// term of the group instead (slower on a large archive, same result).
func (db *DB) DeletePosts(group string, uids []uint64, termsOf TermsFunc) ([]uint64, error) {
	var removed []uint64
	err := db.update(func(tx *bolt.Tx) error {
		var err error
		removed, err = deletePostsTx(tx, group, uids, termsOf)
		return err
	})
	return removed, err
}

func deletePostsTx(tx *bolt.Tx, group string, uids []uint64, termsOf TermsFunc) ([]uint64, error) {
	gb, err := groupBucket(tx, group)
	if err != nil {
		return nil, err
	}
	arch, meta := gb.Bucket(bArchive), gb.Bucket(bArchMeta)
	listing, text, terms := gb.Bucket(bListing), gb.Bucket(bText), gb.Bucket(bTerms)
	var removed []uint64
	dead := map[uint64]bool{}
	ourIDs := map[string]bool{}
	postTerms := map[string][]uint64{}
	for _, uid := range uids {
		key := u64(uid)
		if dead[uid] || arch.Get(key) == nil && meta.Get(key) == nil {
			continue
		}
		dead[uid] = true
		removed = append(removed, uid)
		var m PostMeta
		if v := meta.Get(key); v != nil && json.Unmarshal(v, &m) == nil && m.MessageID != "" {
			ourIDs[m.MessageID] = true
		}
		if termsOf != nil && text != nil && terms != nil {
			if v := text.Get(key); v != nil {
				n, w := binary.Uvarint(v)
				if w > 0 && n <= uint64(len(v)-w) {
					for _, t := range termsOf(v[w:w+int(n)], v[w+int(n):]) {
						postTerms[t] = append(postTerms[t], uid)
					}
				}
			}
		}
	}
	if len(removed) == 0 {
		return nil, nil
	}
	sort.Slice(removed, func(i, j int) bool { return removed[i] < removed[j] })
	// The term postings first: the text they are found from goes next.
	if terms != nil {
		if termsOf != nil {
			err = dropPostingsOf(terms, postTerms, dead)
		} else {
			err = dropPostingsScan(terms, dead)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, uid := range removed {
		key := u64(uid)
		for _, b := range []*bolt.Bucket{arch, meta, listing, text} {
			if b == nil {
				continue
			}
			if err := b.Delete(key); err != nil {
				return nil, err
			}
		}
	}
	// Message-ID maps: ours → UID, and the authors' ids → ours.
	ours := gb.Bucket(bOurs)
	for id := range ourIDs {
		if v := ours.Get([]byte(id)); v != nil && len(v) == 8 && dead[be.Uint64(v)] {
			if err := ours.Delete([]byte(id)); err != nil {
				return nil, err
			}
		}
	}
	if len(ourIDs) > 0 {
		msgid := gb.Bucket(bMsgID)
		var keys [][]byte
		msgid.ForEach(func(k, v []byte) error {
			if ourIDs[string(v)] {
				keys = append(keys, clone(k))
			}
			return nil
		})
		for _, k := range keys {
			if err := msgid.Delete(k); err != nil {
				return nil, err
			}
		}
	}
	// Every member's flags on the posts.
	if fb := gb.Bucket(bFlags); fb != nil {
		var members [][]byte
		fb.ForEach(func(k, v []byte) error {
			if v == nil {
				members = append(members, clone(k))
			}
			return nil
		})
		for _, m := range members {
			mb := fb.Bucket(m)
			for _, uid := range removed {
				if err := mb.Delete(u64(uid)); err != nil {
					return nil, err
				}
			}
		}
	}
	// Deliveries not yet made: a worker that already loaded one may still
	// send it (Finish ignores a job that is gone).
	q := tx.Bucket(bQueue)
	var jobs [][]byte
	q.ForEach(func(k, v []byte) error {
		if j, err := unmarshalJob(k, v); err == nil && j.Ref.Spool == 0 && j.Ref.Group == group && dead[j.Ref.UID] {
			jobs = append(jobs, clone(k))
		}
		return nil
	})
	for _, k := range jobs {
		if err := q.Delete(k); err != nil {
			return nil, err
		}
	}
	return removed, nil
}

// postingRecord is one decoded record of a term's postings.
type postingRecord struct {
	key  []byte
	uids []uint64
	fs   []Field
}

func decodePostings(key, val []byte, prefixLen int) (postingRecord, bool) {
	if len(key) != prefixLen+4 || len(val) < 4 {
		return postingRecord{}, false
	}
	r := postingRecord{key: clone(key)}
	uid := uint64(be.Uint32(key[prefixLen:]))
	for p := val[4:]; len(p) > 0; {
		e, n := binary.Uvarint(p)
		if n <= 0 {
			break
		}
		p = p[n:]
		uid += e >> 7
		r.uids = append(r.uids, uid)
		r.fs = append(r.fs, Field(e&0x7f))
	}
	return r, true
}

// rewrite stores r without the dead UIDs, deleting it when none is
// left (and with it the term, when it was the term's only record).
func (r *postingRecord) rewrite(b *bolt.Bucket, prefixLen int, dead map[uint64]bool) error {
	var uids []uint64
	var fs []Field
	for i, u := range r.uids {
		if !dead[u] {
			uids = append(uids, u)
			fs = append(fs, r.fs[i])
		}
	}
	if len(uids) == len(r.uids) {
		return nil
	}
	if err := b.Delete(r.key); err != nil {
		return err
	}
	if len(uids) == 0 {
		return nil
	}
	key := be.AppendUint32(append([]byte(nil), r.key[:prefixLen]...), uint32(uids[0]))
	val := be.AppendUint32(make([]byte, 0, 4+2*len(uids)), uint32(uids[len(uids)-1]))
	prev := uids[0]
	for i, u := range uids {
		val = binary.AppendUvarint(val, (u-prev)<<7|uint64(fs[i]&0x7f))
		prev = u
	}
	return b.Put(key, val)
}

// dropPostingsOf removes the dead UIDs from the postings of the terms
// given (term → the dead posts holding it).
func dropPostingsOf(b *bolt.Bucket, postTerms map[string][]uint64, dead map[uint64]bool) error {
	for term, uids := range postTerms {
		if len(term) > MaxTermLen || bytes.IndexByte([]byte(term), 0) >= 0 {
			continue
		}
		prefix := termPrefix(term)
		var recs []postingRecord
		seen := map[string]bool{}
		c := b.Cursor()
		for _, uid := range uids {
			// The record holding uid is the last one starting at or
			// before it.
			target := be.AppendUint32(append([]byte(nil), prefix...), uint32(uid))
			k, v := c.Seek(target)
			switch {
			case k == nil:
				k, v = c.Last()
			case !bytes.Equal(k, target):
				k, v = c.Prev()
			}
			if k == nil || !bytes.HasPrefix(k, prefix) || seen[string(k)] {
				continue
			}
			r, ok := decodePostings(k, v, len(prefix))
			if !ok {
				continue
			}
			seen[string(k)] = true
			recs = append(recs, r)
		}
		for i := range recs {
			if err := recs[i].rewrite(b, len(prefix), dead); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropPostingsScan removes the dead UIDs from every term's postings.
func dropPostingsScan(b *bolt.Bucket, dead map[uint64]bool) error {
	var recs []postingRecord
	var plens []int
	err := b.ForEach(func(k, v []byte) error {
		z := bytes.IndexByte(k, 0)
		if z < 0 {
			return nil
		}
		r, ok := decodePostings(k, v, z+1)
		if !ok {
			return nil
		}
		for _, u := range r.uids {
			if dead[u] {
				recs = append(recs, r)
				plens = append(plens, z+1)
				break
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range recs {
		if err := recs[i].rewrite(b, plens[i], dead); err != nil {
			return err
		}
	}
	return nil
}

// EraseHeldBy removes the posts of the members ids from group's held
// queue: a waiting post is decided "erased" (by "its author") and loses
// its message, subject and author, so that an admin acting on it later
// is told it is gone; a decided record loses them too. It returns the
// ids of the held posts that were still waiting.
func (db *DB) EraseHeldBy(group string, at time.Time, ids ...uint64) ([]uint64, error) {
	want := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var waiting []uint64
	err := db.update(func(tx *bolt.Tx) error {
		waiting = nil
		b, err := heldBucket(tx, group, false)
		if err != nil || b == nil {
			return err
		}
		var hs []HeldPost
		err = b.ForEach(func(k, v []byte) error {
			var h HeldPost
			if err := json.Unmarshal(v, &h); err != nil {
				return err
			}
			if want[h.Author] {
				hs = append(hs, h)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, h := range hs {
			if h.Decided == nil {
				waiting = append(waiting, h.ID)
				h.Decided = &Decision{Action: "erased", By: "its author", At: at.UTC()}
			}
			h.Post = Post{Group: group}
			h.Author = 0
			if err := putHeld(b, &h); err != nil {
				return err
			}
		}
		return nil
	})
	return waiting, err
}
