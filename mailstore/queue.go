package mailstore

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MsgRef names the bytes a delivery sends: an archived post (Group, UID)
// or a spooled message that is not archived (Spool != 0; Group is then
// the group it concerns).
type MsgRef struct {
	Group string
	UID   uint64
	Spool uint64
}

// Job is one delivery of one message to one recipient.
type Job struct {
	ID       uint64
	Due      time.Time // when it may be tried next
	Created  time.Time // when it was queued; retries stop 5 days after
	Ref      MsgRef
	MemberID uint64 // 0 for a non-member (e.g. a confirmation request)
	Rcpt     string
	Attempts int
	LastErr  string
}

func (j *Job) key() []byte {
	k := make([]byte, 16)
	be.PutUint64(k, uint64(j.Due.UnixNano()))
	be.PutUint64(k[8:], j.ID)
	return k
}

const jobVersion = 1

func (j *Job) marshal() []byte {
	e := &enc{b: make([]byte, 0, 64+len(j.Rcpt)+len(j.Ref.Group)+len(j.LastErr))}
	e.b = append(e.b, jobVersion)
	e.uint(j.ID)
	e.int(j.Created.UnixNano())
	e.str(j.Ref.Group)
	e.uint(j.Ref.UID)
	e.uint(j.Ref.Spool)
	e.uint(j.MemberID)
	e.uint(uint64(j.Attempts))
	e.str(j.Rcpt)
	e.str(j.LastErr)
	return e.b
}

var errBadJob = errors.New("mailstore: corrupt queue record")

// unmarshalJob decodes a job; key gives its due time.
func unmarshalJob(key, v []byte) (Job, error) {
	var j Job
	if len(key) != 16 || len(v) == 0 || v[0] != jobVersion {
		return j, errBadJob
	}
	d := dec{b: v[1:]}
	j.ID = d.uint()
	j.Created = time.Unix(0, d.int())
	j.Ref.Group = d.str()
	j.Ref.UID = d.uint()
	j.Ref.Spool = d.uint()
	j.MemberID = d.uint()
	j.Attempts = int(d.uint())
	j.Rcpt = d.str()
	j.LastErr = d.str()
	if d.err != nil || j.ID != be.Uint64(key[8:]) {
		return j, errBadJob
	}
	j.Due = time.Unix(0, int64(be.Uint64(key)))
	return j, nil
}

// putJob assigns j an ID if it has none and stores it under its due time.
func putJob(q *bolt.Bucket, j *Job) error {
	if j.ID == 0 {
		id, err := q.NextSequence()
		if err != nil {
			return err
		}
		j.ID = id
	}
	return q.Put(j.key(), j.marshal())
}

// Recipient is one addressee of a spooled message.
type Recipient struct {
	MemberID uint64
	Addr     string
}

// Enqueue spools raw (a message that is not archived: service mail, a
// private message) and queues one delivery per recipient, durably.
func (db *DB) Enqueue(group string, raw []byte, rcpts []Recipient) error {
	if len(rcpts) == 0 {
		return nil
	}
	return db.update(func(tx *bolt.Tx) error {
		_, err := spool(tx, group, raw, rcpts, time.Now())
		return err
	})
}

// spool stores raw and queues one delivery per recipient inside tx, and
// returns the jobs' ids in the order of rcpts.
func spool(tx *bolt.Tx, group string, raw []byte, rcpts []Recipient, now time.Time) ([]uint64, error) {
	val := make([]byte, 4+len(raw))
	be.PutUint32(val, uint32(len(rcpts)))
	copy(val[4:], raw)
	sp := tx.Bucket(bSpool)
	id, err := sp.NextSequence()
	if err != nil {
		return nil, err
	}
	if err := sp.Put(u64(id), val); err != nil {
		return nil, err
	}
	q := tx.Bucket(bQueue)
	ids := make([]uint64, 0, len(rcpts))
	for _, r := range rcpts {
		j := Job{Due: now, Created: now, Ref: MsgRef{Group: group, Spool: id}, MemberID: r.MemberID, Rcpt: r.Addr}
		if err := putJob(q, &j); err != nil {
			return nil, err
		}
		ids = append(ids, j.ID)
	}
	return ids, nil
}

