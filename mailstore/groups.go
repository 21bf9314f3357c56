package mailstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"time"

	bolt "go.etcd.io/bbolt"
)

var be = binary.BigEndian

// Group is a discussion group and its settings. The service validates
// settings; the store keeps what it is given.
type Group struct {
	Name        string    `json:"name"`
	Created     time.Time `json:"created"`
	UIDValidity uint32    `json:"uidvalidity"`
	// JoinPolicy is "open" or "approve".
	JoinPolicy string `json:"join_policy"`
	// PostPolicy is "members", "moderated", "first-post" or "announce".
	PostPolicy string `json:"post_policy"`
	// FirstPostsHeld is N for the first-post policy.
	FirstPostsHeld int `json:"first_posts_held"`
	// PostsPerHour is each member's posting limit in the group.
	PostsPerHour int `json:"posts_per_hour"`
	// ArchiveDays purges older posts; 0 keeps them forever.
	ArchiveDays int `json:"archive_days"`
	// HoldDays is how long a held post waits before it expires.
	HoldDays    int    `json:"hold_days"`
	Description string `json:"description,omitempty"`
}

// CreateGroup stores a new group; ErrExists if the name is taken.
func (db *DB) CreateGroup(g Group) error {
	if g.Created.IsZero() {
		g.Created = time.Now().UTC()
	}
	if g.UIDValidity == 0 {
		g.UIDValidity = uint32(g.Created.Unix()) ^ mrand.Uint32()&0xffff
		if g.UIDValidity == 0 {
			g.UIDValidity = 1
		}
	}
	val, err := json.Marshal(g)
	if err != nil {
		return err
	}
	return db.update(func(tx *bolt.Tx) error {
		groups := tx.Bucket(bGroups)
		if groups.Get([]byte(g.Name)) != nil {
			return fmt.Errorf("group %q: %w", g.Name, ErrExists)
		}
		gb, err := tx.Bucket(bGData).CreateBucket([]byte(g.Name))
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bMembers, bAddr, bAlias, bArchive, bArchMeta, bMsgID, bOurs} {
			if _, err := gb.CreateBucket(name); err != nil {
				return err
			}
		}
		return groups.Put([]byte(g.Name), val)
	})
}

// UpdateGroup replaces a group's settings (not its name, creation time or
// UIDVALIDITY, which never change).
func (db *DB) UpdateGroup(name string, change func(*Group) error) (Group, error) {
	var out Group
	err := db.update(func(tx *bolt.Tx) error {
		g, err := getGroup(tx, name)
		if err != nil {
			return err
		}
		fixed := g
		if err := change(&g); err != nil {
			return err
		}
		g.Name, g.Created, g.UIDValidity = fixed.Name, fixed.Created, fixed.UIDValidity
		val, err := json.Marshal(g)
		if err != nil {
			return err
		}
		out = g
		return tx.Bucket(bGroups).Put([]byte(name), val)
	})
	return out, err
}

// Group returns one group's settings.
func (db *DB) Group(name string) (Group, error) {
	var g Group
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		g, err = getGroup(tx, name)
		return err
	})
	return g, err
}

// Groups lists every group in name order.
func (db *DB) Groups() ([]Group, error) {
	var out []Group
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bGroups).ForEach(func(k, v []byte) error {
			var g Group
			if err := json.Unmarshal(v, &g); err != nil {
				return fmt.Errorf("group %q: %w", k, err)
			}
			out = append(out, g)
			return nil
		})
	})
	return out, err
}

func getGroup(tx *bolt.Tx, name string) (Group, error) {
	var g Group
	v := tx.Bucket(bGroups).Get([]byte(name))
	if v == nil {
		return g, fmt.Errorf("group %q: %w", name, ErrNotFound)
	}
	err := json.Unmarshal(v, &g)
	return g, err
}

// groupBucket returns a group's bucket, or ErrNotFound.
func groupBucket(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	gb := tx.Bucket(bGData).Bucket([]byte(name))
	if gb == nil {
		return nil, fmt.Errorf("group %q: %w", name, ErrNotFound)
	}
	return gb, nil
}
