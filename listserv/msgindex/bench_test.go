package msgindex

import (
	"testing"
	"time"

	"listserv/internal/corpus"
)

// BenchmarkBuild is the indexing cost the post path pays per post.
func BenchmarkBuild(b *testing.B) {
	g := corpus.New(corpus.Options{Seed: 2})
	var posts [][]byte
	for i := 0; i < 200; i++ {
		posts = append(posts, g.Post(i).Raw)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		Build(posts[i%len(posts)], time.Unix(0, 0))
	}
}
