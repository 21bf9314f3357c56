package corpus

import "math/rand/v2"

// The most common words come first: word draws are biased towards the
// start of the vocabulary, so these make up most of every text.
var common = []string{
	"the", "and", "to", "of", "a", "i", "in", "it", "that", "is", "was", "for",
	"my", "me", "you", "with", "this", "have", "but", "not", "on", "be", "so",
	"we", "at", "all", "are", "as", "today", "feel", "day", "one", "about",
	"what", "when", "time", "week", "just", "more", "from", "help", "there",
	"group", "hope", "thank", "sleep", "family", "better", "again", "still",
	"night", "morning", "talk", "walk", "friend", "doctor", "meeting", "work",
	"hard", "easy", "small", "steps", "remember", "anyone", "else", "tired",
	"strong", "support", "listen", "share", "story", "kind", "words", "thanks",
}

var syllables = []string{
	"ka", "ro", "mi", "tes", "lan", "dor", "vi", "sel", "quo", "bra", "ne", "tu",
	"gal", "pher", "zin", "mo", "ry", "cal", "den", "fi", "ost", "wen", "har", "lu",
}

// vocabulary returns the common words followed by invented ones.
func vocabulary(seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 7))
	words := append([]string(nil), common...)
	seen := map[string]bool{}
	for _, w := range words {
		seen[w] = true
	}
	for len(words) < 6000 {
		w := ""
		for n := 2 + r.IntN(3); n > 0; n-- {
			w += syllables[r.IntN(len(syllables))]
		}
		if !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	return words
}

var adjectives = []string{
	"Quiet", "Gentle", "Brave", "Calm", "Bright", "Patient", "Steady", "Warm",
	"Hopeful", "Kind", "Silver", "Golden", "Misty", "Sunny", "Humble", "Tender",
	"Clever", "Honest", "Lively", "Merry",
}

var nouns = []string{
	"Heron", "Willow", "Otter", "Sparrow", "Maple", "River", "Fox", "Lark",
	"Cedar", "Badger", "Robin", "Fern", "Wren", "Birch", "Finch", "Marten",
	"Aspen", "Plover", "Thrush", "Hazel", "Crane", "Linden", "Swallow",
}
