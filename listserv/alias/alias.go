// Package alias owns the pseudonym vocabulary of listserv and the rules for
// alias names and slugs.
//
// Every member appears in a group under a pseudonym such as "Quiet Heron",
// whose address form (slug) is "quiet-heron", as in
// recovery+quiet-heron@lists.example.org. Generate draws such pseudonyms
// uniformly from two embedded word lists; Slug, ValidSlug and ValidName hold
// the rules for member-chosen names and for the part of an address after '+'.
//
// The package keeps no state and no storage. Each call to Generate is an
// independent draw, so pseudonyms of one person in different groups are
// unlinkable as long as the caller draws them separately for each group and
// uses crypto/rand.Reader. Uniqueness within a group is the caller's job: it
// checks its store and calls Generate again on a clash.
package alias

import (
	"bufio"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Length limits, in bytes for slugs and in characters (runes) for names.
const (
	MinSlugLen = 3
	MaxSlugLen = 40
	MinNameLen = 3
	MaxNameLen = 40
)

//go:embed adjectives.txt
var adjectivesFile string

//go:embed nouns.txt
var nounsFile string

// The word lists, lower-case as in the files. Parsed once at start-up; the
// files are part of the binary, so a malformed file is a programming error
// and the tests catch it.
var (
	adjectives = mustParseWords("adjectives.txt", adjectivesFile)
	nouns      = mustParseWords("nouns.txt", nounsFile)
)

// parseWords reads one lower-case ASCII word per line, skipping blank lines
// and '#' comments. It rejects anything else and duplicates.
func parseWords(data string) ([]string, error) {
	var words []string
	seen := make(map[string]bool)
	sc := bufio.NewScanner(strings.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		w := strings.TrimSpace(sc.Text())
		if w == "" || strings.HasPrefix(w, "#") {
			continue
		}
		if strings.TrimLeft(w, "abcdefghijklmnopqrstuvwxyz") != "" {
			return nil, fmt.Errorf("line %d: %q is not a lower-case ASCII word", line, w)
		}
		if seen[w] {
			return nil, fmt.Errorf("line %d: duplicate word %q", line, w)
		}
		seen[w] = true
		words = append(words, w)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, errors.New("no words")
	}
	return words, nil
}

func mustParseWords(name, data string) []string {
	words, err := parseWords(data)
	if err != nil {
		panic("alias: embedded " + name + ": " + err.Error())
	}
	return words
}

// Combinations returns how many distinct pseudonyms Generate can produce.
func Combinations() int {
	return len(adjectives) * len(nouns)
}

// Generate draws a pseudonym from the embedded word lists using r
// (crypto/rand.Reader in production, a seeded reader in tests): display name
// "Quiet Heron" and slug "quiet-heron". Every pseudonym is equally likely.
// A nil r means crypto/rand.Reader. The only errors come from r.
//
// The slug of a generated pseudonym always satisfies ValidSlug and equals
// Slug(name), and the name always satisfies ValidName.
func Generate(r io.Reader) (name, slug string, err error) {
	if r == nil {
		r = rand.Reader
	}
	i, err := uniform(r, uint64(Combinations()))
	if err != nil {
		return "", "", err
	}
	adj := adjectives[i/uint64(len(nouns))]
	noun := nouns[i%uint64(len(nouns))]
	return capitalize(adj) + " " + capitalize(noun), adj + "-" + noun, nil
}

// maxDraws bounds the rejection loop in uniform. For any n we use, a single
// draw is rejected with probability below 2^-40, so hitting the bound means
// the reader is broken (for instance it returns the same bytes forever).
const maxDraws = 32

// errBadSource is returned when the reader keeps producing rejected values.
var errBadSource = errors.New("alias: random source produced no usable value")

// uniform returns a uniformly distributed integer in [0, n) read from r.
// It takes 8 bytes at a time as a big-endian uint64 and rejects the values at
// the top of the range that would make v % n favour small results (modulo
// bias): of the 2^64 possible values it keeps only the first 2^64 - (2^64 mod n),
// a whole multiple of n.
func uniform(r io.Reader, n uint64) (uint64, error) {
	if n == 0 {
		panic("alias: uniform with n == 0")
	}
	// 2^64 mod n, computed without overflowing: (2^64 - n) mod n.
	excess := -n % n
	limit := ^uint64(0) - excess // accept v <= limit
	var buf [8]byte
	for range maxDraws {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return 0, fmt.Errorf("alias: reading randomness: %w", err)
		}
		var v uint64
		for _, b := range buf {
			v = v<<8 | uint64(b)
		}
		if v <= limit {
			return v % n, nil
		}
	}
	return 0, errBadSource
}

// capitalize upper-cases the first letter of an ASCII word.
func capitalize(w string) string {
	if w == "" || w[0] < 'a' || w[0] > 'z' {
		return w
	}
	return string(w[0]-'a'+'A') + w[1:]
}
