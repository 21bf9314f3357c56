package mailstore

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

func samplePost(group, id string) Post {
	raw := []byte("Subject: " + id + "\r\n\r\nbody\r\n")
	return Post{Group: group, Raw: raw, Meta: PostMeta{MessageID: id, Size: len(raw)}, Index: &PostIndex{
		Listing:    Listing{Size: len(raw), Archived: time.Unix(1700000000, 0).UTC(), Envelope: Envelope{Subject: id}, Body: Part{Type: "text", Subtype: "plain", Body: 13 + len(id), End: len(raw)}},
		HeaderText: "subject: " + id + "\n",
		BodyText:   "body\n",
	}}
}

func TestIndexAndTerms(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "g")
	for _, id := range []string{"a", "b", "c"} {
		if _, err := db.CommitPost(samplePost("g", id)); err != nil {
			t.Fatal(err)
		}
	}
	// A post archived without an index is listed, then indexed later.
	p := samplePost("g", "d")
	idx := p.Index
	p.Index = nil
	if _, err := db.CommitPost(p); err != nil {
		t.Fatal(err)
	}
	if u, err := db.Unindexed("g", 0); err != nil || !reflect.DeepEqual(u, []uint64{4}) {
		t.Fatalf("Unindexed: %v %v", u, err)
	}
	if err := db.PutIndex("g", 4, idx); err != nil {
		t.Fatal(err)
	}
	if u, _ := db.Unindexed("g", 0); len(u) != 0 {
		t.Fatalf("still unindexed: %v", u)
	}
	// Terms: two batches; a stale batch is refused.
	if err := db.PutTerms("g", 0, 2, map[string][]Posting{"word": {{1, InBody}, {2, InHeader | InSubject}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutTerms("g", 0, 2, map[string][]Posting{"word": {{1, InBody}}}); !errors.Is(err, ErrExists) {
		t.Fatalf("stale PutTerms: %v, want ErrExists", err)
	}
	if err := db.PutTerms("g", 2, 4, map[string][]Posting{"word": {{4, InBody}}, "other": {{3, InBody}}}); err != nil {
		t.Fatal(err)
	}
	err := db.ReadArchive("g", func(tx *ArchiveTx) error {
		var got []Posting
		tx.Postings([]byte("word"), func(uid uint64, f Field) { got = append(got, Posting{uid, f}) })
		want := []Posting{{1, InBody}, {2, InHeader | InSubject}, {4, InBody}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("postings %v, want %v", got, want)
		}
		var terms []string
		tx.Terms(func(term []byte) { terms = append(terms, string(term)) })
		if !reflect.DeepEqual(terms, []string{"other", "word"}) || tx.TermsThrough() != 4 || tx.FirstUID([]byte("other")) != 3 {
			t.Errorf("terms %v through %d", terms, tx.TermsThrough())
		}
		h, b := tx.Text(4)
		l, err := tx.Listing(4)
		if string(h) != "subject: d\n" || string(b) != "body\n" || err != nil || l.Envelope.Subject != "d" {
			t.Errorf("text %q %q, listing %+v %v", h, b, l, err)
		}
		n := 0
		return tx.Summaries(0, func(s Summary, indexed bool) error {
			n++
			if !indexed || s.UID != uint64(n) || s.Size == 0 {
				t.Errorf("summary %+v indexed=%v", s, indexed)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPostingChunks(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "g")
	var ps []Posting
	for uid := uint64(1); uid <= 3000; uid++ {
		if _, err := db.CommitPost(Post{Group: "g", Raw: []byte("x"), Meta: PostMeta{MessageID: string(rune(uid))}}); err != nil {
			t.Fatal(err)
		}
		if uid%3 != 0 {
			ps = append(ps, Posting{uid, InBody})
		}
	}
	if err := db.PutTerms("g", 0, 1500, map[string][]Posting{"t": ps[:1000]}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutTerms("g", 1500, 3000, map[string][]Posting{"t": ps[1000:]}); err != nil {
		t.Fatal(err)
	}
	db.ReadArchive("g", func(tx *ArchiveTx) error {
		var got []Posting
		tx.Postings([]byte("t"), func(uid uint64, f Field) { got = append(got, Posting{uid, f}) })
		if !reflect.DeepEqual(got, ps) {
			t.Errorf("%d postings back of %d", len(got), len(ps))
		}
		return nil
	})
}

func TestFlags(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "g")
	db.CommitPost(samplePost("g", "a"))
	db.CommitPost(samplePost("g", "b"))
	if err := db.SetFlags("g", 7, map[uint64]Flags{1: {Seen: true, Keywords: []string{"$Label1", "work"}}, 2: {Flagged: true}}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetFlags("g", 7, map[uint64]Flags{2: {}}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetFlags("g", 7, map[uint64]Flags{9: {Seen: true}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("flags on a missing post: %v", err)
	}
	got, err := db.MemberFlags("g", 7)
	want := map[uint64]Flags{1: {Seen: true, Keywords: []string{"$Label1", "work"}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("MemberFlags: %+v %v", got, err)
	}
	if other, _ := db.MemberFlags("g", 8); len(other) != 0 {
		t.Fatalf("another member's flags: %v", other)
	}
}

func FuzzDecodeListing(f *testing.F) {
	f.Add(EncodeListing(&samplePost("g", "a").Index.Listing))
	l := Listing{Size: 10, Envelope: Envelope{Date: time.Date(2026, 3, 3, 9, 0, 0, 0, time.FixedZone("", -8*3600)), From: []Address{{"N", "m", "h"}}},
		Body: Part{Type: "multipart", Children: []Part{{Type: "message", Message: &Encapsulated{Body: Part{Type: "text"}}}}}}
	f.Add(EncodeListing(&l))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeListing(b)
		DecodeSummary(b)
		DecodeEnvelope(b)
		if err != nil {
			return
		}
		again, err := DecodeListing(EncodeListing(&l))
		if err != nil || !bytes.Equal(EncodeListing(&again), EncodeListing(&l)) {
			t.Fatalf("listing does not survive re-encoding: %v", err)
		}
	})
}
