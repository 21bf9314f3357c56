package loginlimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := New(2, time.Second, 3*time.Second)
	l.now = func() time.Time { return now }
	a, ip := l.Key("addr", "a@example.org"), l.Key("ip", "192.0.2.1")
	if a == l.Key("ip", "a@example.org") {
		t.Fatal("keys of different kinds collide")
	}
	for i := 0; i < 2; i++ {
		if wait, ok := l.Turn(a, ip); !ok || wait != 0 {
			t.Fatalf("attempt %d: wait %v ok %v, want an immediate turn", i+1, wait, ok)
		}
		l.Failed(a, ip)
	}
	// Past max failures the turns are a delay apart, up to maxWait.
	for i, want := range []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second} {
		if wait, ok := l.Turn(a); !ok || wait != want {
			t.Fatalf("slowed turn %d: wait %v ok %v, want %v", i+1, wait, ok, want)
		}
	}
	if _, ok := l.Turn(a); ok {
		t.Fatal("a turn past maxWait was given")
	}
	// Another key is not slowed; a success forgets the address.
	if wait, ok := l.Turn(l.Key("addr", "b@example.org")); !ok || wait != 0 {
		t.Fatalf("other key: wait %v ok %v", wait, ok)
	}
	l.Succeeded(a)
	if wait, ok := l.Turn(a); !ok || wait != 0 {
		t.Fatalf("after success: wait %v ok %v", wait, ok)
	}
	// A minute later the IP's failures are forgotten too.
	now = now.Add(2 * time.Minute)
	if wait, ok := l.Turn(ip); !ok || wait != 0 {
		t.Fatalf("a minute later: wait %v ok %v", wait, ok)
	}
}
