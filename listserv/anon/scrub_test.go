package anon

import (
	"strings"
	"testing"
)

// testScrubber hides Jane Doe (jane.doe@example.com) as Quiet Heron; Bob
// (bob@example.net) is another member, Gentle Otter.
func testScrubber() *scrubber {
	p := testParams("scrub")
	p.Member = func(addr string) (Address, bool) {
		if strings.EqualFold(addr, "bob@example.net") {
			return Address{Name: "Gentle Otter", Addr: "recovery+gentle-otter@lists.example.org"}, true
		}
		return Address{}, false
	}
	return newScrubber(Address{Addr: "jane.doe@example.com", Name: "Jane Doe"}, p)
}

func TestScrubPlain(t *testing.T) {
	sc := testScrubber()
	tests := []struct{ name, in, want string }{
		{"member address", "write to bob@example.net or BOB@EXAMPLE.NET.\r\n",
			"write to recovery+gentle-otter@lists.example.org or recovery+gentle-otter@lists.example.org.\r\n"},
		{"stranger and list addresses stay", "help@samaritans.example and recovery@lists.example.org\r\n",
			"help@samaritans.example and recovery@lists.example.org\r\n"},
		{"author", "I am Jane (jane.doe@example.com), Doe, Jane on forms.\r\n",
			"I am Quiet Heron (recovery+quiet-heron@lists.example.org), Quiet Heron on forms.\r\n"},
		{"mobile footer", "See you.\r\n\r\nSent from my iPhone\r\n", "See you.\r\n\r\n"},
		{"footer needs its own line", "I sent from my phone a photo.\r\n", "I sent from my phone a photo.\r\n"},
		{"signature", "Text\r\n-- \r\nJane Doe\r\n+44 7700 900123\r\n", "Text\r\n"},
		{"attribution of a stranger", "On Mon, 23 Nov 2026 at 21:14, Dr Ahmed <ahmed@clinic.example> wrote:\r\n> take care\r\n",
			"Someone wrote:\r\n> take care\r\n"},
		{"attribution of a member", "On Mon, 23 Nov 2026, Bob Smith <bob@example.net> wrote:\r\n> hi\r\n",
			"Gentle Otter wrote:\r\n> hi\r\n"},
		{"attribution of the author, two lines", "On Mon, Nov 23, 2026 at 9:14 PM Janey <\r\njane.doe@example.com> wrote:\r\n> old\r\n",
			"Quiet Heron wrote:\r\n> old\r\n"},
		{"attribution of an alias stays", "> On 14 Mar 2025, at 09:47, Quiet Heron <recovery+quiet-heron@lists.example.org> wrote:\r\n",
			"> On 14 Mar 2025, at 09:47, Quiet Heron <recovery+quiet-heron@lists.example.org> wrote:\r\n"},
		{"quoted attribution", "> > Le 3 nov. 2026, Marie <marie@x.example> a écrit :\r\n",
			"> > Someone wrote:\r\n"},
		{"mutt", "* Bob <bob@example.net> [2026-11-24 10:00]:\r\n", "* Gentle Otter:\r\n"},
		{"outlook block",
			"From: Bob Smith <bob@example.net>\r\nSent: Monday, 23 November 2026 21:14\r\nTo: recovery@lists.example.org; Mum <mum@home.example>\r\nSubject: Re: nights\r\n\r\ntext\r\n",
			"From: Gentle Otter\r\nSent: Monday, 23 November 2026 21:14\r\nTo: recovery@lists.example.org; someone\r\nSubject: Re: nights\r\n\r\ntext\r\n"},
		{"From line without Sent is text", "From: bob@example.net, with love\r\n",
			"From: recovery+gentle-otter@lists.example.org, with love\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sc.plain(tt.in); got != tt.want {
				t.Errorf("plain(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEachAddress(t *testing.T) {
	in := "a@b.c, <x.y+z@sub.example.org>. not@this nor @that.org; .dot@lead.example.- mailto:m@n.example?x"
	var got []string
	eachAddress(in, func(s, e int) { got = append(got, in[s:e]) })
	want := []string{"a@b.c", "x.y+z@sub.example.org", "dot@lead.example", "m@n.example"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("eachAddress = %q, want %q", got, want)
	}
}

// A member's address in a mailto link (as HTML attribute values reach the
// scrubber) becomes their alias address.
func TestMailtoMember(t *testing.T) {
	sc := testScrubber()
	if got := sc.replace(`<a href="mailto:bob@example.net">`); got != `<a href="mailto:recovery+gentle-otter@lists.example.org">` {
		t.Errorf("mailto: %q", got)
	}
}

// What the scrubber writes is never scrubbed again: an author whose name
// is a word of the list domain or of an alias keeps those intact.
func TestScrubWritesOnce(t *testing.T) {
	p := testParams("once")
	p.Member = testScrubber().member
	sc := newScrubber(Address{Addr: "otter@example.org", Name: "Lists Otter"}, p)
	in := "Mail otter@example.org or bob@example.net.\r\nOn Mon, Bob <bob@example.net> wrote:\r\n"
	want := "Mail recovery+quiet-heron@lists.example.org or recovery+gentle-otter@lists.example.org.\r\nGentle Otter wrote:\r\n"
	if got := sc.plain(in); got != want {
		t.Errorf("plain:\n got %q\nwant %q", got, want)
	}
	if got := sc.replace("\ue000\uf000\ue001 Lists"); got != "\ue000\uf000\ue001 Quiet Heron" {
		t.Errorf("text holding the shield's runes: %q", got)
	}
}

// Names typed in decomposed Unicode (macOS) match the composed From, a
// membership's known name is scrubbed when From has none, and URL-encoded
// member addresses are mapped.
func TestScrubNormalizedNamesAndEncodedAddresses(t *testing.T) {
	p := testParams("nfd")
	p.Member = testScrubber().member
	p.AuthorNames = []string{"Jörg Müller"}
	raw := "From: <jm@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"link: https://x.example/?to=bob%40example.net&c=1 and Bob%40EXAMPLE%2Enet\r\n\r\nGr\u00fc\u00dfe, Jo\u0308rg Mu\u0308ller\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Anonymize(m, p)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if strings.Contains(text, "ller") || strings.Contains(text, "rg") && strings.Contains(text, "J\u00f6") {
		t.Errorf("the name survived:\n%s", out)
	}
	if strings.Contains(strings.ToLower(text), "bob%40") || strings.Count(text, "recovery%2Bgentle-otter%40lists.example.org") != 2 {
		t.Errorf("encoded member address not mapped:\n%s", out)
	}
}

func TestBareDashSignature(t *testing.T) {
	for in, want := range map[string]string{
		"Text\r\n--\r\nJane Doe\r\n+1 555 0100\r\n":           "Text\r\n",
		"Text\r\n--\r\nmore text\r\n":                         "Text\r\n",
		"a\r\n--\r\n1\r\n2\r\n3\r\n4\r\n5\r\n6\r\n7\r\n8\r\n": "a\r\n--\r\n1\r\n2\r\n3\r\n4\r\n5\r\n6\r\n7\r\n8\r\n", // too long: a separator
		"a\r\n--\r\n> quoted\r\n":                             "a\r\n--\r\n> quoted\r\n",
		"no dashes\r\n":                                       "no dashes\r\n",
	} {
		if got := dropBareDashSignature(in); got != want {
			t.Errorf("dropBareDashSignature(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScrubGluedAndInvisible(t *testing.T) {
	sc := testScrubber()
	if got := sc.replace("see bob@example.net.csv"); got != "see recovery+gentle-otter@lists.example.org.csv" {
		t.Errorf("glued extension: %q", got)
	}
	raw := "From: Jane Doe <jane.doe@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nI am Ja\u200bne Do\u00ade.\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Anonymize(m, testParams("invisible"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "I am Quiet Heron.") {
		t.Errorf("a name split by invisible characters survived:\n%s", out)
	}
}
