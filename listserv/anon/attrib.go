package anon

import (
	"strings"
)

// Mobile and webmail footers: a line that starts with one of these
// (case-insensitive, after trimming) and is shorter than maxFooter is
// removed. They name the author's phone or provider, and some add the
// author's name ("Sent from Jane's iPad").
var footerPrefixes = []string{
	"sent from my ", "sent from mail for windows", "sent from outlook", "get outlook for ",
	"sent from yahoo mail", "sent from the all new aol app", "sent from aol",
	"sent from proton mail", "sent from protonmail", "sent with proton mail",
	"sent from samsung", "sent via the samsung", "sent from gmail mobile",
	"sent from my iphone", "sent from my ipad", "sent from fastmail",
	"von meinem ", "envoyé de mon ", "envoyé depuis mon ", "enviado desde mi ",
	"enviado do meu ", "inviato da ", "verzonden vanaf mijn ", "skickat från min ",
}

const maxFooter = 120

// dropFooters removes footer lines from s, whose lines end in CRLF or LF.
func dropFooters(s string) string {
	low := strings.ToLower(s)
	if !strings.Contains(low, "sent ") && !strings.Contains(low, "get outlook") && !strings.Contains(low, "von meinem") &&
		!strings.Contains(low, "envoy") && !strings.Contains(low, "enviado") && !strings.Contains(low, "inviato") &&
		!strings.Contains(low, "verzonden") && !strings.Contains(low, "skickat") {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if !isFooter(l) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

func isFooter(line string) bool {
	t := strings.ToLower(strings.TrimSpace(line))
	if t == "" || len(t) > maxFooter {
		return false
	}
	for _, p := range footerPrefixes {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// Attribution lines end with one of these, case-insensitively, after
// trimming ("On Mon, 23 Nov 2026, Jane Doe <jane@example.com> wrote:").
var attributionEnds = []string{
	"wrote:", "writes:", "a écrit :", "a écrit:", "schrieb:", "escribió:",
	"scrisse:", "schreef:", "skrev:", "napisał:", "escreveu:",
}

// Outlook reply headers: a "From:" line followed within three lines by a
// "Sent:" or "Date:" line starts a header block; its From, To and Cc lines
// are rewritten.
var (
	blockFrom = []string{"from:", "*from:*", "von:", "de :", "de:", "da:", "van:"}
	blockSent = []string{"sent:", "*sent:*", "date:", "*date:*", "gesendet:", "envoyé :", "envoyé:", "enviado:", "inviato:", "verzonden:"}
	blockAddr = []string{"to:", "*to:*", "cc:", "*cc:*", "an:", "à :", "à:", "para:", "a:", "aan:"}
)

// attributions rewrites the attribution lines of s (CRLF or LF lines);
// the names and addresses it writes are hidden in sh, so that the
// author's replacements do not run over them:
//
//   - "On <date>, <who> wrote:" (also over two lines, as Gmail wraps it,
//     and inside "> " quotes) becomes "<Who> wrote:", where Who is the
//     alias of the author or of the member whose address the line names,
//     or "Someone" for a stranger: the date goes too, its time and zone
//     say where the quoted person lives. A line that names only list
//     addresses (aliases already) stays as it is; so does one without
//     any address (names in it are scrubbed like the rest of the text).
//   - mutt's "* <who> [<date>]:" becomes "* <Who>:".
//   - In an Outlook header block ("From: …" then "Sent: …"), the From
//     line becomes "From: <Who>" and the addresses of To and Cc lines
//     become alias addresses, or "someone".
func (sc *scrubber) attributions(s string, sh *shield) string {
	if !strings.Contains(s, "@") {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	for i := 0; i < len(lines); i++ {
		quote, body, eol := splitQuote(lines[i])
		low := strings.ToLower(strings.TrimSpace(body))
		switch {
		case isAttribution(low) && strings.Contains(body, "@"):
			if who, ok := sc.who(body); ok {
				lines[i] = quote + sh.hide(who) + " wrote:" + eol
			}
		case i+1 < len(lines) && strings.HasPrefix(low, "on ") && !strings.HasSuffix(low, ":"):
			q2, body2, eol2 := splitQuote(lines[i+1])
			joined := body + " " + body2
			if q2 == quote && isAttribution(strings.ToLower(strings.TrimSpace(body2))) && strings.Contains(joined, "@") {
				if who, ok := sc.who(joined); ok {
					lines[i] = quote + sh.hide(who) + " wrote:" + eol2
					lines[i+1] = ""
					i++
				}
			}
		case strings.HasPrefix(low, "* ") && strings.HasSuffix(low, "]:") && strings.Contains(body, "@"):
			if who, ok := sc.who(body); ok {
				lines[i] = quote + "* " + sh.hide(who) + ":" + eol
			}
		case hasAnyPrefix(low, blockFrom) && sentFollows(lines[i+1:]):
			i = sc.headerBlock(lines, i, sh)
		}
	}
	return strings.Join(lines, "")
}

func isAttribution(low string) bool {
	for _, e := range attributionEnds {
		if strings.HasSuffix(low, e) {
			return true
		}
	}
	return false
}

// splitQuote splits a line into its quote prefix ("> > "), its text and
// its line ending.
func splitQuote(line string) (quote, body, eol string) {
	body = strings.TrimRight(line, "\r\n")
	eol = line[len(body):]
	i := 0
	for i < len(body) && (body[i] == '>' || body[i] == ' ') {
		i++
	}
	return body[:i], body[i:], eol
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// sentFollows reports whether one of the next three lines starts an
// Outlook "Sent:" or "Date:" line.
func sentFollows(next []string) bool {
	for i := 0; i < len(next) && i < 3; i++ {
		_, body, _ := splitQuote(next[i])
		if hasAnyPrefix(strings.ToLower(strings.TrimSpace(body)), blockSent) {
			return true
		}
	}
	return false
}

// headerBlock rewrites an Outlook header block starting at lines[i] and
// returns the index of its last line.
func (sc *scrubber) headerBlock(lines []string, i int, sh *shield) int {
	quote, body, eol := splitQuote(lines[i])
	if strings.Contains(body, "@") {
		if who, ok := sc.who(body); ok {
			lines[i] = quote + body[:strings.IndexByte(body, ':')+1] + " " + sh.hide(who) + eol
		}
	}
	for j := i + 1; j < len(lines) && j < i+8; j++ {
		quote, body, eol := splitQuote(lines[j])
		low := strings.ToLower(strings.TrimSpace(body))
		if low == "" || strings.HasPrefix(low, "subject:") || strings.HasPrefix(low, "*subject:*") || strings.HasPrefix(low, "betreff:") || strings.HasPrefix(low, "objet") {
			return j
		}
		if hasAnyPrefix(low, blockAddr) && strings.Contains(body, "@") {
			colon := strings.IndexByte(body, ':')
			lines[j] = quote + body[:colon+1] + " " + sh.hide(sc.addressList(body[colon+1:])) + eol
		}
	}
	return i
}

// who names the person an attribution line is about: the alias of the
// first address in it that belongs to the author or a member, "Someone"
// when it names only strangers. ok is false when the line names only list
// addresses (aliases already) and is best left as it is.
func (sc *scrubber) who(line string) (string, bool) {
	stranger := false
	var name string
	eachAddress(line, func(start, end int) {
		if name != "" {
			return
		}
		addr := line[start:end]
		if a, ok := sc.aliasFor(addr); ok {
			name = a.Name
			if name == "" {
				name = a.Addr
			}
		} else if !sc.ours(addr) {
			stranger = true
		}
	})
	switch {
	case name != "":
		return name, true
	case stranger:
		return "Someone", true
	}
	return "", false
}

// addressList rewrites the value of a To or Cc line of a header block:
// each address becomes its alias address, a list address stays, and a
// stranger's becomes "someone"; names are dropped.
func (sc *scrubber) addressList(v string) string {
	var out []string
	eachAddress(v, func(start, end int) {
		addr := v[start:end]
		switch a, ok := sc.aliasFor(addr); {
		case ok:
			out = append(out, a.Addr)
		case sc.ours(addr):
			out = append(out, addr)
		default:
			out = append(out, "someone")
		}
	})
	return strings.Join(out, "; ")
}
