package mailstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CompactFile rewrites the database of a stopped data directory with its
// live records only (bbolt's Compact, as BackupFile does), then puts the
// copy in place of the file: the bytes that deleted records left in freed
// pages (an erased post, a used token) are no longer in listserv.db. It
// fails with ErrLocked while a server holds the directory. It returns
// the file's size before and after.
//
// The old file's blocks are released to the file system, which does not
// wipe them: only an encrypted disk makes them unreadable.
func CompactFile(dataDir string) (before, after int64, err error) {
	path := filepath.Join(dataDir, FileName)
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	before = fi.Size()
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return 0, 0, fmt.Errorf("%s: %w", path, ErrLocked)
	}
	if err != nil {
		return 0, 0, err
	}
	// src stays open (and locked) until the copy is in place.
	defer src.Close()
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, 0, err
	}
	err = bolt.Compact(dst, src, 64<<20)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	if d, err := os.Open(dataDir); err == nil {
		d.Sync()
		d.Close()
	}
	if fi, err = os.Stat(path); err != nil {
		return 0, 0, err
	}
	return before, fi.Size(), nil
}
