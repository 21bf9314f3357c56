package listserv

import (
	"strings"
	"sync"
	"time"
)

// RepliesPerDay caps the automated replies (confirmations, command
// results, notes) one address gets in a day: a vacation responder that
// answers every reply must not start an endless loop, and nobody can use
// the service to flood a stranger's mailbox.
const RepliesPerDay = 10

// replyLimiter counts automated replies per address in a sliding day. It
// lives in memory: a restart resets it.
type replyLimiter struct {
	now func() time.Time
	max int
	mu  sync.Mutex
	log map[string][]time.Time
}

func newReplyLimiter(now func() time.Time, max int) *replyLimiter {
	return &replyLimiter{now: now, max: max, log: make(map[string][]time.Time)}
}

// allow records a reply to addr and reports whether it is within the cap.
func (r *replyLimiter) allow(addr string) bool {
	addr = strings.ToLower(addr)
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.log[addr]
	for len(t) > 0 && now.Sub(t[0]) >= 24*time.Hour {
		t = t[1:]
	}
	if len(t) >= r.max {
		r.log[addr] = t
		return false
	}
	r.log[addr] = append(t, now)
	if len(r.log) > 100000 {
		for k, v := range r.log {
			if len(v) == 0 || now.Sub(v[len(v)-1]) >= 24*time.Hour {
				delete(r.log, k)
			}
		}
	}
	return true
}
