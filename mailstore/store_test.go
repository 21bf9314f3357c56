package mailstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

// seqAlias hands out aliases in order, repeating the first few to check
// that AddMember skips taken slugs.
func seqAlias() AliasFunc {
	n := 0
	return func() (string, string, error) {
		n++
		i := n / 2 // each slug is offered twice
		return fmt.Sprintf("Name %d", i), fmt.Sprintf("name-%d", i), nil
	}
}

func mustGroup(t testing.TB, db *DB, name string) {
	t.Helper()
	if err := db.CreateGroup(Group{Name: name, JoinPolicy: "open", PostPolicy: "members"}); err != nil {
		t.Fatal(err)
	}
}

func TestGroups(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "recovery")
	if err := db.CreateGroup(Group{Name: "recovery"}); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	g, err := db.Group("recovery")
	if err != nil || g.UIDValidity == 0 || g.Created.IsZero() {
		t.Fatalf("group = %+v, %v", g, err)
	}
	g2, err := db.UpdateGroup("recovery", func(g *Group) error {
		g.PostsPerHour = 5
		g.UIDValidity = 99 // must not change
		return nil
	})
	if err != nil || g2.PostsPerHour != 5 || g2.UIDValidity != g.UIDValidity {
		t.Fatalf("update = %+v, %v", g2, err)
	}
	if _, err := db.Group("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing group: %v", err)
	}
}

func TestMembers(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "g")
	alias := seqAlias()
	a, err := db.AddMember("g", "Alice@Example.org", Active, false, alias)
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.AddMember("g", "bob@example.org", Active, true, alias)
	if err != nil {
		t.Fatal(err)
	}
	if a.Slug == b.Slug {
		t.Fatalf("two members share slug %q", a.Slug)
	}
	if _, err := db.AddMember("g", "ALICE@example.ORG", Active, false, alias); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate address: %v", err)
	}
	m, err := db.MemberByAddr("g", "alice@example.org")
	if err != nil || m.ID != a.ID {
		t.Fatalf("lookup = %+v, %v", m, err)
	}
	if _, err := db.RemoveMember("g", "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MemberByAddr("g", "alice@example.org"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed member still found: %v", err)
	}
	// The alias stays reserved: the archive still names it.
	if m, err := db.MemberBySlug("g", a.Slug); err != nil || m.State != Removed {
		t.Fatalf("removed alias = %+v, %v", m, err)
	}
	c, err := db.AddMember("g", "alice@example.org", Active, false, alias)
	if err != nil || c.Slug == a.Slug || c.ID == a.ID {
		t.Fatalf("re-join = %+v, %v (old %+v)", c, err, a)
	}
}

func post(group string, author uint64, origID string) Post {
	id := fmt.Sprintf("%d.%d@lists.test", author, time.Now().UnixNano())
	return Post{Group: group, Raw: []byte("Subject: x\r\n\r\nbody\r\n"), OrigMessageID: origID,
		Meta: PostMeta{MessageID: id, Date: time.Now(), Size: 20, AuthorID: author}}
}

func TestCommitPostQueuesReceivers(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "g")
	alias := seqAlias()
	var ids []uint64
	for i, st := range []State{Active, Active, NoMail, Suspended, Active} {
		m, err := db.AddMember("g", fmt.Sprintf("m%d@example.org", i), st, false, alias)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if _, err := db.UpdateMember("g", "m4@example.org", func(m *Member) error { m.NoSelf = true; return nil }); err != nil {
		t.Fatal(err)
	}
	c, err := db.CommitPost(post("g", ids[4], "orig@author.example"))
	if err != nil {
		t.Fatal(err)
	}
	// m0, m1 receive; m2 (nomail), m3 (suspended) and m4 (the author, self
	// off) do not.
	if c.UID != 1 || c.Jobs != 2 {
		t.Fatalf("committed %+v, want UID 1 and 2 jobs", c)
	}
	jobs, _, err := db.DueJobs(time.Now(), 100, nil)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("due = %d jobs, %v", len(jobs), err)
	}
	for _, j := range jobs {
		if j.MemberID != ids[0] && j.MemberID != ids[1] {
			t.Errorf("job for member %d", j.MemberID)
		}
		raw, err := db.Message(j.Ref)
		if err != nil || string(raw) != "Subject: x\r\n\r\nbody\r\n" {
			t.Errorf("message = %q, %v", raw, err)
		}
	}
	m4, _ := db.MemberByAddr("g", "m4@example.org")
	if m4.Posts != 1 {
		t.Errorf("author's post count = %d", m4.Posts)
	}
	// Threading: the author's ID maps to ours; ours maps to itself.
	_, meta, err := db.ArchivedPost("g", 1)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := db.ResolveRefs("g", []string{"orig@author.example", meta.MessageID, "other@elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	if refs["orig@author.example"] != meta.MessageID || refs[meta.MessageID] != meta.MessageID || len(refs) != 2 {
		t.Fatalf("refs = %v", refs)
	}
}

