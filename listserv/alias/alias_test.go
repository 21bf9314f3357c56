package alias

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// forbidden holds words that must never appear in either list: the brief's
// examples plus words found too close to illness, addiction, death, mood,
// body, age, gender, religion, ethnicity, judgement, food or drug slang while
// curating. Each is checked as a whole word.
var forbidden = strings.Fields(`
	lost broken sober sick dark lonely crazy fat old black white drunk high blue
	sad happy glad gloomy moody angry mad bitter weary tired sleepy lazy dull
	grim grave hollow empty fallen falling fading dying dead death ghost spirit
	soul shadow ember ash ashen dust dusk sunset twilight winter autumn
	clean dry wet lush merry jolly tipsy lit loaded wasted stoned baked blazing
	smoky smoking frosty snowy snow crystal ice rock rocky stony grass grassy
	weed herb herbal bud hemp poppy juniper sloe barley hops rye malt grape
	vine agave cherry mimosa salvia sassafras skunk horse kite spoon needle pipe
	syrup sugar candy spice hazy foggy cloudy stormy
	pale tall short thin slim skinny big little tiny small round plump heavy
	light bald hairy curly young elder ancient aged
	calm serene peaceful tranquil restful patient stable steady balanced
	grounded sound whole fine fair pure true bright clever wise brave bold shy
	proud humble kind lucky rare common plain simple odd strange wild tame feral
	angel saint halo heaven eden holy sacred blessed lotus cardinal bishop
	dove lamb cross crescent pilgrim mantis
	brown yellow red golden silver ebony ivory tawny dusky cotton cottonwood
	raccoon coconut moor muslin gypsy
	lady queen king hen cock stag doe buck mare stallion nanny
	pig hog sow cow rat snake weasel worm sloth donkey mule goat vulture leech
	slug cuckoo loon bat coot booby tit turkey chicken goose dodo whale hippo
	walrus shark wolf fox kitten beaver cougar crow raven magpie gull gannet
	thrush swallow stork chough drongo galah kaka pukeko shrike albatross
	lily willow yew cypress pine hemlock foxglove nightshade rainbow wreath
	stone marble mole hive calf crab shingle lichen rush
	nest egg seed seedling sapling fledgling duckling chick cygnet gosling
	fertile barren fruitful
	polar lunar temperate balmy
	admin owner moderator postmaster abuse root listserv
`)

// forbiddenParts must not occur anywhere inside a word.
var forbiddenParts = strings.Fields(`
	dead death kill drunk sober sick suicid drug booze porn sex slut dick cock
	penis piss shit crap fuck damn god nazi fag gay homo retard mental psych
	bitch whore rape pee cum jew gun sad pill weed coke meth beer wine
`)

