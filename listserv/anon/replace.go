package anon

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// repl is one replacement of the scrubber: a sequence of words matched
// case-insensitively (Unicode simple folding), separated in the text by
// any run of spaces, tabs or CRLFs.
type repl struct {
	words []string
	first string // every case variant of the first rune: where to try
	word  bool   // match only where no letter or digit touches either end
	with  []byte // replacement text
}

func newRepl(words []string, word bool, with string) repl {
	lead, _ := utf8.DecodeRuneInString(words[0])
	first := string(lead)
	for r := unicode.SimpleFold(lead); r != lead; r = unicode.SimpleFold(r) {
		first += string(r)
	}
	return repl{words: words, first: first, word: word, with: []byte(with)}
}

// replaceAll applies rs to b in one left-to-right pass: at each point the
// earliest match wins (the longest on a tie, then the first repl), and
// replaced text is never searched again, so an alias that happens to
// contain the author's name is not rewritten twice. It returns b itself
// when nothing matched, a new slice otherwise.
func replaceAll(b []byte, rs []repl) []byte {
	if len(rs) == 0 {
		return b
	}
	next := make([][2]int, len(rs))
	for i := range rs {
		next[i] = rs[i].find(b, 0)
	}
	var out []byte
	last := 0
	for {
		best := -1
		for i := range rs {
			if next[i][0] >= 0 && next[i][0] < last {
				next[i] = rs[i].find(b, last) // overlapped by the last replacement
			}
			if next[i][0] < 0 {
				continue
			}
			if best < 0 || next[i][0] < next[best][0] ||
				next[i][0] == next[best][0] && next[i][1] > next[best][1] {
				best = i
			}
		}
		if best < 0 {
			break
		}
		s, e := next[best][0], next[best][1]
		if out == nil {
			out = make([]byte, 0, len(b))
		}
		out = append(out, b[last:s]...)
		out = append(out, rs[best].with...)
		last = e
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// find returns the first match of r in b at or after from, or {-1, -1}.
func (r repl) find(b []byte, from int) [2]int {
	for from < len(b) {
		i := bytes.IndexAny(b[from:], r.first)
		if i < 0 {
			break
		}
		s := from + i
		if e := r.matchAt(b, s); e > s && (!r.word || wordAt(b, s, e)) {
			return [2]int{s, e}
		}
		_, size := utf8.DecodeRune(b[s:])
		from = s + max(size, 1)
	}
	return [2]int{-1, -1}
}

// matchAt returns the end of a match of r's words at b[i:], or -1. A byte
// that is not UTF-8 reads as U+FFFD, as in package regexp.
func (r repl) matchAt(b []byte, i int) int {
	for n, w := range r.words {
		if n > 0 {
			start := i
			for i < len(b) {
				if b[i] == ' ' || b[i] == '\t' {
					i++
				} else if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
					i += 2
				} else {
					break
				}
			}
			if i == start {
				return -1
			}
		}
		for _, want := range w {
			if i >= len(b) {
				return -1
			}
			got, size := utf8.DecodeRune(b[i:])
			if !foldEqual(got, want) {
				return -1
			}
			i += size
		}
	}
	return i
}

// foldEqual reports whether a and b are equal under Unicode simple case
// folding.
func foldEqual(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// wordAt reports whether b[s:e] is not preceded nor followed by a letter
// or digit.
func wordAt(b []byte, s, e int) bool {
	if r, _ := utf8.DecodeLastRune(b[:s]); s > 0 && isAlnum(r) {
		return false
	}
	if r, _ := utf8.DecodeRune(b[e:]); e < len(b) && isAlnum(r) {
		return false
	}
	return true
}
