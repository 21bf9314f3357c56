package mailstore

import (
	"encoding/binary"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A store opened while CompactFile runs waits for the lock, and must then
// work on the compacted file at the path, not on the old one compaction
// unlinked: its commits must be there at the next open.
func TestOpenDuringCompact(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Enough records that compaction takes a moment.
	for i := 0; i < 6; i++ {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("filler"))
			if err != nil {
				return err
			}
			for j := 0; j < 50000; j++ {
				if err := b.Put(binary.BigEndian.AppendUint64(nil, uint64(i*50000+j)), make([]byte, 64)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	done := make(chan error, 1)
	go func() { _, _, err := CompactFile(dir); done <- err }()
	time.Sleep(20 * time.Millisecond)
	srv, err := Open(dir, Options{LockTimeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("open during compaction: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := srv.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put([]byte("after"), []byte("committed")) }); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	again, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	var v []byte
	again.bolt.View(func(tx *bolt.Tx) error { v = tx.Bucket(bMeta).Get([]byte("after")); return nil })
	if v == nil {
		t.Error("a commit made by a store opened during compaction is lost")
	}
}
