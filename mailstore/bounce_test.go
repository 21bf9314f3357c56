package mailstore

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A member suspended for bounces leaves the roster at once and comes
// back when the suspension ends; the record stays JSON-compatible both
// ways.
func TestBounceSuspensionAndRoster(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "g")
	alias := seqAlias()
	a, _ := db.AddMember("g", "a@example.org", Active, false, alias)
	b, _ := db.AddMember("g", "b@example.org", Active, false, alias)
	queuedFor := func() map[uint64]bool {
		t.Helper()
		if _, err := db.CommitPost(post("g", a.ID, "")); err != nil {
			t.Fatal(err)
		}
		jobs, _, err := db.DueJobs(time.Now().Add(time.Hour), 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint64]bool{}
		var rs []Result
		for _, j := range jobs {
			got[j.MemberID] = true
			rs = append(rs, Result{Job: j, Outcome: Delivered})
		}
		if err := db.Finish(rs); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := queuedFor(); !got[a.ID] || !got[b.ID] {
		t.Fatalf("before: queued for %v", got)
	}
	m, err := db.UpdateMemberByID("g", b.ID, func(m *Member) error {
		m.Bounce.Suspended, m.Bounce.Score = true, 5
		m.State = Removed // refused: the address index is not UpdateMemberByID's
		return nil
	})
	if err != nil || m.State != Active || !m.Bounce.Suspended || m.ListState() != "suspended" {
		t.Fatalf("UpdateMemberByID: %+v, %v", m, err)
	}
	if got := queuedFor(); !got[a.ID] || got[b.ID] {
		t.Fatalf("suspended: queued for %v", got)
	}
	db.UpdateMemberByID("g", b.ID, func(m *Member) error { m.Bounce = BounceState{}; return nil })
	if got := queuedFor(); !got[b.ID] {
		t.Fatalf("reactivated: queued for %v", got)
	}

	// Never bounced: no "bounce" key written; an old record (without
	// one) reads as never bounced.
	raw, _ := json.Marshal(Member{ID: 1, Addr: "x@example.org", State: Active})
	if strings.Contains(string(raw), "bounce") {
		t.Fatalf("zero bounce state written: %s", raw)
	}
	var old Member
	if err := json.Unmarshal([]byte(`{"id":1,"addr":"x@example.org","alias":"X","slug":"x","state":"active","joined":"2025-01-01T00:00:00Z","posts":3}`), &old); err != nil {
		t.Fatal(err)
	}
	if !old.Receives() || old.Bounce.Suspended || old.Bounce.Score != 0 {
		t.Fatalf("old record: %+v", old)
	}
}

// EnqueueProbe queues the probe and records its job in one commit, and
// queues nothing when due says no.
func TestEnqueueProbe(t *testing.T) {
	db, _ := openTest(t)
	mustGroup(t, db, "g")
	m, _ := db.AddMember("g", "a@example.org", Active, false, seqAlias())
	no := func(*Member) bool { return false }
	if _, err := db.EnqueueProbe("g", m.ID, []byte("Subject: probe\r\n\r\nx\r\n"), no); err == nil {
		t.Fatal("probe queued although not due")
	}
	got, err := db.EnqueueProbe("g", m.ID, []byte("Subject: probe\r\n\r\nx\r\n"), func(*Member) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	jobs, _, _ := db.DueJobs(time.Now().Add(time.Hour), 10, nil)
	if len(jobs) != 1 || jobs[0].ID != got.Bounce.ProbeJob || got.Bounce.Probes != 1 || jobs[0].MemberID != m.ID || jobs[0].Rcpt != "a@example.org" {
		t.Fatalf("jobs %+v, member %+v", jobs, got.Bounce)
	}
	var stored Member
	db.bolt.View(func(tx *bolt.Tx) error {
		gb, _ := groupBucket(tx, "g")
		stored, _ = memberByID(gb, u64(m.ID))
		return nil
	})
	if stored.Bounce.ProbeJob != jobs[0].ID {
		t.Fatalf("stored probe job %d, want %d", stored.Bounce.ProbeJob, jobs[0].ID)
	}
}
