// Package loginlimit slows password guessing (SPEC §10) for the IMAP
// archive and the submission port: a Limiter counts failed logins per key
// (an address, a client IP) over a sliding minute, and once a key has
// failed max times, its further attempts take turns a delay apart. It
// keeps no address or IP, only their keyed hashes.
package loginlimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// Limiter counts failed logins per key over a sliding minute; once a key
// has failed max times, its further attempts take turns delay apart. It
// forgets keys that have been quiet for a minute. It is safe for
// concurrent use.
type Limiter struct {
	max     int
	delay   time.Duration
	maxWait time.Duration
	window  time.Duration
	now     func() time.Time
	seed    maphash.Seed

	mu   sync.Mutex
	keys map[uint64]*attempts
}

type attempts struct {
	fails []time.Time // within the window, oldest first
	next  time.Time   // the next free turn of a slowed key
}

// New returns a Limiter: max failures a minute per key before attempts
// are slowed (0 means 10), delay between slowed attempts (0 means 2 s),
// and the longest wait before an attempt is refused outright (0 means
// 30 s).
func New(max int, delay, maxWait time.Duration) *Limiter {
	if max <= 0 {
		max = 10
	}
	if delay <= 0 {
		delay = 2 * time.Second
	}
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	return &Limiter{max: max, delay: delay, maxWait: maxWait, window: time.Minute,
		now: time.Now, seed: maphash.MakeSeed(), keys: map[uint64]*attempts{}}
}

// Key hashes an address or IP under a kind prefix ("addr", "ip").
func (l *Limiter) Key(kind, v string) uint64 { return maphash.String(l.seed, kind+"\x00"+v) }

func (l *Limiter) get(k uint64, now time.Time) *attempts {
	a := l.keys[k]
	if a == nil {
		a = &attempts{}
		l.keys[k] = a
	}
	cut := 0
	for cut < len(a.fails) && now.Sub(a.fails[cut]) > l.window {
		cut++
	}
	a.fails = a.fails[cut:]
	return a
}

// Turn reserves an attempt for keys: how long to wait before checking the
// password, or false when the wait would be too long.
func (l *Limiter) Turn(keys ...uint64) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	var slowed []*attempts
	for _, k := range keys {
		a := l.get(k, now)
		if len(a.fails) < l.max {
			continue
		}
		slowed = append(slowed, a)
		if d := a.next.Sub(now); d > wait {
			wait = d
		}
	}
	if wait > l.maxWait {
		return 0, false
	}
	for _, a := range slowed {
		a.next = now.Add(wait + l.delay)
	}
	return wait, true
}

// Failed records a failed attempt for keys.
func (l *Limiter) Failed(keys ...uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		a := l.get(k, now)
		if len(a.fails) >= 4*l.max {
			a.fails = a.fails[1:]
		}
		a.fails = append(a.fails, now)
	}
	if len(l.keys) > 10000 {
		l.sweep(now)
	}
}

// Succeeded forgets the failures of key (an address that logged in).
func (l *Limiter) Succeeded(key uint64) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

func (l *Limiter) sweep(now time.Time) {
	for k, a := range l.keys {
		if (len(a.fails) == 0 || now.Sub(a.fails[len(a.fails)-1]) > l.window) && now.After(a.next) {
			delete(l.keys, k)
		}
	}
}
