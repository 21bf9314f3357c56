package alias

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ValidSlug reports whether s may stand after '+' in a group address:
// [a-z0-9]+(-[a-z0-9]+)*, 3..40 bytes.
//
// ValidSlug is purely syntactic. Whether the slug is free in a group, or is
// reserved (see IsReserved), is for the caller to check.
func ValidSlug(s string) bool {
	if len(s) < MinSlugLen || len(s) > MaxSlugLen {
		return false
	}
	afterHyphen := true // forbids a leading '-'
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			afterHyphen = false
		case c == '-':
			if afterHyphen {
				return false // leading "-" or "--"
			}
			afterHyphen = true
		default:
			return false
		}
	}
	return !afterHyphen // forbids a trailing '-'
}

// Slug turns a display name into its address form: lower-case ASCII letters
// and digits, words joined by '-'. ok is false, and slug empty, if nothing
// usable remains or the result is not a valid slug (see ValidSlug), for
// instance because it is longer than 40 bytes. Slug never truncates: two
// different long names must not silently end up with the same address.
//
// Words are runs of letters and digits; everything else separates them.
// Upper case is lowered, common Latin accents are removed ("Zoë" -> "zoe",
// "Straße" -> "strasse"), full-width forms become ASCII, and apostrophes
// and combining marks are dropped without splitting a word ("O'Brien" ->
// "obrien"). Letters that have no ASCII form, such as Cyrillic or Han, are
// dropped, so a name written wholly in such a script has no slug.
//
// For any input, an ok result satisfies ValidSlug and Slug(slug) == slug.
func Slug(name string) (slug string, ok bool) {
	words, fits := foldWords(name, MaxSlugLen)
	if !fits || len(words) == 0 {
		return "", false
	}
	slug = strings.Join(words, "-")
	if !ValidSlug(slug) {
		return "", false
	}
	return slug, true
}

// maxMarks is how many combining marks may follow one letter in a name:
// enough for Vietnamese or Indic text in decomposed form, too few for
// "Zalgo" text that spills over neighbouring lines.
const maxMarks = 3

// ValidName reports whether a member-chosen display name is acceptable (for
// the `alias NAME` command). The rules:
//
//   - valid UTF-8, 3..40 characters (runes);
//   - only letters (any script), digits, combining marks right after a
//     letter, and three separators: space (U+0020), hyphen (U+002D) and
//     apostrophe (U+0027);
//   - a separator only between two letters or digits: none at the start or
//     end, never two in a row;
//   - at least one letter;
//   - no '@', quotes other than the apostrophe, control or format
//     characters (CR, LF, TAB, bidi overrides, zero-width characters), or
//     invisible letters such as the Hangul filler;
//   - no letters that only look like Latin ones (full-width forms,
//     mathematical alphanumerics such as U+1D400), and no mixing of Latin
//     with Greek or Cyrillic letters, which is how look-alike names are
//     usually made;
//   - not reserved (see IsReserved).
//
// A valid name may still have no slug (Slug reports ok=false), for instance
// one written wholly in Cyrillic; the caller decides what address such a
// member gets. The name is still raw text: the caller must encode it for a
// header (RFC 2047) when it is not ASCII.
func ValidName(name string) bool {
	if len(name) > MaxNameLen*utf8.UTFMax || !utf8.ValidString(name) {
		return false
	}
	if n := utf8.RuneCountInString(name); n < MinNameLen || n > MaxNameLen {
		return false
	}
	const (
		sep = iota
		letter
		digit
		mark
	)
	prev := sep // as if after a separator: forbids a leading one
	marks, letters := 0, 0
	latin, greekOrCyrillic := false, false
	for _, r := range name {
		switch {
		case r == ' ' || r == '-' || r == '\'':
			if prev == sep {
				return false
			}
			prev = sep
		case unicode.IsLetter(r):
			if invisible(r) || unicode.Is(unicode.Common, r) || isFullWidth(r) {
				return false
			}
			switch {
			case unicode.Is(unicode.Latin, r):
				latin = true
			case unicode.In(r, unicode.Greek, unicode.Cyrillic):
				greekOrCyrillic = true
			}
			letters++
			marks = 0
			prev = letter
		case unicode.IsDigit(r):
			if r > unicode.MaxASCII && unicode.Is(unicode.Common, r) {
				return false // full-width or mathematical digits
			}
			marks = 0
			prev = digit
		case unicode.In(r, unicode.Mn, unicode.Mc):
			if (prev != letter && prev != mark) || invisible(r) {
				return false
			}
			if marks++; marks > maxMarks {
				return false
			}
			prev = mark
		default:
			return false
		}
	}
	if prev == sep || letters == 0 || (latin && greekOrCyrillic) {
		return false
	}
	return !IsReserved(name)
}

// isFullWidth reports whether r is a full-width form of an ASCII letter:
// Latin by script, but only a look-alike of an ordinary name.
func isFullWidth(r rune) bool {
	return '\uFF21' <= r && r <= '\uFF5A'
}

