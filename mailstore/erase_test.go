package mailstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// wordTerms is the tests' TermsFunc: the space-separated words of the
// text (the tests index with the same rule).
func wordTerms(header, body []byte) []string {
	return strings.Fields(string(header) + " " + string(body))
}

// textPost is a post by author whose searchable body text is text.
func textPost(group string, author uint64, id, origID, text string) Post {
	raw := []byte("Subject: " + id + "\r\n\r\n" + text + "\r\n")
	return Post{Group: group, Raw: raw, OrigMessageID: origID,
		Meta: PostMeta{MessageID: id, Date: time.Now(), Size: len(raw), AuthorID: author},
		Index: &PostIndex{
			Listing:    Listing{Size: len(raw), Archived: time.Now().UTC(), Body: Part{Type: "text", Subtype: "plain", End: len(raw)}},
			HeaderText: "subject " + id,
			BodyText:   text,
		}}
}

// indexWords indexes the terms of posts from..through with wordTerms.
func indexWords(t *testing.T, db *DB, group string, from, through uint64) {
	t.Helper()
	terms := map[string][]Posting{}
	db.ReadArchive(group, func(tx *ArchiveTx) error {
		for uid := from + 1; uid <= through; uid++ {
			h, b := tx.Text(uid)
			seen := map[string]bool{}
			for _, w := range wordTerms(h, b) {
				if !seen[w] {
					seen[w] = true
					terms[w] = append(terms[w], Posting{UID: uid, Fields: InBody})
				}
			}
		}
		return nil
	})
	if err := db.PutTerms(group, from, through, terms); err != nil {
		t.Fatal(err)
	}
}

func postingsOf(db *DB, group, term string) []uint64 {
	var out []uint64
	db.ReadArchive(group, func(tx *ArchiveTx) error {
		tx.Postings([]byte(term), func(uid uint64, _ Field) { out = append(out, uid) })
		return nil
	})
	return out
}

// dbHolds reports whether any key or value of the live store (every
// bucket, nested ones included) contains s.
func dbHolds(t *testing.T, db *DB, s string) bool {
	t.Helper()
	found := false
	var walk func(b *bolt.Bucket)
	walk = func(b *bolt.Bucket) {
		b.ForEach(func(k, v []byte) error {
			if bytes.Contains(k, []byte(s)) || bytes.Contains(v, []byte(s)) {
				found = true
			}
			if v == nil {
				walk(b.Bucket(k))
			}
			return nil
		})
	}
	db.bolt.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			walk(b)
			return nil
		})
	})
	return found
}

