package imapview

import (
	"sort"

	"github.com/emersion/go-imap/v2"

	"listserv/mailstore"
)

// resolve returns the 0-based positions, ascending and without
// duplicates, of the messages that numSet names in a client's view sums
// (its first n posts). Sequence numbers beyond the view are ignored; "*"
// is the last message, and a UID range "n:*" always includes the last
// UID (RFC 3501 §6.4.8).
func resolve(sums []mailstore.Summary, numSet imap.NumSet) ([]int, error) {
	if imap.IsSearchRes(numSet) {
		return nil, badCommand("$ (SEARCHRES) is not supported")
	}
	n := len(sums)
	if n == 0 {
		return nil, nil
	}
	// Each range gives a run of positions [lo, hi).
	var runs [][2]int
	switch set := numSet.(type) {
	case imap.SeqSet:
		for _, r := range set {
			lo, hi := bounds(r.Start, r.Stop, uint32(n))
			if int(lo) <= n {
				runs = append(runs, [2]int{int(lo) - 1, min(int(hi), n)})
			}
		}
	case imap.UIDSet:
		last := uint32(sums[n-1].UID)
		for _, r := range set {
			lo, hi := bounds(uint32(r.Start), uint32(r.Stop), last)
			i := sort.Search(n, func(i int) bool { return sums[i].UID >= uint64(lo) })
			j := sort.Search(n, func(i int) bool { return sums[i].UID > uint64(hi) })
			if i < j {
				runs = append(runs, [2]int{i, j})
			}
		}
	default:
		return nil, badCommand("Unknown message set")
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i][0] < runs[j][0] })
	var out []int
	next := 0 // positions below next are out already
	for _, r := range runs {
		for p := max(r[0], next); p < r[1]; p++ {
			out = append(out, p)
		}
		next = max(next, r[1])
	}
	return out, nil
}

// bounds turns a range (0 meaning "*") into an ordered pair.
func bounds(start, stop, star uint32) (lo, hi uint32) {
	if start == 0 {
		start = star
	}
	if stop == 0 {
		stop = star
	}
	if start > stop {
		start, stop = stop, start
	}
	return max(start, 1), stop
}

// position finds uid in sums.
func position(sums []mailstore.Summary, uid uint64) (int, bool) {
	i := sort.Search(len(sums), func(i int) bool { return sums[i].UID >= uid })
	return i, i < len(sums) && sums[i].UID == uid
}
