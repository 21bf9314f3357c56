package mailstore

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkCommitStrategies compares ways to make concurrent posts
// durable: this package's group commit, one bbolt Update per post, and
// bbolt's Batch at its default 10 ms delay and at 1 ms. Each transaction
// writes what a post to a 100-member group writes (a 3 KB archive entry
// and 100 queue records). Report: commits/s; compare within one run.
//
//	go test ./mailstore -run '^$' -bench CommitStrategies -benchtime 2000x
func BenchmarkCommitStrategies(b *testing.B) {
	payload := make([]byte, 3000)
	job := make([]byte, 40)
	work := func(tx *bolt.Tx, id uint64) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("bench"))
		if err != nil {
			return err
		}
		if err := bk.Put(u64(id<<8), payload); err != nil {
			return err
		}
		for i := uint64(1); i <= 100; i++ {
			if err := bk.Put(u64(id<<8|i), job); err != nil {
				return err
			}
		}
		return nil
	}
	type strategy struct {
		name string
		run  func(db *DB, fn func(*bolt.Tx) error) error
	}
	strategies := []strategy{
		{"group-commit", func(db *DB, fn func(*bolt.Tx) error) error { return db.update(fn) }},
		{"bolt-update", func(db *DB, fn func(*bolt.Tx) error) error { return db.bolt.Update(fn) }},
		{"bolt-batch-10ms", func(db *DB, fn func(*bolt.Tx) error) error { return db.bolt.Batch(fn) }},
		{"bolt-batch-1ms", func(db *DB, fn func(*bolt.Tx) error) error {
			db.bolt.MaxBatchDelay = time.Millisecond
			return db.bolt.Batch(fn)
		}},
	}
	for _, writers := range []int{1, 8} {
		for _, st := range strategies {
			b.Run(fmt.Sprintf("writers=%d/%s", writers, st.name), func(b *testing.B) {
				db, _ := openTest(b)
				var next atomic.Uint64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							id := next.Add(1)
							if id > uint64(b.N) {
								return
							}
							if err := st.run(db, func(tx *bolt.Tx) error { return work(tx, id) }); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
			})
		}
	}
}
