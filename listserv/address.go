package listserv

import (
	"strings"
)

// Role is what a group address is for (SPEC §2).
type Role int

// The roles of a group's addresses.
const (
	RolePost    Role = iota // recovery@
	RoleJoin                // recovery-join@
	RoleLeave               // recovery-leave@
	RoleRequest             // recovery-request@
	RoleOwner               // recovery-owner@
	RoleConfirm             // recovery-confirm+TOKEN@
	RoleBounce              // recovery-bounces+TOKEN@
	RolePrivate             // recovery+ALIAS@
)

var roleNames = [...]string{"post", "join", "leave", "request", "owner", "confirm", "bounces", "private"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "unknown"
}

// suffixes without a tag, and with one (after '+').
var (
	plainSuffixes = map[string]Role{"-join": RoleJoin, "-leave": RoleLeave, "-request": RoleRequest, "-owner": RoleOwner}
	taggedSuffix  = map[string]Role{"-confirm": RoleConfirm, "-bounces": RoleBounce}
)

// reservedSuffixes may not end a group name.
var reservedSuffixes = []string{"-join", "-leave", "-request", "-owner", "-confirm", "-bounces"}

// Target is a parsed group address.
type Target struct {
	Group string
	Role  Role
	// Tag is the alias slug (RolePrivate) or token (RoleConfirm,
	// RoleBounce), lower-cased.
	Tag string
}

// ValidGroupName reports whether name may name a group:
// [a-z0-9][a-z0-9.-]*, at most 64 characters, not ending in '.', '-' or a
// reserved suffix.
func ValidGroupName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, "-") || strings.Contains(name, "..") {
		return false
	}
	for _, s := range reservedSuffixes {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

func validTag(tag string) bool {
	if tag == "" || len(tag) > 64 {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ParseAddress splits addr ("local@domain") into a Target when its domain
// is domain and its local part has one of the forms of SPEC §2. It checks
// syntax only, not that the group exists.
func ParseAddress(addr, domain string) (Target, bool) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || !strings.EqualFold(addr[at+1:], domain) {
		return Target{}, false
	}
	local := strings.ToLower(addr[:at])
	if base, tag, ok := strings.Cut(local, "+"); ok {
		if !validTag(tag) {
			return Target{}, false
		}
		for suf, role := range taggedSuffix {
			if g, ok := strings.CutSuffix(base, suf); ok && ValidGroupName(g) {
				return Target{Group: g, Role: role, Tag: tag}, true
			}
		}
		if ValidGroupName(base) {
			return Target{Group: base, Role: RolePrivate, Tag: tag}, true
		}
		return Target{}, false
	}
	for suf, role := range plainSuffixes {
		if g, ok := strings.CutSuffix(local, suf); ok && ValidGroupName(g) {
			return Target{Group: g, Role: role}, true
		}
	}
	if ValidGroupName(local) {
		return Target{Group: local, Role: RolePost}, true
	}
	return Target{}, false
}

// Address writes the address of a group's role (tag for the tagged ones).
func Address(group string, role Role, tag, domain string) string {
	local := group
	switch role {
	case RoleJoin, RoleLeave, RoleRequest, RoleOwner:
		local += "-" + role.String()
	case RoleConfirm, RoleBounce:
		local += "-" + role.String() + "+" + tag
	case RolePrivate:
		local += "+" + tag
	}
	return local + "@" + domain
}
