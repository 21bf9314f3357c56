package listserv

import (
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newRateLimiter(func() time.Time { return now })
	var slots []time.Time
	for i := 0; i < 3; i++ {
		slot, ok := r.allow("g", 1, 3)
		if !ok {
			t.Fatalf("post %d refused", i)
		}
		slots = append(slots, slot)
		now = now.Add(time.Minute)
	}
	if _, ok := r.allow("g", 1, 3); ok {
		t.Fatal("fourth post in an hour allowed")
	}
	if _, ok := r.allow("g", 2, 3); !ok {
		t.Fatal("another member was limited")
	}
	if _, ok := r.allow("h", 1, 3); !ok {
		t.Fatal("the same member in another group was limited")
	}
	// Undoing the first post frees exactly one slot.
	r.undo("g", 1, slots[0])
	if _, ok := r.allow("g", 1, 3); !ok {
		t.Fatal("undo freed nothing")
	}
	if _, ok := r.allow("g", 1, 3); ok {
		t.Fatal("undo freed more than one slot")
	}
	// The window slides: an hour after the second post, one slot is free.
	now = slots[1].Add(time.Hour)
	if _, ok := r.allow("g", 1, 3); !ok {
		t.Fatal("window did not slide")
	}
	if _, ok := r.allow("g", 1, 0); !ok {
		t.Fatal("0 means no limit")
	}
}
