package msgindex

import "math/bits"

// UIDs is a set of archive UIDs (a bitmap indexed by UID).
type UIDs []uint64

// NewUIDs returns an empty set that can hold UIDs up to max.
func NewUIDs(max uint64) UIDs { return make(UIDs, max/64+1) }

// FillTo adds every UID from 1 through last (within the set's capacity).
func (u UIDs) FillTo(last uint64) {
	for i := range u {
		switch lo := uint64(i) * 64; {
		case lo+63 <= last:
			u[i] = ^uint64(0)
		case lo <= last:
			u[i] = 1<<(last-lo+1) - 1
		}
	}
	if len(u) > 0 {
		u[0] &^= 1 // there is no UID 0
	}
}

// Add adds uid (ignored beyond the set's capacity).
func (u UIDs) Add(uid uint64) {
	if i := uid / 64; i < uint64(len(u)) {
		u[i] |= 1 << (uid % 64)
	}
}

// Has reports whether uid is in the set.
func (u UIDs) Has(uid uint64) bool {
	i := uid / 64
	return i < uint64(len(u)) && u[i]&(1<<(uid%64)) != 0
}

// And keeps the UIDs that are also in o.
func (u UIDs) And(o UIDs) {
	for i := range u {
		if i < len(o) {
			u[i] &= o[i]
		} else {
			u[i] = 0
		}
	}
}

// Or adds the UIDs of o (up to u's capacity).
func (u UIDs) Or(o UIDs) {
	for i := range u {
		if i < len(o) {
			u[i] |= o[i]
		}
	}
}

// AndNot removes the UIDs of o.
func (u UIDs) AndNot(o UIDs) {
	for i := range u {
		if i < len(o) {
			u[i] &^= o[i]
		}
	}
}

// Len counts the UIDs in the set.
func (u UIDs) Len() int {
	n := 0
	for _, w := range u {
		n += bits.OnesCount64(w)
	}
	return n
}

// Each calls fn for every UID in increasing order.
func (u UIDs) Each(fn func(uid uint64)) {
	for i, w := range u {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			fn(uint64(i)*64 + uint64(b))
			w &= w - 1
		}
	}
}
