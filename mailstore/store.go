// Package mailstore owns listserv's durable state: groups and their
// settings, members and their aliases, each group's archive, the map from
// authors' Message-IDs to ours, and the outbound delivery queue.
//
// Everything lives in one bbolt file, <data_dir>/listserv.db, which one
// process holds at a time (bbolt takes an exclusive flock). The package
// imports no protocol library: it stores bytes and records, and the
// protocol packages adapt it.
//
// Layout (bucket → key → value):
//
//	meta                    "version" → 1; "verp-key" → 32 random bytes
//	groups                  name → Group (JSON)
//	g/<name>/members        member id (8 bytes BE) → Member (JSON)
//	g/<name>/addr           lower-cased address → member id
//	g/<name>/alias          alias slug → member id (kept after removal)
//	g/<name>/archive        UID (8 bytes BE) → anonymized message bytes
//	g/<name>/archmeta       UID → PostMeta (JSON)
//	g/<name>/msgid          author's Message-ID → our Message-ID
//	g/<name>/ours           our Message-ID → UID
//	g/<name>/listing        UID → Listing (binary, listing_codec.go): sizes, dates, envelope, MIME tree
//	g/<name>/text           UID → searchable text, decoded and case-folded (index.go)
//	g/<name>/terms          term ‖ 0 ‖ first UID (4 bytes BE) → postings (index.go)
//	g/<name>/flags/<member> UID → that member's flags on the post (flags.go)
//	queue                   due (8 bytes BE unix ns) ‖ job id (8 bytes BE) → Job (binary)
//	spool                   spool id → refcount (4 bytes BE) ‖ message bytes
//	failed                  job id → Job that was given up, with its reason
//
// Writes go through one committer goroutine that merges concurrent
// transactions into a single bbolt commit (group commit, see commit.go):
// a caller returns only after its writes are fsynced.
//
// Every post records its author's member id (PostMeta.AuthorID), so a
// member's posts can be found (PostsBy) and erased.
//
// # Erasure, retention and deleted bytes
//
// DeletePosts (erase.go) removes posts for good in one commit: the
// message, its metadata, listing and searchable text, the term postings
// that name it (a term left without postings goes too), the Message-ID
// map entries that point at it, every member's flags on it and its
// deliveries still queued. Archive UIDs are never reused: the archive
// bucket's sequence is not rolled back. EraseHeldBy empties a member's
// held posts.
//
// What stays on disk: bbolt does not overwrite a page it frees. Until the
// page is reused for new data, the live file (listserv.db) may still hold
// the bytes of a deleted post, of a used token or of a delivered notice,
// readable by anyone who can read the file (the data directory is 0700
// and the file 0600). Nothing in the store's API returns them, and
// BackupFile copies live records only (bbolt's Compact), so a backup made
// after an erasure does not hold the erased bytes. To purge them from the
// live file too, compact it while no server runs (CompactFile, compact.go:
// the same copy, put in place of the file), or stop the server and put a
// fresh backup in its place. Copies outside the store are not reached:
// mail already delivered to members, backups made before the erasure, the
// file system's freed blocks, and the operating system's caches and swap.
package mailstore

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors callers can test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrLocked means another process (a running server) holds the database.
	ErrLocked = errors.New("the data directory is in use by another listserv process")
)

var (
	bMeta   = []byte("meta")
	bGroups = []byte("groups")
	bGData  = []byte("g")
	bQueue  = []byte("queue")
	bSpool  = []byte("spool")
	bFailed = []byte("failed")

	bMembers  = []byte("members")
	bAddr     = []byte("addr")
	bAlias    = []byte("alias")
	bArchive  = []byte("archive")
	bArchMeta = []byte("archmeta")
	bMsgID    = []byte("msgid")
	bOurs     = []byte("ours")
)

// FileName is the database's name inside the data directory.
const FileName = "listserv.db"

// Options tune Open. The zero value is the production default.
type Options struct {
	// LockTimeout is how long Open waits for another process to release
	// the file; 0 means one second.
	LockTimeout time.Duration
	// MaxBatch caps how many transactions share one commit; 0 means 512.
	MaxBatch int
}

// DB is an open store.
type DB struct {
	bolt    *bolt.DB
	commits chan *commitReq
	done    chan struct{}
	maxB    int
	rosters rosterCache
}

// Open opens (creating if needed) the store in dataDir.
func Open(dataDir string, opts Options) (*DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Second
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 512
	}
	path := filepath.Join(dataDir, FileName)
	bdb, err := openCurrent(path, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bMeta, bGroups, bGData, bQueue, bSpool, bFailed} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		if meta.Get([]byte("version")) == nil {
			if err := meta.Put([]byte("version"), []byte{1}); err != nil {
				return err
			}
		}
		if meta.Get([]byte("verp-key")) == nil {
			key := make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return err
			}
			return meta.Put([]byte("verp-key"), key)
		}
		return nil
	})
	if err != nil {
		bdb.Close()
		return nil, err
	}
	db := &DB{bolt: bdb, commits: make(chan *commitReq, 1024), done: make(chan struct{}), maxB: opts.MaxBatch}
	go db.committer()
	return db, nil
}

// openCurrent opens path with bbolt's lock, and makes sure the file it
// locked is still the one at path: CompactFile puts a new file in place
// while it holds the old one's lock, so a server waiting for that lock
// would otherwise get the old file, unlinked, and everything it then
// committed would be gone at the next start. When the file at path
// changed while bbolt waited, it opens again.
func openCurrent(path string, timeout time.Duration) (*bolt.DB, error) {
	for try := 0; ; try++ {
		before, statErr := os.Stat(path)
		bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		if err != nil {
			return nil, err
		}
		after, err := os.Stat(path)
		if err != nil {
			bdb.Close()
			return nil, err
		}
		if statErr != nil || os.SameFile(before, after) || try == 5 {
			// statErr: the file did not exist and bbolt created it.
			return bdb, nil
		}
		bdb.Close()
	}
}

// Close stops the committer and closes the file. Callers must have
// stopped writing.
func (db *DB) Close() error {
	close(db.commits)
	<-db.done
	return db.bolt.Close()
}

// Path is the database file's path.
func (db *DB) Path() string { return db.bolt.Path() }

// VERPKey returns the secret that signs VERP tokens.
func (db *DB) VERPKey() []byte {
	var key []byte
	db.bolt.View(func(tx *bolt.Tx) error {
		key = clone(tx.Bucket(bMeta).Get([]byte("verp-key")))
		return nil
	})
	return key
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	be.PutUint64(b, v)
	return b
}

// BackupFile writes a consistent copy of the whole database to a new
// bbolt file at path while the store stays in use. It copies live records
// only (bbolt's Compact, from one read transaction): what was deleted —
// a delivered confirmation with its token, an erased post — is not in
// the copy, even where the live file still holds it in free pages.
// Bucket sequences (archive UIDs, job ids) are kept.
func (db *DB) BackupFile(path string) (int64, error) {
	if _, err := os.Lstat(path); err == nil {
		return 0, fmt.Errorf("%s: %w", path, ErrExists)
	}
	dst, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	err = bolt.Compact(dst, db.bolt, 64<<20)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
