package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"listserv/internal/corpus"
	"listserv/listserv"
	"listserv/listserv/msgindex"
	"listserv/mailstore"
)

const (
	group  = "recovery"
	domain = "lists.example.org"
	reader = "reader@example.org"
)

// archive is the generated archive, in both servers' forms.
type archive struct {
	n        int
	bytes    int64
	dataDir  string // listserv's
	maildir  string // Dovecot's
	pass     string // the reader's password on both
	word     string // a word for SEARCH TEXT
	from     string // an author's address for SEARCH FROM
	messages [][]byte
}

// prepare generates n posts into a listserv data directory (through the
// store, indexed as the post path does) and a Maildir with the same bytes.
func prepare(work string, n int) (*archive, error) {
	a := &archive{n: n, dataDir: filepath.Join(work, "listserv-data"), maildir: filepath.Join(work, "dovecot", "Maildir")}
	db, err := mailstore.Open(a.dataDir, mailstore.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	svc, err := listserv.New(listserv.Options{Store: db, Domain: domain, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if _, err := svc.CreateGroup(ctx, listserv.GroupSpec{Name: group}); err != nil {
		return nil, err
	}
	if _, err := svc.AddMember(ctx, group, reader, false); err != nil {
		return nil, err
	}
	if _, err := db.UpdateMember(group, reader, func(m *mailstore.Member) error { m.State = mailstore.NoMail; return nil }); err != nil {
		return nil, err
	}
	if a.pass, err = svc.ResetPassword(reader); err != nil {
		return nil, err
	}
	gen := corpus.New(corpus.Options{Seed: 1, Group: group, Domain: domain})
	byUID, err := corpus.Fill(db, group, gen, n, msgindex.Build)
	if err != nil {
		return nil, err
	}
	for {
		k, err := msgindex.IndexTerms(db, group, 1000)
		if err != nil {
			return nil, err
		}
		if k == 0 {
			break
		}
	}
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(a.maildir, d), 0o755); err != nil {
			return nil, err
		}
	}
	for uid := uint64(1); uid <= uint64(n); uid++ {
		raw, _, err := db.ArchivedPost(group, uid)
		if err != nil {
			return nil, err
		}
		a.bytes += int64(len(raw))
		a.messages = append(a.messages, raw)
		name := filepath.Join(a.maildir, "cur", fmt.Sprintf("%010d.bench:2,", uid))
		if err := os.WriteFile(name, raw, 0o644); err != nil {
			return nil, err
		}
	}
	a.word = longWord(gen.Post(byUID[5]).Text)
	a.from = group + "+" + gen.Post(7).Slug + "@" + domain
	return a, nil
}

// longWord returns the first word of 8 letters or more.
func longWord(text string) string {
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if len(w) >= 8 {
			return w
		}
	}
	return "the"
}
