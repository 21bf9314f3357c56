package mailstore

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BounceState is what the store keeps about a member's bounced
// deliveries. The rules (what a bounce scores, when delivery is
// suspended, when a probe goes out) are listserv's (listserv/bounce.go);
// the store only keeps the record and makes Receives false while
// Suspended, which takes the member out of the roster of new posts.
//
// The zero value means "never bounced" and is not written (omitzero), so
// member records written before bounce processing existed read as such.
type BounceState struct {
	// Score is the sum of the bounces counted since the last reset.
	Score float64 `json:"score,omitzero"`
	// Last is when the last counted bounce arrived.
	Last time.Time `json:"last,omitzero"`
	// Jobs are the delivery jobs whose bounces were counted, the latest
	// last (a few only), so that two reports about one delivery count
	// once.
	Jobs []uint64 `json:"jobs,omitempty"`
	// Suspended stops deliveries of posts to the member.
	Suspended bool `json:"suspended,omitzero"`
	// Since is when delivery was suspended, or when the last probe
	// failed: the next probe is due a reset period after it.
	Since time.Time `json:"since,omitzero"`
	// Reason is the status code of the bounce that suspended delivery
	// ("5.1.1").
	Reason string `json:"reason,omitempty"`
	// ProbeJob is the delivery job of the last probe sent (0: none
	// outstanding); Probes counts the probes sent since the member last
	// wrote to the group or was reactivated by an admin.
	ProbeJob uint64 `json:"probe_job,omitzero"`
	Probes   int    `json:"probes,omitzero"`
}

// ListState is the state `member list` shows: the membership state, or
// "suspended" while delivery is suspended for bounces.
func (m *Member) ListState() string {
	if m.Bounce.Suspended && (m.State == Active || m.State == NoMail) {
		return string(Suspended)
	}
	return string(m.State)
}

// UpdateMemberByID changes a current or former member found by id. change
// may not remove the member (use RemoveMember): the address index is not
// touched. change may run more than once and must have no side effects.
func (db *DB) UpdateMemberByID(group string, id uint64, change func(*Member) error) (Member, error) {
	var out Member
	err := db.update(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		m, err := memberByID(gb, u64(id))
		if err != nil {
			return err
		}
		db.forgetRoster(group)
		st, addr := m.State, m.Addr
		if err := change(&m); err != nil {
			return err
		}
		m.ID, m.Addr = id, addr
		if st == Removed || m.State == Removed {
			m.State = st
		}
		out = m
		return putMember(gb.Bucket(bMembers), &m)
	})
	return out, err
}

// EnqueueProbe queues raw for member id alone and, in the same commit,
// records the delivery job in the member's BounceState (ProbeJob, and one
// more in Probes), so that the job's outcome can never be reported before
// the member's record names it. due is asked about the member's current
// record: when it says no (or the member is no longer current), nothing
// is queued and the error is ErrNotFound.
func (db *DB) EnqueueProbe(group string, id uint64, raw []byte, due func(*Member) bool) (Member, error) {
	var out Member
	err := db.update(func(tx *bolt.Tx) error {
		gb, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		m, err := memberByID(gb, u64(id))
		if err != nil {
			return err
		}
		if m.State == Removed || m.State == Pending || !due(&m) {
			return fmt.Errorf("probe for member %d: %w", id, ErrNotFound)
		}
		jobs, err := spool(tx, group, raw, []Recipient{{MemberID: m.ID, Addr: m.Addr}}, time.Now())
		if err != nil {
			return err
		}
		m.Bounce.ProbeJob = jobs[0]
		m.Bounce.Probes++
		db.forgetRoster(group)
		out = m
		return putMember(gb.Bucket(bMembers), &m)
	})
	return out, err
}
