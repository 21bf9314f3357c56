package anon

import "strings"

// Reasons returned by [Message.Robot]. They are fixed strings, safe to log.
const (
	RobotLoop          = "loop: carries our List-Id"
	RobotAutoSubmitted = "Auto-Submitted"
	RobotPrecedence    = "Precedence bulk/junk/list"
	RobotAutoreply     = "X-Autoreply"
	RobotAutorespond   = "X-Autorespond"
)

// ListID returns the List-Id field value of a group (RFC 2919), e.g.
// "<recovery.lists.example.org>" for group "recovery" on domain
// "lists.example.org". The domain is lower-cased.
func ListID(group, domain string) string {
	return "<" + group + "." + strings.ToLower(domain) + ">"
}

// Robot reports why m must be dropped silently, or "" when it is an
// ordinary post. The checks, all case-insensitive, in this order:
//
//   - a List-Id field naming listID (with or without brackets): the list's
//     own copy came back (a loop);
//   - Auto-Submitted with a keyword other than "no" (RFC 3834); a field
//     with no keyword at all is ignored, as a human client never writes it;
//   - Precedence bulk, junk or list;
//   - an X-Autoreply or X-Autorespond field, whatever its value.
//
// An empty listID skips the loop check. The reason is one of the Robot*
// constants.
func (m *Message) Robot(listID string) string {
	if m == nil {
		return ""
	}
	want := strings.ToLower(strings.Trim(strings.TrimSpace(listID), "<>"))
	if want != "" {
		for _, v := range m.Header.Values("List-Id") {
			if listIDOf(v) == want {
				return RobotLoop
			}
		}
	}
	for _, v := range m.Header.Values("Auto-Submitted") {
		if k := firstKeyword(v); k != "" && k != "no" {
			return RobotAutoSubmitted
		}
	}
	for _, v := range m.Header.Values("Precedence") {
		switch firstKeyword(v) {
		case "bulk", "junk", "list":
			return RobotPrecedence
		}
	}
	if m.Header.Has("X-Autoreply") {
		return RobotAutoreply
	}
	if m.Header.Has("X-Autorespond") {
		return RobotAutorespond
	}
	return ""
}

// listIDOf returns the lower-cased list-id of a List-Id value: the text
// between the last pair of angle brackets, or the whole trimmed value
// when there are none (some list servers omit them).
func listIDOf(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.ToLower(strings.TrimSpace(v[i+1 : i+j]))
		}
	}
	return strings.ToLower(v)
}

// firstKeyword returns the lower-cased first token of a structured value,
// skipping comments and stopping at ';', '(' or white space:
// "Auto-Replied; owner-email=x" gives "auto-replied".
func firstKeyword(v string) string {
	v = strings.TrimSpace(stripComments(v))
	if i := strings.IndexAny(v, "; \t"); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(v)
}

// stripComments removes RFC 5322 comments (nested parentheses, with
// quoted-pairs) from v.
func stripComments(v string) string {
	if !strings.Contains(v, "(") {
		return v
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && depth > 0:
			i++
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}
