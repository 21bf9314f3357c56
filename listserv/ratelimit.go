package listserv

import (
	"sync"
	"time"
)

// rateLimiter is a per-member sliding window of post times (SPEC §5). It
// lives in memory: a restart forgets it, which errs on the side of
// letting a member speak.
type rateLimiter struct {
	now func() time.Time
	mu  sync.Mutex
	hit map[rateKey][]time.Time
}

type rateKey struct {
	group  string
	member uint64
}

func newRateLimiter(now func() time.Time) *rateLimiter {
	return &rateLimiter{now: now, hit: make(map[rateKey][]time.Time)}
}

// allow records a post and reports whether it is within perHour posts in
// the last hour; perHour <= 0 means no limit.
func (r *rateLimiter) allow(group string, member uint64, perHour int) bool {
	if perHour <= 0 {
		return true
	}
	now := r.now()
	k := rateKey{group, member}
	r.mu.Lock()
	defer r.mu.Unlock()
	times := r.hit[k]
	cut := 0
	for cut < len(times) && now.Sub(times[cut]) >= time.Hour {
		cut++
	}
	times = times[cut:]
	if len(times) >= perHour {
		r.hit[k] = times
		return false
	}
	r.hit[k] = append(times, now)
	if len(r.hit) > 100000 {
		r.sweep(now)
	}
	return true
}

// undo forgets the last recorded post (it was not stored after all).
func (r *rateLimiter) undo(group string, member uint64) {
	k := rateKey{group, member}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.hit[k]; len(t) > 0 {
		r.hit[k] = t[:len(t)-1]
	}
}

// sweep drops members with no post in the last hour.
func (r *rateLimiter) sweep(now time.Time) {
	for k, t := range r.hit {
		if len(t) == 0 || now.Sub(t[len(t)-1]) >= time.Hour {
			delete(r.hit, k)
		}
	}
}
