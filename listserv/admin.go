package listserv

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"unicode"

	"listserv/mailstore"
)

// GroupSpec is what `group create` asks for.
type GroupSpec struct {
	Name       string
	JoinPolicy string   // "open" or "approve"; "" = approve
	PostPolicy string   // "members", "announce"; "" = members
	Admins     []string // addresses, made admin members
}

// The policies of SPEC §3.
var (
	joinPolicies = map[string]bool{"open": true, "approve": true}
	postPolicies = map[string]bool{"members": true, "moderated": true, "first-post": true, "announce": true}
)

// DefaultPostsPerHour is a new group's per-member posting limit.
const DefaultPostsPerHour = 30

// CreateGroup creates a group and adds its admins.
func (s *Service) CreateGroup(ctx context.Context, spec GroupSpec) (mailstore.Group, error) {
	g := mailstore.Group{
		Name:           strings.ToLower(spec.Name),
		JoinPolicy:     spec.JoinPolicy,
		PostPolicy:     spec.PostPolicy,
		FirstPostsHeld: 1,
		PostsPerHour:   DefaultPostsPerHour,
		HoldDays:       DefaultHoldDays,
	}
	if g.JoinPolicy == "" {
		g.JoinPolicy = "approve"
	}
	if g.PostPolicy == "" {
		g.PostPolicy = "members"
	}
	if !ValidGroupName(g.Name) {
		return g, fmt.Errorf("invalid group name %q: use a-z, 0-9, '.' and '-', not ending in %s", spec.Name, strings.Join(reservedSuffixes, ", "))
	}
	if !joinPolicies[g.JoinPolicy] {
		return g, fmt.Errorf("join policy %q: want open or approve", g.JoinPolicy)
	}
	if !postPolicies[g.PostPolicy] {
		return g, fmt.Errorf("post policy %q: want members, moderated, first-post or announce", g.PostPolicy)
	}
	// Check every admin before creating anything, so that a refused
	// command leaves no half-made group behind.
	var admins []string
	seen := map[string]bool{}
	for _, a := range spec.Admins {
		norm, err := CheckAddress(a)
		if err != nil {
			return g, err
		}
		if !seen[mailstore.NormAddr(norm)] {
			seen[mailstore.NormAddr(norm)] = true
			admins = append(admins, norm)
		}
	}
	if err := s.store.CreateGroup(g); err != nil {
		return g, err
	}
	s.log.Info("group created", "group", g.Name, "join", g.JoinPolicy, "post", g.PostPolicy)
	for _, a := range admins {
		if _, err := s.AddMember(ctx, g.Name, a, true); err != nil {
			return g, err
		}
	}
	return s.store.Group(g.Name)
}

// CheckAddress validates a member address typed by an admin and returns
// it normalized (domain lower-cased). It refuses anything that could not
// safely name a mailbox directory or a header value.
func CheckAddress(addr string) (string, error) {
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(addr) {
		return "", fmt.Errorf("invalid address %q: want local@domain", addr)
	}
	at := strings.LastIndexByte(a.Address, '@')
	local, domain := a.Address[:at], strings.ToLower(a.Address[at+1:])
	if len(a.Address) > 254 || strings.ContainsAny(a.Address, "/\\\"") || strings.HasPrefix(local, ".") ||
		!strings.Contains(domain, ".") && domain != "localhost" {
		return "", fmt.Errorf("invalid address %q", addr)
	}
	for _, r := range a.Address {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "", fmt.Errorf("invalid address %q", addr)
		}
	}
	return local + "@" + domain, nil
}

