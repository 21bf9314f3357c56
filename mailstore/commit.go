package mailstore

import (
	"errors"

	bolt "go.etcd.io/bbolt"
)

// Group commit.
//
// bbolt fsyncs twice per commit (~0.4 ms here), so one commit per post
// caps ingest near 2,500 posts/s whatever the number of senders. bbolt's
// own Batch merges writers but waits up to MaxBatchDelay to fill a batch,
// which makes a lone writer slower. The committer below waits for
// nothing: it takes the first request, then whatever other requests are
// already queued, and runs them all in one transaction. Requests that
// arrive while a commit's fsync runs queue up and share the next one, so
// a lone writer pays one commit and many writers share them.
//
// A request whose fn fails must not take the others down with it, and
// must leave no partial writes: the whole transaction is rolled back and
// rerun without the failed request. fns must therefore have no side
// effects outside the transaction (they may run more than once).

type commitReq struct {
	fn  func(*bolt.Tx) error
	err chan error
}

// fnError marks which request of a batch failed.
type fnError struct {
	i   int
	err error
}

func (e *fnError) Error() string { return e.err.Error() }

// update runs fn in a write transaction and returns after it is durably
// committed (or failed).
func (db *DB) update(fn func(*bolt.Tx) error) error {
	req := &commitReq{fn: fn, err: make(chan error, 1)}
	db.commits <- req
	return <-req.err
}

func (db *DB) committer() {
	defer close(db.done)
	batch := make([]*commitReq, 0, db.maxB)
	for first := range db.commits {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < db.maxB {
			select {
			case r, ok := <-db.commits:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.run(batch)
	}
}

// run commits batch, retrying without any request whose fn fails.
func (db *DB) run(batch []*commitReq) {
	for len(batch) > 0 {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for i, r := range batch {
				if err := r.fn(tx); err != nil {
					return &fnError{i, err}
				}
			}
			return nil
		})
		if err != nil {
			db.forgetRoster("") // the cache may hold the rolled-back view
		}
		var fe *fnError
		if errors.As(err, &fe) {
			batch[fe.i].err <- fe.err
			batch = append(batch[:fe.i], batch[fe.i+1:]...)
			continue
		}
		for _, r := range batch {
			r.err <- err // nil, or a commit failure that concerns all
		}
		return
	}
}
