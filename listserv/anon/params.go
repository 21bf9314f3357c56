package anon

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// validate checks that every value of p can be written into a header as
// is. Domain and Hostname are expected lower-cased already.
func (p Params) validate() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrParams, what) }
	switch {
	case !isToken(p.Group, "._-"):
		return bad("Group")
	case !isHostname(p.Domain):
		return bad("Domain")
	case p.Hostname != "" && !isHostPort(p.Hostname):
		return bad("Hostname")
	case !isToken(p.AliasSlug, "._-"):
		return bad("AliasSlug")
	case !isPhrase(p.AliasName):
		return bad("AliasName")
	case !validID(p.MessageID):
		return bad("MessageID")
	case p.Date.IsZero():
		return bad("Date")
	}
	if p.Private {
		a := p.PrivateTo
		at := strings.LastIndexByte(a.Addr, '@')
		if at <= 0 || !isToken(a.Addr[:at], "._-+=") || !isHostname(strings.ToLower(a.Addr[at+1:])) {
			return bad("PrivateTo.Addr")
		}
		if a.Name != "" && !isPhrase(a.Name) {
			return bad("PrivateTo.Name")
		}
	}
	return nil
}

// isToken reports whether s is 1–64 ASCII letters, digits or bytes of
// extra.
func isToken(s, extra string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// isHostPort reports whether s is a host name optionally followed by
// :port.
func isHostPort(s string) bool {
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		port := s[i+1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return false
		}
		s = s[:i]
	}
	return isHostname(s)
}

// isHostname reports whether s is a lower-case DNS name: dot-separated
// labels of letters, digits and hyphens.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// isPhrase reports whether s is a usable display name: 1–128 bytes of
// valid UTF-8 without control characters.
func isPhrase(s string) bool {
	if strings.TrimSpace(s) == "" || len(s) > 128 || !utf8.ValidString(s) {
		return false
	}
	return strings.IndexFunc(s, unicode.IsControl) < 0
}
