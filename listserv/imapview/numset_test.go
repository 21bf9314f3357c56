package imapview

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"

	"listserv/mailstore"
)

func TestResolve(t *testing.T) {
	// Five posts with UIDs 2, 3, 5, 8, 9.
	var sums []mailstore.Summary
	for _, uid := range []uint64{2, 3, 5, 8, 9} {
		sums = append(sums, mailstore.Summary{UID: uid})
	}
	for _, tc := range []struct {
		set  imap.NumSet
		want string
	}{
		{imap.SeqSet{{Start: 1, Stop: 0}}, "[0 1 2 3 4]"},                      // 1:*
		{imap.SeqSet{{Start: 0, Stop: 0}}, "[4]"},                              // *
		{imap.SeqSet{{Start: 4, Stop: 2}, {Start: 3, Stop: 3}}, "[1 2 3]"},     // 4:2,3
		{imap.SeqSet{{Start: 6, Stop: 9}}, "[]"},                               // beyond the view
		{imap.SeqSet{{Start: 5, Stop: 0}}, "[4]"},                              // 5:*
		{imap.UIDSet{{Start: 3, Stop: 8}}, "[1 2 3]"},                          // UIDs 3:8
		{imap.UIDSet{{Start: 100, Stop: 0}}, "[4]"},                            // 100:* holds the last UID
		{imap.UIDSet{{Start: 4, Stop: 4}, {Start: 1, Stop: 2}}, "[0]"},         // absent UIDs
		{imap.UIDSet{{Start: 1, Stop: 5}, {Start: 3, Stop: 9}}, "[0 1 2 3 4]"}, // overlapping
	} {
		got, err := resolve(sums, tc.set)
		if err != nil || fmt.Sprint(got) != tc.want && !(len(got) == 0 && tc.want == "[]") {
			t.Errorf("%v: %v %v, want %s", tc.set, got, err, tc.want)
		}
	}
	if _, err := resolve(sums, imap.SearchRes()); err == nil {
		t.Error("$ resolved")
	}
}
