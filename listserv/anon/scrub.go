package anon

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// scrubber rewrites the text of one message (subject, text and HTML
// parts, filenames) so that it names the author only by their alias and
// other members only by theirs.
type scrubber struct {
	author    []repl   // the author's address, name and name forms
	names     []string // the author's name and its distinctive parts, lower case
	authorLow string   // the author's address, lower case
	aliasAddr string
	aliasName string
	domain    string                            // the list domain: addresses there are aliases already
	member    func(addr string) (Address, bool) // Params.Member
}

func newScrubber(from Address, p Params) *scrubber {
	from.Name = norm.NFC.String(from.Name)
	sc := &scrubber{
		author:    authorRepls(from, p.AliasAddr(), p.AliasName),
		authorLow: strings.ToLower(from.Addr),
		aliasAddr: p.AliasAddr(),
		aliasName: p.AliasName,
		domain:    p.Domain,
		member:    p.Member,
	}
	sc.names = signOffNames(from.Name)
	for _, n := range p.AuthorNames {
		if n = norm.NFC.String(n); n != "" && !strings.EqualFold(n, from.Name) {
			sc.author = append(sc.author, nameRepls(n, p.AliasName)...)
			sc.names = append(sc.names, signOffNames(n)...)
		}
	}
	return sc
}

// signOffNames are the lower-case forms of a name a sign-off line may end
// with: the whole name and its distinctive parts.
func signOffNames(name string) []string {
	parts := nameParts(name)
	if len(parts) == 0 || len(name) > maxScrubName {
		return nil
	}
	names := []string{strings.ToLower(strings.Join(parts, " "))}
	for _, w := range parts {
		if countAlnum(w) >= minNamePart && !commonWord(w) {
			names = append(names, strings.ToLower(w))
		}
	}
	return names
}

// Limits on what the scrubber looks for: a longer name or address is not
// searched (it would be an odd thing to find in a body anyway).
const (
	maxScrubName = 256
	minNameRunes = 2
	minNamePart  = 3 // a single name part needs this many letters
)

// authorRepls returns the replacements that hide the author:
//
//   - their address, anywhere, case-insensitive, and its URL-encoded form
//     ("jane%40example.com", as links carry it), by aliasAddr;
//   - their local part when it is distinctive (see distinctiveLocal), as a
//     word, by aliasName;
//   - their whole display name, as words separated by any run of spaces,
//     tabs or line breaks, and its "Last, First" form, by aliasName;
//   - each part of the name with at least three letters that is not a
//     common English word ("Ingrid", "Lindqvist"; not "Will" or "Rose"),
//     as a word, by aliasName.
//
// A display name of fewer than two letters or digits is not searched:
// replacing every "I" of a text hides nobody.
func authorRepls(from Address, aliasAddr, aliasName string) []repl {
	var rs []repl
	if a := from.Addr; a != "" && len(a) <= maxScrubName {
		rs = append(rs, newRepl([]string{a}, false, aliasAddr))
		enc := strings.Replace(a, "@", "%40", 1)
		rs = append(rs, newRepl([]string{enc}, false, url.QueryEscape(aliasAddr)))
		if local := a[:strings.LastIndexByte(a, '@')]; distinctiveLocal(local) {
			rs = append(rs, newRepl([]string{local}, true, aliasName))
		}
	}
	return append(rs, nameRepls(from.Name, aliasName)...)
}

// nameRepls are the replacements of a display name: see authorRepls.
func nameRepls(name, aliasName string) []repl {
	var rs []repl
	if len(name) > maxScrubName || countAlnum(name) < minNameRunes {
		return rs
	}
	rs = append(rs, newRepl(strings.Fields(name), true, aliasName))
	parts := nameParts(name)
	if n := len(parts); n >= 2 {
		rs = append(rs, newRepl(parts, true, aliasName))
		// "Doe, Jane" for "Jane Doe"; "Jane Doe" for "Doe, Jane".
		if strings.Contains(name, ",") {
			rs = append(rs, newRepl(append(append([]string{}, parts[1:]...), parts[0]), true, aliasName))
		} else {
			rs = append(rs, newRepl(append([]string{parts[n-1] + ","}, parts[:n-1]...), true, aliasName))
		}
	}
	for _, w := range parts {
		if countAlnum(w) >= minNamePart && !commonWord(w) {
			rs = append(rs, newRepl([]string{w}, true, aliasName))
		}
	}
	return rs
}