func TestQueueFinish(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustGroup(t, db, "g")
	rc := []Recipient{{1, "a@x.org"}, {2, "b@x.org"}, {3, "c@x.org"}}
	if err := db.Enqueue("g", []byte("hello"), rc); err != nil {
		t.Fatal(err)
	}
	jobs, _, err := db.DueJobs(time.Now(), 10, nil)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("due = %v, %v", jobs, err)
	}
	// skip hides jobs in flight.
	skipped, _, _ := db.DueJobs(time.Now(), 10, func(id uint64) bool { return id == jobs[0].ID })
	if len(skipped) != 2 {
		t.Fatalf("skip: %d jobs", len(skipped))
	}
	later := time.Now().Add(time.Hour)
	err = db.Finish([]Result{
		{Job: jobs[0], Outcome: Delivered},
		{Job: jobs[1], Outcome: Retry, RetryAt: later, Err: "451 busy"},
		{Job: jobs[2], Outcome: Failed, Err: "550 no such user"},
		{Job: jobs[0], Outcome: Delivered}, // a duplicate report is harmless
	})
	if err != nil {
		t.Fatal(err)
	}
	due, next, _ := db.DueJobs(time.Now(), 10, nil)
	if len(due) != 0 || !next.Equal(time.Unix(0, later.UnixNano())) {
		t.Fatalf("after finish: %d due, next %v (want %v)", len(due), next, later)
	}
	failed, err := db.FailedJobs()
	if err != nil || len(failed) != 1 || failed[0].LastErr != "550 no such user" || failed[0].Attempts != 1 {
		t.Fatalf("failed = %+v, %v", failed, err)
	}
	// The spooled message lives while a job still needs it.
	if _, err := db.Message(jobs[1].Ref); err != nil {
		t.Fatalf("spool gone too early: %v", err)
	}
	retry, _, _ := db.DueJobs(later, 10, nil)
	if len(retry) != 1 || retry[0].Attempts != 1 || retry[0].LastErr != "451 busy" {
		t.Fatalf("retry = %+v", retry)
	}
	if err := db.Finish([]Result{{Job: retry[0], Outcome: Delivered}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Message(jobs[1].Ref); !errors.Is(err, ErrNotFound) {
		t.Fatalf("spool not released: %v", err)
	}
	n, _, _ := db.QueueStats()
	if n != 0 {
		t.Fatalf("queue has %d jobs", n)
	}
	// Everything survives a reopen.
	db.Close()
	db2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if f, _ := db2.FailedJobs(); len(f) != 1 {
		t.Fatalf("after reopen: %d failed", len(f))
	}
}

func TestJobCodec(t *testing.T) {
	j := Job{ID: 7, Due: time.Unix(0, 123456789), Created: time.Unix(5, 6), Ref: MsgRef{Group: "g", UID: 9},
		MemberID: 3, Rcpt: "ä@x.org", Attempts: 4, LastErr: "451 later"}
	got, err := unmarshalJob(j.key(), j.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got != j {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, j)
	}
	if _, err := unmarshalJob(j.key(), j.marshal()[:10]); err == nil {
		t.Fatal("truncated record decoded")
	}
}

func FuzzJobCodec(f *testing.F) {
	j := Job{ID: 1, Ref: MsgRef{Group: "g", UID: 2}, Rcpt: "a@b"}
	f.Add(j.key(), j.marshal())
	f.Fuzz(func(t *testing.T, key, val []byte) {
		unmarshalJob(key, val) // must not panic
	})
}

func TestLocked(t *testing.T) {
	_, dir := openTest(t)
	start := time.Now()
	_, err := Open(dir, Options{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("second open hung")
	}
}

// TestGroupCommitIsolation checks that a failing transaction in a shared
// commit leaves no trace and does not fail the others.
func TestGroupCommitIsolation(t *testing.T) {
	db, _ := openTest(t)
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("t"))
				if err != nil {
					return err
				}
				if err := b.Put([]byte(fmt.Sprint(i)), []byte("v")); err != nil {
					return err
				}
				if i%10 == 0 {
					return fmt.Errorf("fail %d", i)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	var n int
	db.bolt.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte("t")).Stats().KeyN
		for i := range errs {
			has := tx.Bucket([]byte("t")).Get([]byte(fmt.Sprint(i))) != nil
			if (i%10 == 0) != (errs[i] != nil) || has == (errs[i] != nil) {
				t.Errorf("tx %d: err %v, stored %v", i, errs[i], has)
			}
		}
		return nil
	})
	if n != 180 {
		t.Fatalf("%d keys stored, want 180", n)
	}
}

