package mailstore

import (
	"encoding/json"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// The roster cache: a post is queued for every receiving member, and
// decoding every member record for every post was the largest cost of
// committing a post to a big group. The receivers are cached per group,
// built inside a write transaction (so from the current state), dropped
// by every method that writes a member record of the group, and dropped
// whole when a write transaction fails (its view was rolled back).

type rosterEntry struct {
	id     uint64
	addr   string
	noSelf bool
}

type rosterCache struct {
	mu     sync.Mutex
	groups map[string][]rosterEntry
}

// roster returns group's receiving members, from the cache or built from
// gb inside a write transaction.
func (db *DB) roster(gb *bolt.Bucket, group string) []rosterEntry {
	db.rosters.mu.Lock()
	r, ok := db.rosters.groups[group]
	db.rosters.mu.Unlock()
	if ok {
		return r
	}
	r = []rosterEntry{}
	gb.Bucket(bMembers).ForEach(func(k, v []byte) error {
		var m Member
		if json.Unmarshal(v, &m) == nil && m.Receives() {
			r = append(r, rosterEntry{id: m.ID, addr: m.Addr, noSelf: m.NoSelf})
		}
		return nil
	})
	db.rosters.mu.Lock()
	if db.rosters.groups == nil {
		db.rosters.groups = map[string][]rosterEntry{}
	}
	db.rosters.groups[group] = r
	db.rosters.mu.Unlock()
	return r
}

// forgetRoster drops one group's cached roster; "" drops them all.
func (db *DB) forgetRoster(group string) {
	db.rosters.mu.Lock()
	if group == "" {
		db.rosters.groups = nil
	} else {
		delete(db.rosters.groups, group)
	}
	db.rosters.mu.Unlock()
}