// invisible reports whether r renders as nothing although Unicode does not
// class it as a control or format character: Hangul fillers, the combining
// grapheme joiner, variation selectors and the like.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// IsReserved reports whether a display name or slug could pass for the
// service or its staff, or for a special address of the list. It compares
// the folded ASCII words of s (as Slug makes them), with common digit
// substitutions undone ("r00t", "adm1n"):
//
//   - a name is reserved if any of its words, or all of them run together,
//     is a staff title such as admin, owner, moderator, postmaster, abuse,
//     root or listserv ("Moderator Heron", "Post Master");
//   - it is also reserved if all its words run together are one of the
//     list's special names such as help, unsubscribe, bounces or nobody.
//
// Generated pseudonyms are never reserved. Input too long to be a name or
// slug (over 160 bytes once folded) is not examined and reports false.
func IsReserved(s string) bool {
	words, _ := foldWords(s, 4*MaxNameLen)
	for _, w := range words {
		if anyForm(w, staffWords) {
			return true
		}
	}
	whole := strings.Join(words, "")
	return anyForm(whole, staffWords) || anyForm(whole, specialNames)
}

// anyForm reports whether w, or w with digits read as look-alike letters,
// is in set.
func anyForm(w string, set map[string]bool) bool {
	return set[w] || set[leetI.Replace(w)] || set[leetL.Replace(w)]
}

var (
	leetI = strings.NewReplacer("0", "o", "1", "i", "3", "e", "4", "a", "5", "s", "7", "t", "8", "b")
	leetL = strings.NewReplacer("0", "o", "1", "l", "3", "e", "4", "a", "5", "s", "7", "t", "8", "b")
)

// staffWords may not appear anywhere in a name: they claim authority.
var staffWords = setOf(
	"abuse", "admin", "admins", "administrator", "administrators",
	"daemon", "hostmaster", "listmaster", "listowner", "listserv",
	"listserver", "mailer", "mailerdaemon", "mod", "moderator",
	"moderators", "mods", "noreply", "official", "owner", "owners",
	"postmaster", "root", "security", "staff", "support", "sysadmin",
	"sysop", "system", "webmaster",
)

// specialNames may not be a whole name: they are, or could become, special
// addresses or commands of a list, or would confuse readers.
var specialNames = setOf(
	"alias", "aliases", "all", "anon", "anonymous", "bot", "bounce",
	"bounces", "confirm", "contact", "digest", "donotreply", "everyone",
	"guest", "help", "info", "information", "join", "leave", "list",
	"lists", "member", "members", "moderation", "nil", "nobody", "none",
	"null", "post", "posts", "remove", "reply", "request", "requests",
	"server", "service", "subscribe", "team", "test", "undefined",
	"unknown", "unsubscribe", "user", "users",
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// foldWords splits s into words and folds each to lower-case ASCII letters
// and digits (see Slug), dropping words that fold to nothing. It gives up,
// returning fits=false, as soon as the words joined by '-' would be longer
// than max bytes, so its work and memory stay bounded for any input.
func foldWords(s string, max int) (words []string, fits bool) {
	var cur []byte
	joined := 0 // length of words joined by '-', cur excluded
	flush := func() {
		if len(cur) == 0 {
			return
		}
		if len(words) > 0 {
			joined++
		}
		joined += len(cur)
		words = append(words, string(cur))
		cur = cur[:0]
	}
	for _, r := range s {
		switch {
		case isApostrophe(r), unicode.In(r, unicode.Mn, unicode.Mc, unicode.Me):
			// Inside a word: "O'Brien", or a decomposed "e\u0308".
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur = append(cur, foldRune(r)...)
			n := joined + len(cur)
			if len(words) > 0 {
				n++
			}
			if n > max {
				return nil, false
			}
		default:
			flush()
		}
	}
	flush()
	return words, true
}

func isApostrophe(r rune) bool {
	return r == '\'' || r == '\u2019' || r == '\u02BC'
}

// foldRune returns the lower-case ASCII form of a letter or digit, or ""
// if it has none.
func foldRune(r rune) string {
	if '\uFF10' <= r && r <= '\uFF5A' { // full-width digits and letters
		r -= 0xFF10 - '0'
	}
	r = unicode.ToLower(r) // also maps e.g. U+212A KELVIN SIGN to 'k'
	switch {
	case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
		return string(r)
	case r <= unicode.MaxASCII:
		return ""
	}
	return latinFold[r]
}

// latinFold maps the lower-case letters of Latin-1 Supplement and Latin
// Extended-A (the Western, Central and Northern European alphabets) to ASCII.
var latinFold = func() map[rune]string {
	groups := []struct{ from, to string }{
		{"àáâãäåāăą", "a"},
		{"çćĉċč", "c"},
		{"ďđð", "d"},
		{"èéêëēĕėęě", "e"},
		{"ĝğġģ", "g"},
		{"ĥħ", "h"},
		{"ìíîïĩīĭįı", "i"},
		{"ĵ", "j"},
		{"ķĸ", "k"},
		{"ĺļľŀł", "l"},
		{"ñńņňŉŋ", "n"},
		{"òóôõöøōŏő", "o"},
		{"ŕŗř", "r"},
		{"śŝşšſ", "s"},
		{"ţťŧ", "t"},
		{"ùúûüũūŭůűų", "u"},
		{"ŵ", "w"},
		{"ýÿŷ", "y"},
		{"źżž", "z"},
		{"æ", "ae"},
		{"ĳ", "ij"},
		{"œ", "oe"},
		{"ß", "ss"},
		{"þ", "th"},
	}
	m := make(map[rune]string)
	for _, g := range groups {
		for _, r := range g.from {
			m[r] = g.to
		}
	}
	return m
}()