// TestRosterFollowsChanges: the cached list of receivers follows every
// membership change between posts.
func TestRosterFollowsChanges(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "g")
	alias := seqAlias()
	a, _ := db.AddMember("g", "a@x.org", Active, false, alias)
	jobsFor := func() map[string]bool {
		t.Helper()
		before, _, _ := db.DueJobs(time.Now(), 1000, nil)
		if _, err := db.CommitPost(post("g", a.ID, "")); err != nil {
			t.Fatal(err)
		}
		after, _, _ := db.DueJobs(time.Now(), 1000, nil)
		seen := map[uint64]bool{}
		for _, j := range before {
			seen[j.ID] = true
		}
		out := map[string]bool{}
		for _, j := range after {
			if !seen[j.ID] {
				out[j.Rcpt] = true
			}
		}
		return out
	}
	if got := jobsFor(); len(got) != 1 || !got["a@x.org"] {
		t.Fatalf("first post to %v", got)
	}
	db.AddMember("g", "b@x.org", Active, false, alias)
	if got := jobsFor(); len(got) != 2 || !got["b@x.org"] {
		t.Fatalf("after a join: %v", got)
	}
	db.UpdateMember("g", "b@x.org", func(m *Member) error { m.State = NoMail; return nil })
	db.UpdateMember("g", "a@x.org", func(m *Member) error { m.NoSelf = true; return nil })
	if got := jobsFor(); len(got) != 0 {
		t.Fatalf("after nomail and self off: %v", got)
	}
	c, _ := db.AddPending("g", "c@x.org", "hi", alias)
	db.DecideMember("g", c.ID, Decision{Action: "approved"}, true)
	db.RemoveMember("g", "b@x.org")
	if got := jobsFor(); len(got) != 1 || !got["c@x.org"] {
		t.Fatalf("after approval and removal: %v", got)
	}
}

// TestBackupHoldsNoDeletedBytes: a delivered message is deleted from the
// spool; the live file may keep its bytes in free pages, the backup must
// not. Sequences survive, so UIDs are never reused after a restore.
func TestBackupHoldsNoDeletedBytes(t *testing.T) {
	db, dir := openTest(t)
	mustGroup(t, db, "g")
	marker := "confirm-token-abcdefghijklmnop"
	if err := db.Enqueue("g", []byte("Subject: x\r\n\r\n"+marker+"\r\n"), []Recipient{{1, "a@x.org"}}); err != nil {
		t.Fatal(err)
	}
	jobs, _, _ := db.DueJobs(time.Now(), 10, nil)
	if err := db.Finish([]Result{{Job: jobs[0], Outcome: Delivered}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CommitPost(post("g", 0, "")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if _, err := db.BackupFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := db.BackupFile(path); !errors.Is(err, ErrExists) {
		t.Fatalf("second backup over the first: %v", err)
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte(marker)) {
		t.Fatal("the backup holds a deleted message's bytes")
	}
	live, _ := os.ReadFile(filepath.Join(dir, FileName))
	t.Logf("live file still holds the deleted bytes: %v", bytes.Contains(live, []byte(marker)))
	// Restore: the backup opens as a store, and the next UID follows on.
	rdir := t.TempDir()
	if err := os.Rename(path, filepath.Join(rdir, FileName)); err != nil {
		t.Fatal(err)
	}
	r, err := Open(rdir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := r.CommitPost(post("g", 0, ""))
	if err != nil || c.UID != 2 {
		t.Fatalf("after restore: UID %d, %v; want 2", c.UID, err)
	}
}