func TestDeletePosts(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "g")
	alias := seqAlias()
	a, _ := db.AddMember("g", "a@example.org", Active, false, alias)
	b, _ := db.AddMember("g", "b@example.org", Active, false, alias)
	posts := []Post{
		textPost("g", a.ID, "m1@lists.test", "orig1@a.example", "common zebrasecret one"),
		textPost("g", b.ID, "m2@lists.test", "orig2@b.example", "common two"),
		textPost("g", b.ID, "m3@lists.test", "", "common three"),
		textPost("g", a.ID, "m4@lists.test", "orig4@a.example", "common yakmarker four"),
	}
	for i, p := range posts {
		if c, err := db.CommitPost(p); err != nil || c.UID != uint64(i+1) {
			t.Fatalf("post %d: %+v %v", i, c, err)
		}
	}
	indexWords(t, db, "g", 0, 4)
	for _, m := range []uint64{a.ID, b.ID} {
		if err := db.SetFlags("g", m, map[uint64]Flags{1: {Seen: true}, 2: {Flagged: true}, 4: {Keywords: []string{"keep"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if uids, err := db.PostsBy("g", a.ID); err != nil || !reflect.DeepEqual(uids, []uint64{1, 4}) {
		t.Fatalf("PostsBy(a) = %v, %v", uids, err)
	}
	if uids, _ := db.PostsBy("g", a.ID, b.ID); len(uids) != 4 {
		t.Fatalf("PostsBy(a, b) = %v", uids)
	}

	// Erase a's posts, the newest among them.
	removed, err := db.DeletePosts("g", []uint64{4, 1, 99}, wordTerms)
	if err != nil || !reflect.DeepEqual(removed, []uint64{1, 4}) {
		t.Fatalf("DeletePosts = %v, %v", removed, err)
	}
	for _, uid := range []uint64{1, 4} {
		if _, _, err := db.ArchivedPost("g", uid); !errors.Is(err, ErrNotFound) {
			t.Errorf("post %d still readable: %v", uid, err)
		}
	}
	if n, _ := db.ArchiveCount("g"); n != 2 {
		t.Errorf("ArchiveCount = %d, want 2", n)
	}
	db.ReadArchive("g", func(tx *ArchiveTx) error {
		for _, uid := range []uint64{1, 4} {
			if tx.Raw(uid) != nil {
				t.Errorf("Raw(%d) still there", uid)
			}
			if h, b := tx.Text(uid); h != nil || b != nil {
				t.Errorf("Text(%d) still there", uid)
			}
			if _, err := tx.Listing(uid); !errors.Is(err, ErrNotFound) {
				t.Errorf("Listing(%d): %v", uid, err)
			}
		}
		var terms []string
		tx.Terms(func(term []byte) { terms = append(terms, string(term)) })
		for _, term := range terms {
			if term == "zebrasecret" || term == "yakmarker" || term == "one" || term == "four" {
				t.Errorf("term %q of an erased post is still indexed", term)
			}
		}
		if tx.LastUID() != 4 {
			t.Errorf("LastUID = %d, want 4", tx.LastUID())
		}
		return nil
	})
	if got := postingsOf(db, "g", "common"); !reflect.DeepEqual(got, []uint64{2, 3}) {
		t.Errorf("postings of common = %v, want [2 3]", got)
	}
	for _, marker := range []string{"zebrasecret", "yakmarker", "orig1@a.example", "orig4@a.example", "m1@lists.test", "m4@lists.test"} {
		if dbHolds(t, db, marker) {
			t.Errorf("the store still holds %q", marker)
		}
	}
	refs, _ := db.ResolveRefs("g", []string{"orig1@a.example", "m4@lists.test", "orig2@b.example", "m3@lists.test"})
	if want := map[string]string{"orig2@b.example": "m2@lists.test", "m3@lists.test": "m3@lists.test"}; !reflect.DeepEqual(refs, want) {
		t.Errorf("ResolveRefs = %v, want %v", refs, want)
	}
	for _, m := range []uint64{a.ID, b.ID} {
		f, _ := db.MemberFlags("g", m)
		if want := map[uint64]Flags{2: {Flagged: true}}; !reflect.DeepEqual(f, want) {
			t.Errorf("member %d flags %v, want %v", m, f, want)
		}
	}
	jobs, _, _ := db.DueJobs(time.Now().Add(time.Hour), 100, nil)
	for _, j := range jobs {
		if j.Ref.UID == 1 || j.Ref.UID == 4 {
			t.Errorf("a delivery of erased post %d is still queued", j.Ref.UID)
		}
	}
	if len(jobs) != 4 { // posts 2 and 3, to a and b
		t.Errorf("%d deliveries queued, want 4", len(jobs))
	}
	// Deleting again removes nothing.
	if removed, err := db.DeletePosts("g", []uint64{1, 4}, wordTerms); err != nil || len(removed) != 0 {
		t.Errorf("second DeletePosts = %v, %v", removed, err)
	}

	// UIDs are not reused, though the newest post was erased.
	c, err := db.CommitPost(textPost("g", b.ID, "m5@lists.test", "", "common five"))
	if err != nil || c.UID != 5 {
		t.Fatalf("next post: UID %d, %v; want 5", c.UID, err)
	}
	// An indexer that read an erased post's text before the erasure adds
	// no posting for it.
	if err := db.PutTerms("g", 4, 5, map[string][]Posting{"late": {{4, InBody}}, "common": {{5, InBody}}}); err != nil {
		t.Fatal(err)
	}
	if got := postingsOf(db, "g", "late"); len(got) != 0 {
		t.Errorf("postings of late = %v, want none", got)
	}
	// Without a TermsFunc every term is read: same result.
	if removed, err := db.DeletePosts("g", []uint64{2}, nil); err != nil || !reflect.DeepEqual(removed, []uint64{2}) {
		t.Fatalf("DeletePosts(nil) = %v, %v", removed, err)
	}
	if got := postingsOf(db, "g", "common"); !reflect.DeepEqual(got, []uint64{3, 5}) {
		t.Errorf("postings of common = %v, want [3 5]", got)
	}
	if got := postingsOf(db, "g", "two"); len(got) != 0 {
		t.Errorf("postings of two = %v", got)
	}
	if dbHolds(t, db, "two") {
		t.Error("the store still holds the erased post's word \"two\"")
	}
}

// TestDeletePostsChunks: a term's postings span several records; removing
// posts at record edges (a record's first post, a whole record) keeps the
// others readable and appendable.
func TestDeletePostsChunks(t *testing.T) {
	for _, targeted := range []bool{true, false} {
		db, _ := openTest(t)
		mustGroup(t, db, "g")
		const n = 1500
		terms := map[string][]Posting{}
		// Committed concurrently, so that the group committer shares
		// commits among them.
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 1; i <= n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := db.CommitPost(textPost("g", 0, fmt.Sprintf("c%d@lists.test", i), "", "w"))
				errs <- err
			}()
			terms["w"] = append(terms["w"], Posting{UID: uint64(i), Fields: Field(i%3 + 1)})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := db.PutTerms("g", 0, n, terms); err != nil {
			t.Fatal(err)
		}
		var firsts []uint64
		db.ReadArchive("g", func(tx *ArchiveTx) error {
			c := tx.terms.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				firsts = append(firsts, uint64(be.Uint32(k[len(k)-4:])))
			}
			return nil
		})
		if len(firsts) < 3 {
			t.Fatalf("postings in %d records; the test wants 3 or more", len(firsts))
		}
		dead := map[uint64]bool{1: true, n: true}
		for uid := firsts[1]; uid < firsts[2]; uid++ { // the whole second record
			dead[uid] = true
		}
		dead[firsts[2]+5] = true
		var uids []uint64
		for u := range dead {
			uids = append(uids, u)
		}
		tf := TermsFunc(wordTerms)
		if !targeted {
			tf = nil
		}
		if _, err := db.DeletePosts("g", uids, tf); err != nil {
			t.Fatal(err)
		}
		var want []uint64
		for i := uint64(1); i <= n; i++ {
			if !dead[i] {
				want = append(want, i)
			}
		}
		var got []uint64
		var fields []Field
		db.ReadArchive("g", func(tx *ArchiveTx) error {
			tx.Postings([]byte("w"), func(uid uint64, f Field) { got = append(got, uid); fields = append(fields, f) })
			return nil
		})
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("targeted=%v: %d postings left, want %d (first %v)", targeted, len(got), len(want), got[:5])
		}
		for i, uid := range got {
			if fields[i] != Field(uid%3+1) {
				t.Fatalf("targeted=%v: post %d has fields %d, want %d", targeted, uid, fields[i], uid%3+1)
			}
		}
		// The next post's posting is appended after them.
		c, err := db.CommitPost(textPost("g", 0, "new@lists.test", "", "w"))
		if err != nil || c.UID != n+1 {
			t.Fatalf("new post: %+v %v", c, err)
		}
		if err := db.PutTerms("g", n, c.UID, map[string][]Posting{"w": {{c.UID, InBody}}}); err != nil {
			t.Fatal(err)
		}
		if got := postingsOf(db, "g", "w"); got[len(got)-1] != c.UID || len(got) != len(want)+1 {
			t.Fatalf("after a new post: last %d of %d", got[len(got)-1], len(got))
		}
	}
}

func TestPostsBefore(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "g")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		p := post("g", 0, "")
		p.Meta.Date = t0.Add(time.Duration(i) * 24 * time.Hour)
		if _, err := db.CommitPost(p); err != nil {
			t.Fatal(err)
		}
	}
	if uids, err := db.PostsBefore("g", t0.Add(2*24*time.Hour), 100); err != nil || !reflect.DeepEqual(uids, []uint64{1, 2}) {
		t.Fatalf("PostsBefore = %v, %v", uids, err)
	}
	if uids, _ := db.PostsBefore("g", t0.Add(10*24*time.Hour), 3); !reflect.DeepEqual(uids, []uint64{1, 2, 3}) {
		t.Fatalf("PostsBefore with max 3 = %v", uids)
	}
	if uids, _ := db.PostsBefore("g", t0, 100); len(uids) != 0 {
		t.Fatalf("PostsBefore(t0) = %v", uids)
	}
	if _, err := db.PostsBefore("nope", t0, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
	// An imported old post after the recent ones is found too.
	p := post("g", 0, "")
	p.Meta.Date = t0.Add(-365 * 24 * time.Hour)
	if _, err := db.CommitPost(p); err != nil {
		t.Fatal(err)
	}
	if uids, _ := db.PostsBefore("g", t0.Add(24*time.Hour), 100); !reflect.DeepEqual(uids, []uint64{1, 6}) {
		t.Fatalf("PostsBefore with an old post last = %v, want [1 6]", uids)
	}
}

