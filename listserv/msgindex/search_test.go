package msgindex

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"listserv/internal/corpus"
	"listserv/mailstore"
)

// searchStore is a store with generated posts plus a few odd ones.
func searchStore(t *testing.T, n int) *mailstore.DB {
	t.Helper()
	db, err := mailstore.Open(t.TempDir(), mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateGroup(mailstore.Group{Name: "g"}); err != nil {
		t.Fatal(err)
	}
	if _, err := corpus.Fill(db, "g", corpus.New(corpus.Options{Seed: 11}), n, Build); err != nil {
		t.Fatal(err)
	}
	long := crlf("From: x@y.example\nSubject: long\n\nsee " + strings.Repeat("abcdefghij", 8) + "xyz end\n")
	for _, raw := range [][]byte{forwarded, long} {
		if _, err := db.CommitPost(mailstore.Post{Group: "g", Raw: raw, Meta: mailstore.PostMeta{MessageID: "x"}, Index: Build(raw, time.Unix(0, 0))}); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// naive answers q by reading every post's text: the definition that the
// index must reproduce.
func naive(t *testing.T, db *mailstore.DB, q Query) map[uint64]bool {
	out := map[uint64]bool{}
	v := Fold(q.Value)
	db.ReadArchive("g", func(tx *mailstore.ArchiveTx) error {
		for uid := uint64(1); uid <= tx.LastUID(); uid++ {
			h, b := tx.Text(uid)
			header, body := string(h), string(b)
			hit := false
			switch {
			case q.Fields == mailstore.InHeader|mailstore.InBody:
				hit = strings.Contains(header, v) || strings.Contains(body, v)
			case q.Fields == mailstore.InBody:
				hit = strings.Contains(body, v)
			default:
				name := q.Header
				if q.Fields == mailstore.InFrom {
					name = "from"
				} else if q.Fields == mailstore.InSubject {
					name = "subject"
				}
				for _, line := range strings.Split(header, "\n") {
					if val, ok := strings.CutPrefix(line, name+": "); ok && strings.Contains(val, v) {
						hit = true
					}
				}
			}
			if hit {
				out[uid] = true
			}
		}
		return nil
	})
	return out
}

// queries draws substrings of the posts' own texts, of every length, plus
// edge cases.
func queries(t *testing.T, db *mailstore.DB, n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	out := []string{"", " ", "e", "recovery+", "lists.example.org", "heron", "abcdefghijab", "jabcdefghijabcdefghijxyz", "caf\u00e9 and", "k\u00f6ln", "<", "quiet heron\""}
	db.ReadArchive("g", func(tx *mailstore.ArchiveTx) error {
		for len(out) < n {
			h, b := tx.Text(1 + r.Uint64N(tx.LastUID()))
			text := []rune(string(h) + string(b))
			if len(text) < 20 {
				continue
			}
			l := 1 + r.IntN(14)
			i := r.IntN(len(text) - l)
			q := string(text[i : i+l])
			if r.IntN(2) == 0 {
				q = strings.ToUpper(q)
			}
			if utf8.ValidString(q) {
				out = append(out, q)
			}
		}
		return nil
	})
	return out
}

func TestSearchMatchesDefinition(t *testing.T) {
	db := searchStore(t, 300)
	s := NewSearcher(db, "g")
	check := func(stage string) {
		for _, v := range queries(t, db, 150) {
			for _, q := range []Query{
				{Value: v, Fields: mailstore.InHeader | mailstore.InBody},
				{Value: v, Fields: mailstore.InBody},
				{Value: v, Fields: mailstore.InFrom},
				{Value: v, Fields: mailstore.InSubject},
				{Value: v, Fields: mailstore.InHeader, Header: "message-id"},
			} {
				got, err := s.Match(q)
				if err != nil {
					t.Fatal(err)
				}
				want := naive(t, db, q)
				n := 0
				got.Each(func(uid uint64) {
					n++
					if !want[uid] {
						t.Errorf("%s: %+v: UID %d found, does not match", stage, q, uid)
					}
				})
				if n != len(want) {
					t.Errorf("%s: %+v: %d found, want %d", stage, q, n, len(want))
				}
			}
		}
	}
	check("no term index")
	if _, err := IndexTerms(db, "g", 150); err != nil {
		t.Fatal(err)
	}
	check("half indexed")
	for {
		n, err := IndexTerms(db, "g", 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	check("fully indexed")
	var through, last uint64
	db.ReadArchive("g", func(tx *mailstore.ArchiveTx) error {
		through, last = tx.TermsThrough(), tx.LastUID()
		return nil
	})
	if through != last {
		t.Fatalf("terms indexed through %d of %d", through, last)
	}
}

// FuzzSearchQuery: any query string (clients send arbitrary bytes) gives
// exactly what reading every post's text gives, through the index and
// through the unindexed tail alike.
func FuzzSearchQuery(f *testing.F) {
	db, err := mailstore.Open(f.TempDir(), mailstore.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	db.CreateGroup(mailstore.Group{Name: "g"})
	if _, err := corpus.Fill(db, "g", corpus.New(corpus.Options{Seed: 12}), 40, Build); err != nil {
		f.Fatal(err)
	}
	db.CommitPost(mailstore.Post{Group: "g", Raw: forwarded, Meta: mailstore.PostMeta{MessageID: "f"}, Index: Build(forwarded, time.Unix(0, 0))})
	if _, err := IndexTerms(db, "g", 30); err != nil {
		f.Fatal(err)
	}
	s := NewSearcher(db, "g")
	for _, seed := range []string{"heron", "e", " the ", "café and", "recovery+", "köln", "\x00", "ǅ", ""} {
		f.Add(seed, uint8(0))
	}
	fields := []Query{
		{Fields: mailstore.InHeader | mailstore.InBody}, {Fields: mailstore.InBody},
		{Fields: mailstore.InFrom}, {Fields: mailstore.InSubject}, {Fields: mailstore.InHeader, Header: "message-id"},
	}
	f.Fuzz(func(t *testing.T, v string, which uint8) {
		q := fields[int(which)%len(fields)]
		q.Value = v
		got, err := s.Match(q)
		if err != nil {
			t.Fatal(err)
		}
		want := naive(t, db, q)
		n := 0
		got.Each(func(uid uint64) {
			n++
			if !want[uid] {
				t.Fatalf("%+v: UID %d found, does not match", q, uid)
			}
		})
		if n != len(want) {
			t.Fatalf("%+v: %d found, want %d", q, n, len(want))
		}
	})
}