// AddMember makes addr an active member of group at once (an admin's
// act: no confirmation) and queues their welcome.
func (s *Service) AddMember(ctx context.Context, group, addr string, admin bool) (mailstore.Member, error) {
	group = strings.ToLower(group)
	norm, err := CheckAddress(addr)
	if err != nil {
		return mailstore.Member{}, err
	}
	m, err := s.store.AddMember(group, norm, mailstore.Active, admin, newAlias)
	if errors.Is(err, mailstore.ErrExists) {
		return m, fmt.Errorf("%s is already a member of %s", norm, group)
	}
	if err != nil {
		return m, err
	}
	s.log.Info("member added", "group", group, "alias", m.Slug, "member", m.ID, "admin", admin)
	s.emit(Event{Kind: MembershipChanged, Group: group, MemberID: m.ID})
	if err := s.sendWelcome(group, &m); err != nil {
		s.log.Error("welcome not queued", "group", group, "alias", m.Slug, "err", err)
		return m, fmt.Errorf("member added, but the welcome could not be queued: %w", err)
	}
	return m, nil
}

// RemoveMember ends a membership; the archive keeps their posts under
// their alias.
func (s *Service) RemoveMember(ctx context.Context, group, addr string) (mailstore.Member, error) {
	group = strings.ToLower(group)
	m, err := s.store.RemoveMember(group, addr)
	if err != nil {
		return m, err
	}
	s.log.Info("member removed", "group", group, "alias", m.Slug, "member", m.ID)
	s.emit(Event{Kind: MembershipChanged, Group: group, MemberID: m.ID})
	return m, nil
}

// Members lists a group's current members (removed ones left out).
func (s *Service) Members(ctx context.Context, group string) ([]mailstore.Member, error) {
	all, err := s.store.Members(strings.ToLower(group))
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, m := range all {
		if m.State != mailstore.Removed {
			out = append(out, m)
		}
	}
	return out, nil
}

// IsNotFound reports whether err means a group or member does not exist.
func IsNotFound(err error) bool { return errors.Is(err, mailstore.ErrNotFound) }

// SetGroup changes one setting of a group, validated like group create.
// Keys: join_policy, post_policy, posts_per_hour, first_posts_held,
// archive_days, hold_days, description.
func (s *Service) SetGroup(ctx context.Context, group, key, value string) (mailstore.Group, error) {
	num := func(min, max int) (int, error) {
		n, err := strconv.Atoi(value)
		if err != nil || n < min || n > max {
			return 0, fmt.Errorf("%s: want a whole number from %d to %d", key, min, max)
		}
		return n, nil
	}
	g, err := s.store.UpdateGroup(strings.ToLower(group), func(g *mailstore.Group) error {
		var err error
		switch key {
		case "join_policy":
			if !joinPolicies[value] {
				return fmt.Errorf("join_policy %q: want open or approve", value)
			}
			g.JoinPolicy = value
		case "post_policy":
			if !postPolicies[value] {
				return fmt.Errorf("post_policy %q: want members, moderated, first-post or announce", value)
			}
			g.PostPolicy = value
		case "posts_per_hour":
			g.PostsPerHour, err = num(0, 10000)
		case "first_posts_held":
			g.FirstPostsHeld, err = num(1, 100)
		case "archive_days":
			g.ArchiveDays, err = num(0, 100000)
		case "hold_days":
			g.HoldDays, err = num(1, 365)
		case "description":
			if len(value) > 200 || strings.ContainsAny(value, "\r\n") {
				return fmt.Errorf("description: one line of at most 200 bytes")
			}
			g.Description = value
		default:
			return fmt.Errorf("unknown setting %q (join_policy, post_policy, posts_per_hour, first_posts_held, archive_days, hold_days, description)", key)
		}
		return err
	})
	if err == nil {
		s.log.Info("group setting changed", "group", g.Name, "key", key)
	}
	return g, err
}

// Pending lists a group's join requests awaiting the admins.
func (s *Service) Pending(ctx context.Context, group string) ([]mailstore.Member, error) {
	all, err := s.Members(ctx, group)
	if err != nil {
		return nil, err
	}
	var out []mailstore.Member
	for _, m := range all {
		if m.State == mailstore.Pending {
			out = append(out, m)
		}
	}
	return out, nil
}