func TestEraseHeldBy(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "g")
	now := time.Now()
	var ids []uint64
	for _, author := range []uint64{7, 8, 7} {
		p := textPost("g", author, "h@lists.test", "", "heldsecret")
		p.Meta.Subject = "heldsubject"
		id, err := db.Hold(HeldPost{Post: p, Author: author, Created: now, Expires: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// The third was decided already: its record loses its subject too.
	if _, _, _, err := db.DecideHeld("g", ids[2], Decision{Action: "rejected", By: "x", At: now}, nil); err != nil {
		t.Fatal(err)
	}
	waiting, err := db.EraseHeldBy("g", now, 7)
	if err != nil || !reflect.DeepEqual(waiting, []uint64{ids[0]}) {
		t.Fatalf("EraseHeldBy = %v, %v", waiting, err)
	}
	h, _ := db.HeldPost("g", ids[0])
	if h.Decided == nil || h.Decided.Action != "erased" || h.Post.Raw != nil || h.Author != 0 {
		t.Fatalf("erased held post: %+v", h)
	}
	if w, _, _ := db.WaitingHeld("g"); len(w) != 1 || w[0].ID != ids[1] {
		t.Fatalf("waiting after the erasure: %+v", w)
	}
	// Another admin's approval is told it was taken.
	if _, _, taken, err := db.DecideHeld("g", ids[0], Decision{Action: "approved"}, nil); err != nil || !taken {
		t.Fatalf("approving an erased post: taken %v, %v", taken, err)
	}
	if n, _ := db.ArchiveCount("g"); n != 0 {
		t.Fatal("an erased held post was archived")
	}
	all, _ := db.HeldPosts("g")
	for _, h := range all {
		if h.Author == 7 || (h.ID != ids[1] && (h.Post.Meta.Subject != "" || h.Post.Raw != nil)) {
			t.Errorf("held record %d keeps the erased author's post: %+v", h.ID, h)
		}
	}
}

// TestEraseThenBackup: after an erasure, a fresh backup does not hold the
// erased post's bytes (the live file may, in free pages), and the live
// store's API returns nothing of it.
func TestEraseThenBackup(t *testing.T) {
	db, dir := openTest(t)
	mustGroup(t, db, "g")
	marker := "quokkamarker" + strings.Repeat("q", 20)
	p := textPost("g", 1, "e1@lists.test", "", "this is "+marker+" in a post")
	if _, err := db.CommitPost(p); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CommitPost(textPost("g", 2, "e2@lists.test", "", "someone else")); err != nil {
		t.Fatal(err)
	}
	indexWords(t, db, "g", 0, 2)
	if removed, err := db.DeletePosts("g", []uint64{1}, wordTerms); err != nil || len(removed) != 1 {
		t.Fatalf("DeletePosts: %v %v", removed, err)
	}
	if dbHolds(t, db, marker) {
		t.Fatal("the live store's records still hold the marker")
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if _, err := db.BackupFile(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(marker)) {
		t.Fatal("the backup holds the erased post's bytes")
	}
	if !bytes.Contains(raw, []byte("someone else")) {
		t.Fatal("the backup lost the other post")
	}
	live, _ := os.ReadFile(filepath.Join(dir, FileName))
	t.Logf("the live file still holds the erased bytes in free pages: %v", bytes.Contains(live, []byte(marker)))
}

// TestCompactFile: compacting a stopped data directory's file removes an
// erased post's bytes from the live file; a held directory is refused.
func TestCompactFile(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustGroup(t, db, "g")
	marker := "platypusmarker" + strings.Repeat("p", 40)
	for i := 0; i < 20; i++ {
		if _, err := db.CommitPost(textPost("g", 1, fmt.Sprintf("k%d@lists.test", i), "", marker+" and more")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.CommitPost(textPost("g", 2, "keep@lists.test", "", "keepme")); err != nil {
		t.Fatal(err)
	}
	uids, _ := db.PostsBy("g", 1)
	if _, err := db.DeletePosts("g", uids, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := CompactFile(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("CompactFile on an open store: %v, want ErrLocked", err)
	}
	db.Close()
	live, _ := os.ReadFile(filepath.Join(dir, FileName))
	t.Logf("before compaction the file holds the erased bytes: %v", bytes.Contains(live, []byte(marker)))
	if _, _, err := CompactFile(dir); err != nil {
		t.Fatal(err)
	}
	live, _ = os.ReadFile(filepath.Join(dir, FileName))
	if bytes.Contains(live, []byte(marker)) {
		t.Fatal("the compacted file holds the erased bytes")
	}
	r, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if raw, _, err := r.ArchivedPost("g", 21); err != nil || !bytes.Contains(raw, []byte("keepme")) {
		t.Fatalf("after compaction: %q %v", raw, err)
	}
	if c, err := r.CommitPost(textPost("g", 2, "after@lists.test", "", "x")); err != nil || c.UID != 22 {
		t.Fatalf("after compaction the next UID is %d (%v), want 22", c.UID, err)
	}
}
