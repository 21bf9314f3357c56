package anon

import (
	"bytes"
	"testing"
)

func TestDropSignature(t *testing.T) {
	tests := map[string]string{
		"text\r\n-- \r\nsig\r\nmore\r\n": "text\r\n",
		"-- \r\nonly a signature\r\n":    "",
		"-- ":                            "",
		"text\r\n-- ":                    "text\r\n",
		"text\r\n--\r\nnot a sig\r\n":    "text\r\n--\r\nnot a sig\r\n",
		"text\r\n-- x\r\n":               "text\r\n-- x\r\n",
		"text\r\n> -- \r\nquoted\r\n":    "text\r\n> -- \r\nquoted\r\n",
		"a -- \r\nb\r\n":                 "a -- \r\nb\r\n",
		"a\r\n-- \r\nb\r\n-- \r\nc\r\n":  "a\r\n",
	}
	for in, want := range tests {
		if got := string(dropSignature([]byte(in))); got != want {
			t.Errorf("dropSignature(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReplaceAll(t *testing.T) {
	from := Address{Addr: "Ann.Lee@example.org", Name: "Ann Lee"}
	rs := authorRepls(from, "ALIAS@x", "Quiet Heron")
	tests := map[string]string{
		"I am Ann Lee.":                  "I am Quiet Heron.",
		"ANN LEE and ann   lee":          "Quiet Heron and Quiet Heron",
		"Ann\r\nLee wrote":               "Quiet Heron wrote",
		"Ann Leeds, Joann Lee, Ann Lee2": "Quiet Heron Leeds, Joann Quiet Heron Lee2",
		"Lee, Ann signed":                "Quiet Heron signed",
		"write to Ann.Lee or ann%40":     "write to Quiet Heron or Quiet Heron%40",
		"ann.lee%40example.org":          "ALIAS%40x",
		"Annabel Leeway":                 "Annabel Leeway",
		"mail ann.lee@EXAMPLE.org now":   "mail ALIAS@x now",
		"xann.lee@example.org.uk":        "xALIAS@x.uk",
		"Ann Lee <ann.lee@example.org>":  "Quiet Heron <ALIAS@x>",
		"Ann Lee Ann Lee":                "Quiet Heron Quiet Heron",
		"nothing here":                   "nothing here",
		"":                               "",
		"\xffAnn Lee\xfe":                "\xffQuiet Heron\xfe",
		"Ann LeeAnn Lee":                 "Quiet Heron LeeAnn Quiet Heron",
		"xAnn Lee, Ann Lee":              "xAnn Quiet Heron Quiet Heron", // "Lee, Ann" is the name too
		"(Ann Lee)":                      "(Quiet Heron)",
		"ann lee's cat":                  "Quiet Heron's cat",
		"ÉAnn Lee":                       "ÉAnn Quiet Heron",
	}
	for in, want := range tests {
		if got := string(replaceAll([]byte(in), rs)); got != want {
			t.Errorf("replaceAll(%q) = %q, want %q", in, got, want)
		}
	}

	// The alias contains the author's name: it must not be rewritten again.
	rs = authorRepls(Address{Addr: "h@x.example", Name: "Heron"}, "recovery+quiet-heron@l.example", "Quiet Heron")
	if got := string(replaceAll([]byte("Heron, h@x.example"), rs)); got != "Quiet Heron, recovery+quiet-heron@l.example" {
		t.Errorf("alias rewritten twice: %q", got)
	}

	// Unicode case folding.
	rs = authorRepls(Address{Name: "Zoë Ñúñez"}, "", "Quiet Heron")
	if got := string(replaceAll([]byte("ZOË ÑÚÑEZ"), rs)); got != "Quiet Heron" {
		t.Errorf("unicode name: %q", got)
	}

	// Too short to search; a name that is the address.
	if rs = authorRepls(Address{Addr: "i@x.example", Name: "I"}, "A", "N"); len(rs) != 2 { // address and %40 form
		t.Errorf("one-letter name searched: %d repls", len(rs))
	}
	rs = authorRepls(Address{Addr: "i@x.example", Name: "i@x.example"}, "A", "N")
	if got := string(replaceAll([]byte("to i@x.example."), rs)); got != "to A." {
		t.Errorf("name equal to address: %q", got)
	}
}

func TestCP1252RoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if got := encodeCP1252(decodeCP1252(all)); !bytes.Equal(got, all) {
		t.Errorf("round trip lost bytes")
	}
	if got := decodeCP1252([]byte("\x80 \x96 \xe9")); got != "€ – é" {
		t.Errorf("decodeCP1252 = %q", got)
	}
	if got := string(encodeCP1252("a€ö✓")); got != "a\x80\xf6?" {
		t.Errorf("encodeCP1252 = %q", got)
	}
	if got := fixUTF8("Caf\xe9 ok é \x96"); got != "Café ok é –" {
		t.Errorf("fixUTF8 = %q", got)
	}
}

func TestReplaceAllOddNames(t *testing.T) {
	tests := []struct {
		from     Address
		in, want string
	}{
		{Address{Addr: `"jane doe"@x.example`}, `to "JANE DOE"@X.example!`, "to A!"},
		{Address{Name: "Ren\uFFFD Dubois"}, "Ren\xe9 Dubois", "N"},
		{Address{Name: "kelvin"}, "\u212Aelvin", "N"},
		{Address{Name: "Stra\u00dfe Weg"}, "STRASSE WEG", "STRASSE N"},     // simple folding only: the part "Weg" still matches
		{Address{Name: "Hope Will"}, "I hope you will", "I hope you will"}, // parts that are common words stay
		{Address{Name: "Ingrid Lindqvist"}, "Thanks, Ingrid. LINDQVIST, Ingrid", "Thanks, N. N"},
		{Address{Name: "A  B"}, "a\t \r\n b", "N"},
		{Address{Name: "A B"}, "a\r b", "a\r b"},
	}
	for _, tt := range tests {
		if got := string(replaceAll([]byte(tt.in), authorRepls(tt.from, "A", "N"))); got != tt.want {
			t.Errorf("%+v in %q: %q, want %q", tt.from, tt.in, got, tt.want)
		}
	}
}
