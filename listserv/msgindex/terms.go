package msgindex

import "listserv/mailstore"

// IndexTerms appends the term postings of up to max posts of group whose
// terms are not indexed yet, reading their stored text, in one commit. It
// returns how many posts it indexed (0 when the index is caught up, or
// when the next post has no text yet: it is indexed after its listing and
// text are). Concurrent calls are safe: the store refuses all but one.
func IndexTerms(db *mailstore.DB, group string, max int) (int, error) {
	var from, through uint64
	n := 0
	terms := map[string][]mailstore.Posting{}
	err := db.ReadArchive(group, func(tx *mailstore.ArchiveTx) error {
		from = tx.TermsThrough()
		through = from
		for uid := from + 1; uid <= tx.LastUID() && n < max; uid++ {
			if tx.Raw(uid) == nil {
				through = uid // a UID never used (or purged)
				continue
			}
			h, b := tx.Text(uid)
			if h == nil && b == nil {
				break
			}
			for t, f := range PostTerms(h, b) {
				terms[t] = append(terms[t], mailstore.Posting{UID: uid, Fields: f})
			}
			through = uid
			n++
		}
		return nil
	})
	if err != nil || through == from {
		return 0, err
	}
	return n, db.PutTerms(group, from, through, terms)
}