// nameParts splits a display name into its words without the punctuation
// around them ("Doe, Jane" → Doe, Jane; "J.R. Smith" → J.R, Smith).
func nameParts(name string) []string {
	var out []string
	for _, f := range strings.Fields(name) {
		f = strings.TrimFunc(f, func(r rune) bool { return !isAlnum(r) })
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// distinctiveLocal reports whether an address's local part is worth
// hiding on its own: at least four characters, not a role name everyone
// uses ("info", "contact") and not a common word.
func distinctiveLocal(local string) bool {
	if utf8.RuneCountInString(local) < 4 || len(local) > 64 {
		return false
	}
	switch strings.ToLower(local) {
	case "info", "mail", "admin", "contact", "hello", "office", "support", "noreply", "no-reply",
		"postmaster", "webmaster", "abuse", "sales", "team", "help", "root", "user", "test":
		return false
	}
	return !commonWord(local)
}

func countAlnum(s string) int {
	n := 0
	for _, r := range s {
		if isAlnum(r) {
			n++
		}
	}
	return n
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// replace hides the author and every member whose address appears in s:
// member addresses become their alias addresses, then the author's
// replacements run.
func (sc *scrubber) replace(s string) string {
	sh := newShield(s)
	return sh.restore(sc.hideAddresses(s, sh))
}

// hideAddresses runs mapAddresses, then the author's replacements, over s
// whose rewritten parts are hidden in sh: what one step writes, no later
// step reads.
func (sc *scrubber) hideAddresses(s string, sh *shield) string {
	s = sc.mapEncoded(s, sh)
	s = sc.mapAddresses(s, sh)
	return string(replaceAll([]byte(s), sc.author))
}

// mapAddresses replaces each address in s that belongs to the author or
// to a member by the matching alias address; when the address is written
// "Name <address>", the name goes too ("Gentle Otter <recovery+…>"), for
// we may not know the member's name otherwise. Addresses of the list
// domain (aliases already) and of strangers are left alone.
func (sc *scrubber) mapAddresses(s string, sh *shield) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	last := 0
	eachAddress(s, func(start, end int) {
		alias, ok := sc.aliasFor(s[start:end])
		if !ok {
			// "bob@example.net.csv": an address glued to a file
			// extension reads as a longer domain; try without the last
			// label.
			if dot := strings.LastIndexByte(s[start:end], '.'); dot > strings.IndexByte(s[start:end], '@') {
				if alias, ok = sc.aliasFor(s[start : start+dot]); ok {
					end = start + dot
				}
			}
		}
		if !ok || alias.Addr == "" || start < last {
			return
		}
		with := alias.Addr
		if start > 0 && s[start-1] == '<' && end < len(s) && s[end] == '>' && alias.Name != "" {
			if ps := phraseStart(s, start-1); ps >= last && ps < start-1 {
				start, end = ps, end+1
				with = alias.Name + " <" + alias.Addr + ">"
			}
		}
		b.WriteString(s[last:start])
		b.WriteString(sh.hide(with))
		last = end
	})
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// mapEncoded is mapAddresses for URL-encoded addresses
// ("bob.smith%40example.net", "jane%2Edoe%40example%2Ecom", as links
// carry them): each run of URL characters around a "%40" is decoded, and
// replaced by the encoded alias address when it names the author or a
// member.
func (sc *scrubber) mapEncoded(s string, sh *shield) string {
	low := strings.ToLower(s)
	if !strings.Contains(low, "%40") {
		return s
	}
	var b strings.Builder
	last := 0
	for i := strings.Index(low, "%40"); i >= 0; {
		start, end := i, i+3
		for start > last && isURLAddrChar(s[start-1]) {
			start--
		}
		for end < len(s) && isURLAddrChar(s[end]) {
			end++
		}
		if dec, err := url.PathUnescape(s[start:end]); err == nil {
			if alias, ok := sc.aliasFor(dec); ok && alias.Addr != "" {
				b.WriteString(s[last:start])
				b.WriteString(sh.hide(url.QueryEscape(alias.Addr)))
				last = end
			}
		}
		next := strings.Index(low[end:], "%40")
		if next < 0 {
			break
		}
		i = end + next
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isURLAddrChar reports whether c may be part of a URL-encoded address.
func isURLAddrChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._%+-", c) >= 0
}

// phraseStart returns where the display name before an angle-bracketed
// address starts (lt is the index of '<'): a quoted string, or up to four
// capitalized words on the same line; lt when there is none.
func phraseStart(s string, lt int) int {
	i := lt
	for i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
		i--
	}
	if i > 0 && s[i-1] == '"' {
		if q := strings.LastIndexByte(s[:i-1], '"'); q >= 0 && !strings.ContainsAny(s[q:i], "\r\n") {
			return q
		}
		return lt
	}
	start := lt
	for words := 0; words < 4; words++ {
		j := i
		for j > 0 && s[j-1] != ' ' && s[j-1] != '\t' && s[j-1] != '\n' && s[j-1] != ',' && s[j-1] != ':' && s[j-1] != ';' && s[j-1] != '>' {
			j--
		}
		w := s[j:i]
		r, _ := utf8.DecodeRuneInString(w)
		if w == "" || !unicode.IsUpper(r) || w == "AM" || w == "PM" {
			break
		}
		start = j
		i = j
		for i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
			i--
		}
	}
	return start
}

// aliasFor returns the alias of the person behind addr: the author's own,
// a member's, or ok=false for a stranger or an address of the list
// domain.
func (sc *scrubber) aliasFor(addr string) (Address, bool) {
	low := strings.ToLower(addr)
	if at := strings.LastIndexByte(low, '@'); at < 0 || low[at+1:] == sc.domain || strings.HasSuffix(low[at+1:], "."+sc.domain) {
		return Address{}, false
	}
	if low == sc.authorLow {
		return Address{Name: sc.aliasName, Addr: sc.aliasAddr}, true
	}
	if sc.member == nil || len(addr) > maxScrubName {
		return Address{}, false
	}
	return sc.member(addr)
}

// ours reports whether addr is an address of the list domain.
func (sc *scrubber) ours(addr string) bool {
	low := strings.ToLower(addr)
	at := strings.LastIndexByte(low, '@')
	return at >= 0 && (low[at+1:] == sc.domain || strings.HasSuffix(low[at+1:], "."+sc.domain))
}

// eachAddress calls fn with the byte range of each address-like token of
// s: a run of local-part characters, "@", and a domain with at least one
// dot.
func eachAddress(s string, fn func(start, end int)) {
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		start := i
		for start > 0 && isLocalChar(s[start-1]) {
			start--
		}
		end := i + 1
		for end < len(s) && isDomainChar(s[end]) {
			end++
		}
		for end > i+1 && (s[end-1] == '.' || s[end-1] == '-') {
			end--
		}
		for start < i && s[start] == '.' {
			start++
		}
		if start == i || !strings.Contains(s[i+1:end], ".") {
			continue
		}
		fn(start, end)
		i = end - 1
	}
}

func isLocalChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

// plain scrubs a text/plain body (UTF-8, CRLF lines): the signature block
// and mobile footers go, attribution lines are rewritten, then replace.
func (sc *scrubber) plain(s string) string {
	s = string(dropSignature([]byte(s)))
	s = dropBareDashSignature(s)
	s = sc.dropNamedSignature(s)
	s = dropFooters(s)
	sh := newShield(s)
	s = sc.attributions(s, sh)
	return sh.restore(sc.hideAddresses(s, sh))
}

// htmlText scrubs the text of one HTML text node or attribute value.
func (sc *scrubber) htmlText(s string) string {
	s = dropFooters(s)
	sh := newShield(s)
	s = sc.attributions(s, sh)
	return sh.restore(sc.hideAddresses(s, sh))
}

// shield stands in for text the scrubber has written while later steps
// run: each hidden value becomes three private-use runes (open, index,
// close) that no name or address can match, and restore puts the values
// back. open and close are picked so that they do not occur in the text.
type shield struct {
	open, close rune
	vals        []string
}

func newShield(s string) *shield {
	sh := &shield{open: 0xE000, close: 0xE001}
	for strings.ContainsRune(s, sh.open) || strings.ContainsRune(s, sh.close) {
		sh.open, sh.close = sh.open+2, sh.close+2
	}
	return sh
}

// maxHidden bounds the values one shield holds; the index rune lives in
// a private-use range above the open/close pairs.
const maxHidden = 0x1000

func (sh *shield) hide(v string) string {
	if len(sh.vals) >= maxHidden {
		return v // a text with thousands of addresses: no shield left
	}
	sh.vals = append(sh.vals, v)
	return string([]rune{sh.open, rune(0xF000 + len(sh.vals) - 1), sh.close})
}

func (sh *shield) restore(s string) string {
	if len(sh.vals) == 0 {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexRune(s, sh.open)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		rest := s[i+utf8.RuneLen(sh.open):]
		idx, n := utf8.DecodeRuneInString(rest)
		c, m := utf8.DecodeRuneInString(rest[n:])
		if k := int(idx) - 0xF000; c == sh.close && k >= 0 && k < len(sh.vals) {
			b.WriteString(sh.vals[k])
			s = rest[n+m:]
			continue
		}
		b.WriteRune(sh.open)
		s = rest
	}
}

// Sign-offs without "-- ": a short line that ends with the author's name
// (or a distinctive part of it) after a blank line or a line ending in a
// comma ("Thanks,"), followed by at most maxSigLines short lines and then
// a blank line, a quote, or the end, is read as a signature: the lines
// after the name go (job title, employer, phone), the name line stays and
// is scrubbed to the alias.
const (
	maxSigLines   = 6
	maxSigLineLen = 100
	maxSignOffLen = 40
)

func (sc *scrubber) dropNamedSignature(s string) string {
	if len(sc.names) == 0 {
		return s
	}
	lines := strings.Split(s, "\r\n")
	for i := 0; i < len(lines); i++ {
		if !sc.signOff(lines, i) {
			continue
		}
		j := i + 1
		for j < len(lines) && j-i <= maxSigLines && strings.TrimSpace(lines[j]) != "" &&
			!strings.HasPrefix(lines[j], ">") && len(lines[j]) <= maxSigLineLen {
			j++
		}
		if j == i+1 || j-i > maxSigLines {
			continue
		}
		if j < len(lines) && strings.TrimSpace(lines[j]) != "" && !strings.HasPrefix(lines[j], ">") {
			continue // the block runs on: text, not a signature
		}
		lines = append(lines[:i+1], lines[j:]...)
	}
	return strings.Join(lines, "\r\n")
}

// signOff reports whether lines[i] is a sign-off with the author's name,
// after a blank line or a line ending in a comma.
func (sc *scrubber) signOff(lines []string, i int) bool {
	if i > 0 {
		prev := strings.TrimSpace(lines[i-1])
		if prev != "" && !strings.HasSuffix(prev, ",") {
			return false
		}
	}
	return sc.signsOff(lines[i])
}

// signsOff reports whether a line is short and ends with the author's
// name or a distinctive part of it ("Jane Doe", "Thanks, Ingrid").
func (sc *scrubber) signsOff(line string) bool {
	l := strings.ToLower(strings.TrimSpace(line))
	l = strings.TrimRight(l, ".!")
	if l == "" || len(l) > maxSignOffLen {
		return false
	}
	for _, n := range sc.names {
		if l == n || strings.HasSuffix(l, " "+n) || strings.HasSuffix(l, ","+n) {
			return true
		}
	}
	return false
}

// dropBareDashSignature removes a signature whose "-- " line lost its
// space (many clients and editors strip trailing white space): a line
// that is exactly "--", followed by one to maxSigLines short, unquoted
// lines that end the text. A "--" with more after it is a separator and
// stays.
func dropBareDashSignature(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\r\n"), "\r\n")
	for i := len(lines) - 2; i >= 0 && i >= len(lines)-1-maxSigLines; i-- {
		if lines[i] != "--" {
			continue
		}
		for _, l := range lines[i+1:] {
			if len(l) > maxSigLineLen || strings.HasPrefix(l, ">") {
				return s
			}
		}
		return strings.Join(lines[:i], "\r\n") + "\r\n"
	}
	return s
}