// rawWords reads a word file independently of parseWords.
func rawWords(t *testing.T, data string) []string {
	t.Helper()
	var words []string
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words = append(words, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return words
}

func TestWordListHygiene(t *testing.T) {
	wordRE := regexp.MustCompile(`^[a-z]{3,14}$`)
	bad := make(map[string]bool)
	for _, w := range forbidden {
		bad[w] = true
	}
	inList := make(map[string]string)
	for _, list := range []struct {
		file, data string
		parsed     []string
	}{
		{"adjectives.txt", adjectivesFile, adjectives},
		{"nouns.txt", nounsFile, nouns},
	} {
		words := rawWords(t, list.data)
		if len(words) < 250 {
			t.Errorf("%s: %d words, want at least 250", list.file, len(words))
		}
		if len(words) != len(list.parsed) {
			t.Errorf("%s: %d lines with words, %d parsed", list.file, len(words), len(list.parsed))
		}
		for _, w := range words {
			if !wordRE.MatchString(w) {
				t.Errorf("%s: %q is not 3..14 lower-case ASCII letters", list.file, w)
			}
			if prev, dup := inList[w]; dup {
				t.Errorf("%s: %q already in %s", list.file, w, prev)
			}
			inList[w] = list.file
			if bad[w] {
				t.Errorf("%s: forbidden word %q", list.file, w)
			}
			for _, p := range forbiddenParts {
				if strings.Contains(w, p) {
					t.Errorf("%s: %q contains forbidden %q", list.file, w, p)
				}
			}
			if IsReserved(w) {
				t.Errorf("%s: %q is reserved", list.file, w)
			}
		}
	}
	// The example from the documentation must be drawable.
	for _, w := range []string{"quiet", "heron"} {
		if inList[w] == "" {
			t.Errorf("example word %q missing", w)
		}
	}
}

func TestParseWords(t *testing.T) {
	got, err := parseWords("# comment\n\nquiet\n  heron  \r\n")
	if err != nil || strings.Join(got, ",") != "quiet,heron" {
		t.Errorf("parseWords = %q, %v", got, err)
	}
	for _, data := range []string{"", "# only\n", "quiet\nquiet\n", "Quiet\n", "quiet heron\n", "héron\n", "quiet-heron\n"} {
		if got, err := parseWords(data); err == nil {
			t.Errorf("parseWords(%q) = %q, want error", data, got)
		}
	}
}

func TestCombinations(t *testing.T) {
	if got, want := Combinations(), len(adjectives)*len(nouns); got != want {
		t.Errorf("Combinations() = %d, want %d", got, want)
	}
	if Combinations() < 60000 {
		t.Errorf("Combinations() = %d, want at least 60000", Combinations())
	}
}

// indexReader makes Generate pick pseudonym number i.
func indexReader(i uint64) io.Reader {
	return bytes.NewReader(binary.BigEndian.AppendUint64(nil, i))
}

// TestEveryPseudonym walks all pseudonyms Generate can produce.
func TestEveryPseudonym(t *testing.T) {
	nameRE := regexp.MustCompile(`^[A-Z][a-z]+ [A-Z][a-z]+$`)
	seen := make(map[string]bool, Combinations())
	maxLen := 0
	for i := range uint64(Combinations()) {
		name, slug, err := Generate(indexReader(i))
		if err != nil {
			t.Fatalf("Generate #%d: %v", i, err)
		}
		if !nameRE.MatchString(name) {
			t.Errorf("name %q is not two capitalised words", name)
		}
		if !ValidSlug(slug) {
			t.Errorf("slug %q of %q is not valid", slug, name)
		}
		if s, ok := Slug(name); !ok || s != slug {
			t.Errorf("Slug(%q) = %q, %v; Generate gave %q", name, s, ok, slug)
		}
		if !ValidName(name) {
			t.Errorf("generated name %q fails ValidName", name)
		}
		if seen[slug] {
			t.Errorf("slug %q produced twice", slug)
		}
		seen[slug] = true
		maxLen = max(maxLen, len(slug))
	}
	if len(seen) != Combinations() {
		t.Errorf("%d distinct slugs, Combinations() = %d", len(seen), Combinations())
	}
	t.Logf("%d adjectives x %d nouns = %d pseudonyms; longest slug %d bytes",
		len(adjectives), len(nouns), Combinations(), maxLen)
}

func TestGenerateExample(t *testing.T) {
	var ai, ni int
	for i, w := range adjectives {
		if w == "quiet" {
			ai = i
		}
	}
	for i, w := range nouns {
		if w == "heron" {
			ni = i
		}
	}
	name, slug, err := Generate(indexReader(uint64(ai*len(nouns) + ni)))
	if err != nil || name != "Quiet Heron" || slug != "quiet-heron" {
		t.Errorf("Generate = %q, %q, %v; want Quiet Heron, quiet-heron", name, slug, err)
	}
}

func TestGenerateCryptoRand(t *testing.T) {
	for range 100 {
		name, slug, err := Generate(nil) // nil means crypto/rand.Reader
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := Slug(name); !ok || s != slug || !ValidSlug(slug) {
			t.Fatalf("Generate(nil) = %q, %q", name, slug)
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestGenerateReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		r    io.Reader
		want error
	}{
		{bytes.NewReader(nil), io.EOF},
		{bytes.NewReader([]byte{1, 2, 3}), io.ErrUnexpectedEOF},
		{errReader{boom}, boom},
	} {
		name, slug, err := Generate(tc.r)
		if !errors.Is(err, tc.want) || name != "" || slug != "" {
			t.Errorf("Generate = %q, %q, %v; want error %v", name, slug, err, tc.want)
		}
	}
}

// constReader returns the same byte forever.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// TestUniformRejectsBiasedValues feeds uniform hand-picked values.
func TestUniformRejectsBiasedValues(t *testing.T) {
	u64 := func(vs ...uint64) *bytes.Reader {
		var b []byte
		for _, v := range vs {
			b = binary.BigEndian.AppendUint64(b, v)
		}
		return bytes.NewReader(b)
	}
	const half = uint64(1) << 63
	for _, tc := range []struct {
		name   string
		n      uint64
		values []uint64
		want   uint64
		used   int // values consumed
	}{
		// 2^64 mod 3 == 1: only the very top value is biased.
		{"n=3 top rejected", 3, []uint64{math.MaxUint64, 5}, 2, 2},
		{"n=3 just below top kept", 3, []uint64{math.MaxUint64 - 1}, (math.MaxUint64 - 1) % 3, 1},
		// n = 2^63+1: every value >= n would wrap around to the bottom
		// of the range, so all of them must be rejected.
		{"n=2^63+1 n rejected", half + 1, []uint64{half + 1, math.MaxUint64, 7}, 7, 3},
		{"n=2^63+1 n-1 kept", half + 1, []uint64{half}, half, 1},
		// A power of two divides 2^64: nothing is rejected.
		{"n=2^16 top kept", 1 << 16, []uint64{math.MaxUint64}, 1<<16 - 1, 1},
		{"n=1", 1, []uint64{math.MaxUint64}, 0, 1},
	} {
		r := u64(tc.values...)
		got, err := uniform(r, tc.n)
		if err != nil || got != tc.want {
			t.Errorf("%s: uniform = %d, %v; want %d", tc.name, got, err, tc.want)
		}
		if used := len(tc.values) - r.Len()/8; used != tc.used {
			t.Errorf("%s: consumed %d values, want %d", tc.name, used, tc.used)
		}
	}
	// A source stuck on a rejected value must fail, not loop forever.
	if _, err := uniform(constReader(0xff), 3); !errors.Is(err, errBadSource) {
		t.Errorf("uniform(stuck source) error = %v, want errBadSource", err)
	}
}

func seeded(seed byte) io.Reader {
	var s [32]byte
	for i := range s {
		s[i] = seed + byte(i)
	}
	return rand.NewChaCha8(s)
}

// chiSquare checks that counts look like uniform draws. For k categories
// the statistic has mean k-1 and standard deviation sqrt(2(k-1)); we accept
// anything within 6 standard deviations, which a fair draw leaves with
// negligible probability while any real bias (for instance modulo bias
// towards low indexes or a skipped word) lands far outside.
func chiSquare(t *testing.T, what string, counts []int, draws int) {
	t.Helper()
	k := len(counts)
	expected := float64(draws) / float64(k)
	var stat float64
	lo, hi := draws, 0
	for _, c := range counts {
		d := float64(c) - expected
		stat += d * d / expected
		lo, hi = min(lo, c), max(hi, c)
	}
	df := float64(k - 1)
	tol := 6 * math.Sqrt(2*df)
	if math.Abs(stat-df) > tol {
		t.Errorf("%s: chi-square %.1f, want %.1f ± %.1f (counts %d..%d, expected %.1f each)",
			what, stat, df, tol, lo, hi, expected)
	}
	// No single category may be far off either: 7 standard deviations.
	sd := math.Sqrt(expected)
	if float64(lo) < expected-7*sd || float64(hi) > expected+7*sd {
		t.Errorf("%s: counts range %d..%d, expected %.1f ± %.1f", what, lo, hi, expected, 7*sd)
	}
	t.Logf("%s: %d categories, chi-square %.1f (df %.0f), counts %d..%d", what, k, stat, df, lo, hi)
}

func TestGenerateDistribution(t *testing.T) {
	draws := 300 * len(nouns) // a few hundred per word
	if testing.Short() {
		draws = 60 * len(nouns)
	}
	adjIndex := make(map[string]int, len(adjectives))
	for i, w := range adjectives {
		adjIndex[w] = i
	}
	nounIndex := make(map[string]int, len(nouns))
	for i, w := range nouns {
		nounIndex[w] = i
	}
	adjCounts := make([]int, len(adjectives))
	nounCounts := make([]int, len(nouns))
	// Coarse buckets over the whole pseudonym index, to catch a skew in
	// how the two words are combined.
	const buckets = 64
	indexCounts := make([]int, buckets)
	r := seeded(1)
	for range draws {
		_, slug, err := Generate(r)
		if err != nil {
			t.Fatal(err)
		}
		adj, noun, _ := strings.Cut(slug, "-")
		a, n := adjIndex[adj], nounIndex[noun]
		adjCounts[a]++
		nounCounts[n]++
		idx := a*len(nouns) + n
		indexCounts[idx*buckets/Combinations()]++
	}
	chiSquare(t, "adjectives", adjCounts, draws)
	chiSquare(t, "nouns", nounCounts, draws)
	// The index buckets differ in size by at most one pseudonym, far below
	// the tolerance, so they can be treated as equal.
	chiSquare(t, "index buckets", indexCounts, draws)
}

// TestUniformDistribution checks uniform itself for a few small ranges,
// including ones where modulo bias would be easy to see with a narrow
// draw: with a 1-byte draw, 256 mod 10 would favour 0..5.
func TestUniformDistribution(t *testing.T) {
	for _, n := range []uint64{2, 3, 7, 10, 100} {
		counts := make([]int, n)
		draws := 20000 * int(n)
		r := seeded(byte(n))
		for range draws {
			v, err := uniform(r, n)
			if err != nil {
				t.Fatal(err)
			}
			counts[v]++
		}
		chiSquare(t, fmt.Sprintf("uniform n=%d", n), counts, draws)
	}
}
