package senderauth

// Authentication-Results (RFC 8601) from a trusted front MTA, for mail
// that arrives over LMTP (Envelope.LMTP).
//
// Behind a front MTA the service cannot judge SPF (its client is that
// MTA), so over LMTP it verifies DKIM itself and, when
// Checker.TrustedAuthservID is set (auth.trusted_authserv_id), also
// believes what the front MTA recorded: only the topmost
// Authentication-Results field of the message, and only when its
// authserv-id is exactly the configured one. Every other such field is
// ignored: the sender may have written them. The topmost field proves the
// From domain when it holds
//
//   - dmarc=pass with header.from equal to the From domain, or
//   - dkim=pass with header.d aligned with the From domain, or
//   - spf=pass with smtp.mailfrom aligned with the From domain,
//
// where alignment is the same as for our own checks (relaxed unless the
// From domain's DMARC record asks for strict alignment). Anything else
// (no such field, another authserv-id, fail, none) falls back to our own
// DKIM verification. Over port 25 and submission the fields are never
// read.
//
// This is safe only when the front MTA adds its own field above the
// sender's header to every message it hands over (Postfix with an
// OpenDKIM/OpenDMARC milter inserts it at the top; in Exim use
// add_header = :at_start:...), so that a field forged by the sender is
// never the topmost one; and when the LMTP listener is reachable only by
// that MTA. RFC 8601 §5 also asks the MTA to remove fields that carry its
// own authserv-id from incoming mail: the service does not depend on it.

import (
	"strings"
)

// authResult is one resinfo of an Authentication-Results field:
// method=result and its properties (ptype.property, lower case).
type authResult struct {
	method, result string
	props          map[string]string
}

// parseAuthResults reads a field value: the authserv-id (lower case)
// and its results. Comments are dropped. ok is false when the value has
// no authserv-id.
func parseAuthResults(v string) (id string, results []authResult, ok bool) {
	v = stripComments(strings.NewReplacer("\r", "", "\n", "").Replace(v))
	parts := splitQuoted(v, func(r rune) bool { return r == ';' })
	if len(parts) == 0 {
		return "", nil, false
	}
	head := splitQuoted(parts[0], isSpace)
	if len(head) == 0 {
		return "", nil, false
	}
	id = strings.ToLower(unquote(head[0]))
	for _, p := range parts[1:] {
		// "method = result" may have spaces around '='.
		toks := splitQuoted(joinEquals(p), isSpace)
		if len(toks) == 0 {
			continue
		}
		m, r, found := strings.Cut(toks[0], "=")
		if !found {
			continue // "none", or garbage
		}
		ar := authResult{method: strings.ToLower(m), result: strings.ToLower(unquote(r)), props: map[string]string{}}
		if i := strings.IndexByte(ar.method, '/'); i >= 0 {
			ar.method = ar.method[:i] // method version
		}
		for _, t := range toks[1:] {
			k, val, found := strings.Cut(t, "=")
			if !found || !strings.Contains(k, ".") {
				continue // reason=, or unknown
			}
			ar.props[strings.ToLower(k)] = unquote(val)
		}
		results = append(results, ar)
	}
	return id, results, true
}

// trustedAuthResults evaluates the topmost Authentication-Results field
// of a message against the From domain: "pass" when it comes from
// authservID and proves the domain (with the alignment modes m), "untrusted"
// when it carries another authserv-id or there is none, "none" when it
// is ours but proves nothing, "temperror" when the alignment mode could
// not be read.
func trustedAuthResults(fields []string, authservID, fromDomain string, m *modeLookup) string {
	if len(fields) == 0 {
		return "untrusted"
	}
	id, results, ok := parseAuthResults(fields[0])
	if !ok || id != strings.ToLower(authservID) {
		return "untrusted"
	}
	verdict := "none"
	for _, r := range results {
		if r.result != "pass" {
			continue
		}
		var d string
		forSPF := false
		switch r.method {
		case "dmarc":
			if normalize(r.props["header.from"]) == fromDomain {
				return "pass"
			}
			continue
		case "dkim":
			d = r.props["header.d"]
			if d == "" {
				d = domainOf(r.props["header.i"])
			}
		case "spf":
			d = r.props["smtp.mailfrom"]
			if strings.Contains(d, "@") {
				d = domainOf(d)
			}
			forSPF = true
		default:
			continue
		}
		d = normalize(d)
		if d == fromDomain {
			return "pass"
		}
		if !Aligned(d, fromDomain) {
			continue
		}
		switch strict, err := m.strict(forSPF); {
		case err != nil:
			verdict = "temperror"
		case !strict:
			return "pass"
		}
	}
	return verdict
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' }

// stripComments removes RFC 5322 comments (nested parentheses, quoted
// pairs), leaving quoted strings alone.
func stripComments(s string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (quoted || depth > 0) && i+1 < len(s):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case quoted:
			if c == '"' {
				quoted = false
			}
			b.WriteByte(c)
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth > 0:
		case c == '"':
			quoted = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitQuoted splits s at the runes sep matches outside quoted strings,
// dropping empty pieces and trimming spaces.
func splitQuoted(s string, sep func(rune) bool) []string {
	var out []string
	start, quoted, escaped := 0, false, false
	add := func(p string) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	for i, r := range s {
		switch {
		case escaped: // the character after a backslash in a quoted string
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case !quoted && sep(r):
			add(s[start:i])
			start = i + len(string(r))
		}
	}
	add(s[start:])
	return out
}

// joinEquals removes the spaces around '=' outside quoted strings.
func joinEquals(s string) string {
	var b strings.Builder
	quoted, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
			b.WriteByte(c)
			continue
		case quoted && c == '\\':
			escaped = true
			b.WriteByte(c)
			continue
		case c == '"':
			quoted = !quoted
		}
		if !quoted && isSpace(rune(c)) {
			j := i
			for j < len(s) && isSpace(rune(s[j])) {
				j++
			}
			prev := b.Len() > 0 && b.String()[b.Len()-1] == '='
			if prev || j < len(s) && s[j] == '=' {
				i = j - 1
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
		s = strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(s)
	}
	return s
}
