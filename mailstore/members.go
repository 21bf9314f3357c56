package mailstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// State is a membership's state.
type State string

// Membership states. Removed members keep their record (and so their
// alias, which their archived posts carry) but lose their address index.
const (
	Active    State = "active"
	NoMail    State = "nomail"
	Suspended State = "suspended"
	Pending   State = "pending"
	Removed   State = "removed"
)

// Member is one person's membership of one group.
type Member struct {
	ID    uint64 `json:"id"`
	Addr  string `json:"addr"`
	Name  string `json:"name,omitempty"` // display name, for scrubbing bodies
	Alias string `json:"alias"`          // "Quiet Heron"
	Slug  string `json:"slug"`           // "quiet-heron"
	State State  `json:"state"`
	Admin bool   `json:"admin,omitempty"`
	// NoSelf turns off the copy of one's own posts.
	NoSelf bool      `json:"no_self,omitempty"`
	Joined time.Time `json:"joined"`
	Posts  int       `json:"posts"`
	// Intro is a pending member's introduction for the admins.
	Intro string `json:"intro,omitempty"`
	// Decided records who approved or rejected a join request.
	Decided *Decision `json:"decided,omitempty"`
	// Bounce is the member's record of bounced deliveries (bounce.go);
	// absent from records of members who never bounced.
	Bounce BounceState `json:"bounce,omitzero"`
}

// Receives reports whether the member gets posts: active, and delivery
// not suspended for bounces.
func (m *Member) Receives() bool { return m.State == Active && !m.Bounce.Suspended }

// CanPost reports whether the member's posts are accepted (a member with
// nomail still posts).
func (m *Member) CanPost() bool { return m.State == Active || m.State == NoMail }

// NormAddr is the key an address is indexed under: the whole address
// lower-cased (local parts are case-insensitive in practice everywhere a
// support group's members have mailboxes).
func NormAddr(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

// AliasFunc draws a candidate alias (display name and slug). AddMember
// calls it until a slug is free in the group.
type AliasFunc func() (name, slug string, err error)

// AddMember adds addr to group with state st and a fresh alias. It fails
// with ErrExists if the address is already a (non-removed) member. With
// st Removed it records a former member (an imported post's author): the
// alias is reserved, the address not indexed, so it can join later.
func (db *DB) AddMember(group, addr string, st State, admin bool, alias AliasFunc) (Member, error) {
	return db.addMember(group, Member{Addr: strings.TrimSpace(addr), State: st, Admin: admin}, alias)
}

// AddPending adds a join request awaiting the admins, with the
// requester's introduction.
func (db *DB) AddPending(group, addr, intro string, alias AliasFunc) (Member, error) {
	return db.addMember(group, Member{Addr: strings.TrimSpace(addr), State: Pending, Intro: intro}, alias)
}

func (db *DB) addMember(group string, tmpl Member, alias AliasFunc) (Member, error) {
	var out Member
	addr := tmpl.Addr
	err := db.update(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		key := []byte(NormAddr(addr))
		if gb.Bucket(bAddr).Get(key) != nil {
			return fmt.Errorf("member: %w", ErrExists)
		}
		aliases := gb.Bucket(bAlias)
		m := tmpl
		m.Joined = time.Now().UTC()
		for try := 0; ; try++ {
			if try == 200 {
				return errors.New("no free alias left in this group")
			}
			name, slug, err := alias()
			if err != nil {
				return err
			}
			if aliases.Get([]byte(slug)) == nil {
				m.Alias, m.Slug = name, slug
				break
			}
		}
		db.forgetRoster(group)
		members := gb.Bucket(bMembers)
		if m.ID, err = members.NextSequence(); err != nil {
			return err
		}
		id := u64(m.ID)
		if m.State != Removed {
			if err := gb.Bucket(bAddr).Put(key, id); err != nil {
				return err
			}
		}
		if err := aliases.Put([]byte(m.Slug), id); err != nil {
			return err
		}
		out = m
		return putMember(members, &m)
	})
	return out, err
}

func putMember(members *bolt.Bucket, m *Member) error {
	val, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return members.Put(u64(m.ID), val)
}

