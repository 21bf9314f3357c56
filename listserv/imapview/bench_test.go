package imapview_test

// Benchmarks on the shared 10,000-post archive (about 40 MB of mixed
// MIME), through a real client on loopback: what a mail client waits for.
//
//	go test ./listserv/imapview -run '^$' -bench . -benchtime 20x

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func BenchmarkFetchFlagsEnvelope(b *testing.B) {
	f := big(b)
	c := f.login(b, nil)
	all := imap.UIDSet{{Start: 1, Stop: 0}}
	b.ResetTimer()
	for b.Loop() {
		msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
		if err != nil || len(msgs) != len(f.posts) {
			b.Fatalf("%d messages, %v", len(msgs), err)
		}
	}
}

func BenchmarkSearchText(b *testing.B) {
	f := big(b)
	c := f.login(b, nil)
	word := pickWord(f.posts[5].Text, 8)
	b.ResetTimer()
	for b.Loop() {
		res, err := c.UIDSearch(&imap.SearchCriteria{Text: []string{word}}, nil).Wait()
		if err != nil || len(res.AllUIDs()) == 0 {
			b.Fatal(err)
		}
	}
}

func BenchmarkSearchFrom(b *testing.B) {
	f := big(b)
	c := f.login(b, nil)
	from := "recovery+" + f.posts[7].Slug + "@lists.example.org"
	b.ResetTimer()
	for b.Loop() {
		res, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: from}}}, nil).Wait()
		if err != nil || len(res.AllUIDs()) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawFetchFlagsEnvelope is FETCH 1:* (FLAGS ENVELOPE) read by a
// bare connection: the server's share of the time.
func BenchmarkRawFetchFlagsEnvelope(b *testing.B) {
	f := big(b)
	c := dialRaw(b, f.addr)
	for _, l := range []string{fmt.Sprintf("LOGIN %s %s", reader, f.pass), "SELECT " + group} {
		if _, err := c.cmd(l); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.cmd("UID FETCH 1:* (FLAGS ENVELOPE)"); err != nil {
			b.Fatal(err)
		}
	}
}
