package listserv

import (
	"listserv/listserv/msgindex"
	"listserv/mailstore"
)

// indexed returns p with its archive index (listserv/msgindex): the
// listing and search text that the IMAP view reads, computed here on the
// posting goroutine and stored by the same commit as the post. A post
// committed without one (an approved held post) is indexed by the IMAP
// view when it first sees it.
func indexed(p mailstore.Post) mailstore.Post {
	p.Index = msgindex.Build(p.Raw, p.Meta.Date)
	return p
}