// UpdateMember changes a member found by address.
func (db *DB) UpdateMember(group, addr string, change func(*Member) error) (Member, error) {
	var out Member
	err := db.update(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		m, err := memberByAddr(gb, addr)
		if err != nil {
			return err
		}
		db.forgetRoster(group)
		id, key := m.ID, m.Addr
		if err := change(&m); err != nil {
			return err
		}
		m.ID, m.Addr = id, key
		if m.State == Removed {
			if err := gb.Bucket(bAddr).Delete([]byte(NormAddr(key))); err != nil {
				return err
			}
		}
		out = m
		return putMember(gb.Bucket(bMembers), &m)
	})
	return out, err
}

// RemoveMember marks the member removed and frees the address; the alias
// stays reserved for their archived posts.
func (db *DB) RemoveMember(group, addr string) (Member, error) {
	return db.UpdateMember(group, addr, func(m *Member) error {
		m.State = Removed
		return nil
	})
}

// MemberByAddr finds a current (non-removed) member by address.
func (db *DB) MemberByAddr(group, addr string) (Member, error) {
	var m Member
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		m, err = memberByAddr(gb, addr)
		return err
	})
	return m, err
}

// MemberBySlug finds a member (removed ones included) by alias slug.
func (db *DB) MemberBySlug(group, slug string) (Member, error) {
	var m Member
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		id := gb.Bucket(bAlias).Get([]byte(strings.ToLower(slug)))
		if id == nil {
			return fmt.Errorf("alias %q: %w", slug, ErrNotFound)
		}
		m, err = memberByID(gb, id)
		return err
	})
	return m, err
}

// Members lists a group's members in joining order, removed ones
// included (callers filter).
func (db *DB) Members(group string) ([]Member, error) {
	var out []Member
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		return gb.Bucket(bMembers).ForEach(func(k, v []byte) error {
			var m Member
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

func memberByAddr(gb *bolt.Bucket, addr string) (Member, error) {
	id := gb.Bucket(bAddr).Get([]byte(NormAddr(addr)))
	if id == nil {
		return Member{}, fmt.Errorf("member: %w", ErrNotFound)
	}
	return memberByID(gb, id)
}

func memberByID(gb *bolt.Bucket, id []byte) (Member, error) {
	var m Member
	v := gb.Bucket(bMembers).Get(id)
	if v == nil {
		return m, fmt.Errorf("member %d: %w", be.Uint64(id), ErrNotFound)
	}
	err := json.Unmarshal(v, &m)
	return m, err
}

// MemberByID finds a member (removed ones included) by id.
func (db *DB) MemberByID(group string, id uint64) (Member, error) {
	var m Member
	err := db.bolt.View(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		m, err = memberByID(gb, u64(id))
		return err
	})
	return m, err
}

// DecideMember settles a pending join request: approve makes the member
// active, reject removes them (freeing the address). If the request was
// already decided it returns the member with taken = true and changes
// nothing.
func (db *DB) DecideMember(group string, id uint64, d Decision, approve bool) (m Member, taken bool, err error) {
	err = db.update(func(tx *bolt.Tx) error {
		taken = false
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		if m, err = memberByID(gb, u64(id)); err != nil {
			return err
		}
		if m.State != Pending || m.Decided != nil {
			taken = true
			return nil
		}
		db.forgetRoster(group)
		dec := d
		m.Decided = &dec
		m.Intro = ""
		if approve {
			m.State = Active
			m.Joined = d.At
		} else {
			m.State = Removed
			if err := gb.Bucket(bAddr).Delete([]byte(NormAddr(m.Addr))); err != nil {
				return err
			}
		}
		return putMember(gb.Bucket(bMembers), &m)
	})
	return m, taken, err
}

// SetAlias gives member id a new alias. The old slug stays reserved and
// keeps pointing at them; a slug another member holds (or held) gives
// ErrExists.
func (db *DB) SetAlias(group string, id uint64, name, slug string) error {
	return db.update(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		m, err := memberByID(gb, u64(id))
		if err != nil {
			return err
		}
		aliases := gb.Bucket(bAlias)
		if owner := aliases.Get([]byte(slug)); owner != nil && be.Uint64(owner) != id {
			return fmt.Errorf("alias: %w", ErrExists)
		}
		if err := aliases.Put([]byte(slug), u64(id)); err != nil {
			return err
		}
		db.forgetRoster(group)
		m.Alias, m.Slug = name, slug
		return putMember(gb.Bucket(bMembers), &m)
	})
}
