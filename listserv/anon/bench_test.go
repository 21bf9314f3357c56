package anon

import (
	"bytes"
	"io"
	"testing"

	"github.com/emersion/go-message"

	"listserv/internal/mailcheck"
)

// BenchmarkAnonymize rewrites the whole corpus once per iteration (14
// messages in the styles of real clients, 2–40 KB, HTML, images).
// BenchmarkCorpusDecodeBaseline is the yardstick measured in the same
// run: go-message reading and decoding every part of the same messages,
// the least any MIME rewriter must do. Compare the two as a ratio:
//
//	go test ./listserv/anon -run '^$' -bench 'Anonymize$|DecodeBaseline' -count 3
func BenchmarkAnonymize(b *testing.B) {
	cases := loadBenchCorpus(b)
	for b.Loop() {
		for _, c := range cases {
			m, err := Parse(c.Raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Anonymize(m, corpusParams(c.Name)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkCorpusDecodeBaseline(b *testing.B) {
	cases := loadBenchCorpus(b)
	for b.Loop() {
		for _, c := range cases {
			e, err := message.Read(bytes.NewReader(c.Raw))
			if err != nil && !message.IsUnknownCharset(err) {
				b.Fatal(err)
			}
			err = e.Walk(func(_ []int, part *message.Entity, err error) error {
				if err != nil && !message.IsUnknownCharset(err) {
					return err
				}
				if part.MultipartReader() == nil {
					_, err = io.Copy(io.Discard, part.Body)
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// loadBenchCorpus loads the corpus and sets the benchmark's bytes per op.
func loadBenchCorpus(b *testing.B) []mailcheck.Case {
	cases := mailcheck.Load(b, corpusDir)
	size := 0
	for _, c := range cases {
		size += len(c.Raw)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	return cases
}
