package mailstore

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// ArchiveUIDs lists the UIDs of group's archived posts in ascending
// order (for export; a 100,000-post archive is 800 KB of UIDs).
func (db *DB) ArchiveUIDs(group string) ([]uint64, error) {
	var out []uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		return gb.Bucket(bArchive).ForEach(func(k, _ []byte) error {
			out = append(out, binary.BigEndian.Uint64(k))
			return nil
		})
	})
	return out, err
}
