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
// the last hour; perHour <= 0 means no limit. The time it returns names
// the recorded post for undo.
func (r *rateLimiter) allow(group string, member uint64, perHour int) (time.Time, bool) {
	if perHour <= 0 {
		return time.Time{}, true
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
		return time.Time{}, false
	}
	r.hit[k] = append(times, now)
	if len(r.hit) > 100000 {
		r.sweep(now)
	}
	return now, true
}

// undo forgets the post allow recorded at t (it was not stored after all).
func (r *rateLimiter) undo(group string, member uint64, t time.Time) {
	if t.IsZero() {
		return
	}
	k := rateKey{group, member}
	r.mu.Lock()
	defer r.mu.Unlock()
	times := r.hit[k]
	for i := len(times) - 1; i >= 0; i-- {
		if times[i].Equal(t) {
			r.hit[k] = append(times[:i], times[i+1:]...)
			return
		}
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
