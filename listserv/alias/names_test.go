package alias

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSlug(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" means ok=false
	}{
		{"Quiet Heron", "quiet-heron"},
		{"quiet-heron", "quiet-heron"},
		{"  quiet \t  HERON  ", "quiet-heron"},
		{"Quiet--Heron", "quiet-heron"},
		{"Heron 7", "heron-7"},
		{"heron_7", "heron-7"},
		{"O'Brien", "obrien"},
		{"O\u2019Brien", "obrien"},
		{"Heron's Rest", "herons-rest"},
		{"Zoë Ash", "zoe-ash"},
		{"Zoe\u0308 Ash", "zoe-ash"}, // decomposed ë
		{"Renée", "renee"},
		{"Straße", "strasse"},
		{"STRAẞE", "strasse"},
		{"Ærø Island", "aero-island"},
		{"Łódź Crane", "lodz-crane"},
		{"İstanbul", "istanbul"},
		{"Ｑｕｉｅｔ Ｈｅｒｏｎ", "quiet-heron"}, // full-width
		{"\u212Aestrel", "kestrel"},    // KELVIN SIGN
		{`"Quiet" Heron`, "quiet-heron"},
		{"Quiet Heron <a@b.example>", "quiet-heron-a-b-example"},
		{"Quiet\r\nBcc: x@evil.example", "quiet-bcc-x-evil-example"},
		{"😀 Heron 😀", "heron"},
		{"Тихая Heron", "heron"},
		{"\xff\xfeHeron", "heron"}, // invalid UTF-8 separates
		{"\x00\x01Heron\x7f", "heron"},
		{strings.Repeat("a", 40), strings.Repeat("a", 40)},

		{"", ""},
		{"   ", ""},
		{"--", ""},
		{"'''", ""},
		{"Al", ""}, // too short
		{"A B", "a-b"},
		{"😀😀😀", ""},
		{"Тихая Цапля", ""}, // no ASCII form
		{"静かな鷺", ""},
		{"\u200b\u200b\u200b", ""},
		{strings.Repeat("a", 41), ""},
		{strings.Repeat("a ", 30), ""}, // 59 bytes joined
		{strings.Repeat("ß", 21), ""},  // expands to 42 bytes
		{strings.Repeat("x", 1<<20), ""},
	} {
		got, ok := Slug(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Slug(%q) = %q, %v; want %q, %v", trunc(tc.in), got, ok, tc.want, tc.want != "")
		}
	}
}

