package corpus

import (
	"runtime"
	"sync"
	"time"

	"listserv/mailstore"
)

// Fill archives posts 0..n-1 of g into group of db (which must exist), as
// the post path would: indexed by index (msgindex.Build), in one commit
// per post, many commits in flight so that the store groups them. It returns each post's number by
// UID. Posts are attributed to author id 0 and queue no delivery unless
// the group has members who receive mail.
func Fill(db *mailstore.DB, group string, g *Generator, n int, index func([]byte, time.Time) *mailstore.PostIndex) (map[uint64]int, error) {
	byUID := make(map[uint64]int, n)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	workers := 4 * runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := g.Post(i)
				c, err := db.CommitPost(mailstore.Post{
					Group: group,
					Raw:   p.Raw,
					Meta:  mailstore.PostMeta{MessageID: p.MessageID, Date: p.Date, Size: len(p.Raw), Subject: p.Subject},
					Index: index(p.Raw, p.Date),
				})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				byUID[c.UID] = i
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return byUID, firstErr
}
