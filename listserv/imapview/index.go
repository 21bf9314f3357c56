package imapview

import (
	"errors"

	"listserv/listserv/msgindex"
	"listserv/mailstore"
)

// termBatch is how many posts one term-index commit covers at most.
const termBatch = 1000

// indexAll runs once at start, in the background: posts archived without
// a listing (by an older version, or approved from the held queue) get
// one, and every group's term index catches up, so that the first search
// of a group reads the index rather than every post.
func (s *Server) indexAll() {
	groups, err := s.db.Groups()
	if err != nil {
		s.log.Error("imap: listing groups failed", "err", err)
		return
	}
	for _, g := range groups {
		uids, err := s.db.Unindexed(g.Name, 0)
		if err == nil && len(uids) > 0 {
			err = s.backfill(g.Name, uids)
		}
		if err != nil {
			s.log.Error("imap: indexing archived posts failed", "group", g.Name, "err", err)
			continue
		}
		s.indexTerms(g.Name)
	}
}

// backfill gives posts archived without an index their listing and
// searchable text.
func (s *Server) backfill(group string, uids []uint64) error {
	for _, uid := range uids {
		select {
		case <-s.done:
			return errors.New("imapview: server closed")
		default:
		}
		raw, meta, err := s.db.ArchivedPost(group, uid)
		if errors.Is(err, mailstore.ErrNotFound) {
			continue // removed meanwhile (erasure, retention)
		}
		if err != nil {
			return err
		}
		if err := s.db.PutIndex(group, uid, msgindex.Build(raw, meta.Date)); err != nil && !errors.Is(err, mailstore.ErrNotFound) {
			return err
		}
	}
	s.log.Info("imap: indexed archived posts", "group", group, "posts", len(uids))
	return nil
}

// indexTerms brings group's term index up to its last indexed post, many
// posts per commit (see mailstore.PutTerms).
func (s *Server) indexTerms(group string) {
	for {
		select {
		case <-s.done:
			return
		default:
		}
		n, err := msgindex.IndexTerms(s.db, group, termBatch)
		if errors.Is(err, mailstore.ErrExists) {
			continue // another indexer moved on: start from where it is
		}
		if err != nil {
			s.log.Error("imap: indexing terms failed", "group", group, "err", err)
			return
		}
		if n == 0 {
			return
		}
	}
}