// Message returns the bytes a job sends.
func (db *DB) Message(ref MsgRef) ([]byte, error) {
	if ref.Spool == 0 {
		raw, _, err := db.ArchivedPost(ref.Group, ref.UID)
		return raw, err
	}
	var raw []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bSpool).Get(u64(ref.Spool))
		if len(v) < 4 {
			return fmt.Errorf("spool %d: %w", ref.Spool, ErrNotFound)
		}
		raw = clone(v[4:])
		return nil
	})
	return raw, err
}

// DueJobs returns up to limit jobs due at now, in due order, passing over
// those for which skip reports true (jobs already being worked on). next
// is the due time of the first job not yet due (zero if none).
func (db *DB) DueJobs(now time.Time, limit int, skip func(id uint64) bool) (jobs []Job, next time.Time, err error) {
	nowKey := uint64(now.UnixNano())
	err = db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bQueue).Cursor()
		for k, v := c.First(); k != nil && len(jobs) < limit; k, v = c.Next() {
			if len(k) == 16 && be.Uint64(k) > nowKey {
				next = time.Unix(0, int64(be.Uint64(k)))
				return nil
			}
			if len(k) == 16 && skip != nil && skip(be.Uint64(k[8:])) {
				continue
			}
			j, err := unmarshalJob(k, v)
			if err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
		return nil
	})
	return jobs, next, err
}

// Outcome is what became of one delivery attempt.
type Outcome int

// Outcomes of a delivery attempt.
const (
	Delivered Outcome = iota // done: remove the job
	Retry                    // temporary failure: try again at RetryAt
	Failed                   // permanent failure: move to the failed list
)

// Result reports one attempt of Job (as it was loaded).
type Result struct {
	Job     Job
	Outcome Outcome
	RetryAt time.Time
	Err     string // the remote reply or error, for Retry and Failed
}

// Finish records attempts' results in one durable transaction.
func (db *DB) Finish(results []Result) error {
	return db.update(func(tx *bolt.Tx) error {
		q, failed := tx.Bucket(bQueue), tx.Bucket(bFailed)
		for i := range results {
			r := &results[i]
			j := r.Job
			if q.Get(j.key()) == nil {
				continue // already finished (a duplicate report)
			}
			if err := q.Delete(j.key()); err != nil {
				return err
			}
			j.Attempts++
			j.LastErr = r.Err
			switch r.Outcome {
			case Retry:
				j.Due = r.RetryAt
				if err := putJob(q, &j); err != nil {
					return err
				}
				continue
			case Failed:
				if err := failed.Put(u64(j.ID), j.marshal()); err != nil {
					return err
				}
			}
			if err := releaseSpool(tx, j.Ref); err != nil {
				return err
			}
		}
		return nil
	})
}

// releaseSpool drops one reference to a spooled message, deleting it with
// the last.
func releaseSpool(tx *bolt.Tx, ref MsgRef) error {
	if ref.Spool == 0 {
		return nil
	}
	sp := tx.Bucket(bSpool)
	key := u64(ref.Spool)
	v := sp.Get(key)
	if len(v) < 4 {
		return nil
	}
	n := be.Uint32(v)
	if n <= 1 {
		return sp.Delete(key)
	}
	nv := clone(v)
	be.PutUint32(nv, n-1)
	return sp.Put(key, nv)
}

// QueueStats reports the queue's length and its oldest job's creation.
func (db *DB) QueueStats() (n int, oldest time.Time, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bQueue).ForEach(func(k, v []byte) error {
			n++
			j, err := unmarshalJob(k, v)
			if err == nil && (oldest.IsZero() || j.Created.Before(oldest)) {
				oldest = j.Created
			}
			return nil
		})
	})
	return n, oldest, err
}

// FailedJobs lists the deliveries that were given up.
func (db *DB) FailedJobs() ([]Job, error) {
	var out []Job
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bFailed).ForEach(func(k, v []byte) error {
			j, err := unmarshalJob(append(make([]byte, 8), k...), v)
			if err != nil {
				return err
			}
			out = append(out, j)
			return nil
		})
	})
	return out, err
}

// QueuedJobs lists the deliveries waiting in the queue, in due order (a
// read for `listserv queue list`; the queue itself is not changed).
func (db *DB) QueuedJobs() ([]Job, error) {
	var out []Job
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bQueue).ForEach(func(k, v []byte) error {
			j, err := unmarshalJob(k, v)
			if err != nil {
				return err
			}
			out = append(out, j)
			return nil
		})
	})
	return out, err
}