func TestValidSlug(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"quiet-heron", true},
		{"abc", true},
		{"a-b", true},
		{"123", true},
		{"heron-7", true},
		{"a-very-long-but-still-valid-slug-of-40c", true},
		{strings.Repeat("a", 40), true},

		{"", false},
		{"ab", false},
		{strings.Repeat("a", 41), false},
		{"-abc", false},
		{"abc-", false},
		{"a--b", false},
		{"---", false},
		{"Quiet-heron", false},
		{"quiet_heron", false},
		{"quiet heron", false},
		{"quiet.heron", false},
		{"quiet+heron", false},
		{"quiet-heron\r\n", false},
		{"quiet-heron\x00", false},
		{"a@b.example", false},
		{"héron", false},
		{"ｑｕｉｅｔ", false},
		{"😀😀😀", false},
	} {
		if got := ValidSlug(tc.in); got != tc.want {
			t.Errorf("ValidSlug(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"Quiet Heron", true},
		{"Heron", true},
		{"Zoë", true},
		{"Zoe\u0308", true}, // decomposed
		{"Renée Ash", true},
		{"O'Brien", true},
		{"Anne-Marie", true},
		{"Heron 7", true},
		{"Nguyễn", true},
		{"Тихая Цапля", true}, // Cyrillic alone is fine
		{"Ήσυχος Ερωδιός", true},
		{"静かな鷺", true},
		{"नमस्ते", true},
		{"a\u0300\u0301", true},
		{"Abc", true},
		{strings.Repeat("é", 40), true},

		// length
		{"", false},
		{"Al", false},
		{strings.Repeat("a", 41), false},
		{strings.Repeat("é", 41), false},
		{strings.Repeat("a", 1<<20), false},
		// header injection and quoting
		{"Quiet\r\nHeron", false},
		{"Quiet Heron\r\nBcc: x@evil.example", false},
		{"Quiet\nHeron", false},
		{"Quiet\tHeron", false},
		{"Quiet\x00Heron", false},
		{"Quiet\x7fHeron", false},
		{"quiet@heron", false},
		{`"Quiet" Heron`, false},
		{`Quiet "Heron`, false},
		{"Heron <a@b.example>", false},
		{"Heron, Owl", false},
		{"Heron; Owl", false},
		{"Heron: Owl", false},
		{`Heron\Owl`, false},
		{"Heron (Owl)", false},
		{"=?utf-8?q?Heron?=", false},
		{"Heron\u2019s", false}, // only the ASCII apostrophe
		// separators
		{" Heron", false},
		{"Heron ", false},
		{"Quiet  Heron", false},
		{"Heron--Owl", false},
		{"-Heron", false},
		{"'Heron", false},
		{"Heron'", false},
		{"Heron - Owl", false},
		{"Heron\u00a0Owl", false}, // no-break space
		{"Heron\u3000Owl", false}, // ideographic space
		// no letter
		{"123", false},
		{"1-2-3", false},
		// emoji, symbols, invisible and look-alike characters
		{"Heron 😀", false},
		{"😀😀😀", false},
		{"Heron\u200b", false},        // zero-width space
		{"Her\u200don", false},        // zero-width joiner
		{"Heron\u202eowl", false},     // right-to-left override
		{"\u3164\u3164\u3164", false}, // Hangul filler
		{"Heron\u3164", false},
		{"Heron\u034f", false}, // combining grapheme joiner
		{"Heron\ufe0f", false}, // variation selector
		{"e\u0301\u0301\u0301\u0301", false},
		{"\u0301Heron", false}, // mark without a letter
		{"Heron \u0301", false},
		{"𝐇𝐞𝐫𝐨𝐧", false},  // mathematical bold
		{"Ｈｅｒｏｎ", false},  // full-width
		{"Heron１", false}, // full-width digit
		{"Неron", false},  // Cyrillic Н mixed with Latin
		{"Hεron", false},  // Greek ε mixed with Latin
		{"\xff\xfeHeron", false},
		// reserved
		{"Admin", false},
		{"ADMIN", false},
		{"admin heron", false},
		{"The Moderator", false},
		{"Owner", false},
		{"Post Master", false},
		{"Post-Master", false},
		{"Postmaster", false},
		{"Abuse", false},
		{"Root", false},
		{"r00t", false},
		{"Adm1n", false},
		{"ListServ", false},
		{"Ａｄｍｉｎ", false},
		{"Admín", false},
		{"Support Team", false},
		{"Help", false},
		{"Unsubscribe", false},
		{"Un-Subscribe", false},
		{"Anonymous", false},
		{"Nobody", false},
		{"Everyone", false},
		{"Helpful Heron", true}, // special names only as a whole name
	} {
		if got := ValidName(tc.in); got != tc.want {
			t.Errorf("ValidName(%q) = %v, want %v", trunc(tc.in), got, tc.want)
		}
	}
}

func TestIsReserved(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"postmaster", true},
		{"post-master", true},
		{"moderator-heron", true},
		{"quiet-moderator", true},
		{"r00t", true},
		{"unsubscribe", true},
		{"bounces", true},
		{"mailer-daemon", true},
		{"quiet-heron", false},
		{"help-heron", false},
		{"heron", false},
		{"", false},
	} {
		if got := IsReserved(tc.in); got != tc.want {
			t.Errorf("IsReserved(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// trunc shortens very long test inputs in failure messages.
func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

func FuzzSlug(f *testing.F) {
	for _, s := range []string{
		"Quiet Heron", "Zoë Ash", "O'Brien", "Straße", "Ｑｕｉｅｔ", "a\r\nb",
		"😀 Heron", "Тихая Цапля", "\xff", "", strings.Repeat("ß", 21),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		slug, ok := Slug(name)
		if !ok {
			if slug != "" {
				t.Fatalf("Slug(%q) = %q, false; want empty slug", name, slug)
			}
			return
		}
		if !ValidSlug(slug) {
			t.Fatalf("Slug(%q) = %q, not a valid slug", name, slug)
		}
		if again, ok := Slug(slug); !ok || again != slug {
			t.Fatalf("Slug(%q) = %q, %v; want it unchanged", slug, again, ok)
		}
	})
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"Quiet Heron", "Zoë", "Admin", "a\r\nb", "\u3164\u3164\u3164", "Неron"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !ValidName(name) {
			return
		}
		if !utf8.ValidString(name) {
			t.Fatalf("ValidName accepted invalid UTF-8 %q", name)
		}
		if n := utf8.RuneCountInString(name); n < MinNameLen || n > MaxNameLen {
			t.Fatalf("ValidName accepted %q of %d runes", name, n)
		}
		if strings.ContainsAny(name, "@\"<>,;:\\()\r\n") || strings.HasPrefix(name, " ") || strings.HasSuffix(name, " ") {
			t.Fatalf("ValidName accepted %q", name)
		}
		for _, r := range name {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || (unicode.IsSpace(r) && r != ' ') {
				t.Fatalf("ValidName accepted %q with %U", name, r)
			}
		}
		if IsReserved(name) {
			t.Fatalf("ValidName accepted reserved %q", name)
		}
		if slug, ok := Slug(name); ok && !ValidSlug(slug) {
			t.Fatalf("Slug(%q) = %q", name, slug)
		}
	})
}
