package listserv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"listserv/listserv/msgindex"
	"listserv/mailstore"
)

// Erasure and retention (SPEC §4, last bullet).
//
// A member (or a former member) can have every post they wrote removed
// from a group's archive for good: by mail ("erase" to -request@, then a
// reply to the confirmation sent to their address) or by an admin
// (EraseMember, `listserv member erase`). Their posts still waiting for
// approval are withdrawn too. Their membership does not change, and
// neither does their count of accepted posts (so the first-post policy
// does not hold them again).
//
// A group's archive_days purges posts older than that many days, by the
// service's clock (PurgeArchives, run every minute by the server).
//
// Both go through mailstore.DeletePosts and are announced, after the
// commit, with a PostsRemoved event: open IMAP sessions expunge the posts.
// What is not reached: copies already delivered to members' mailboxes
// (mail cannot be recalled), a delivery a worker had already loaded when
// the posts were removed (it may still go out; deliveries still queued
// are dropped), the notices the admins got about a held post, and the
// bytes bbolt's freed pages keep until reused (see mailstore's package
// documentation: a backup made afterwards does not hold them).

// eraseBatch caps how many posts one commit removes, so that a large
// erasure or the first sweep of a long archive never holds the store's
// single writer for long.
const eraseBatch = 500

// Erased tells what an erasure removed.
type Erased struct {
	Posts int // archived posts removed
	Held  int // posts waiting for approval that were withdrawn
}

// postTerms lists a post's index terms from its stored text: the same
// terms the indexer gave it (msgindex.PostTerms).
func postTerms(header, body []byte) []string {
	m := msgindex.PostTerms(header, body)
	out := make([]string, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	return out
}

// EraseMember removes from group's archive, for good, every post written
// by who: an address, or an alias slug ("quiet-heron"). Every membership
// that address has had in the group counts, a former one included, so
// that someone who left can still have their posts erased. Their held
// posts are withdrawn; their membership is left as it is. It fails with
// an error wrapping mailstore.ErrNotFound when who never was a member.
func (s *Service) EraseMember(ctx context.Context, group, who string) (Erased, error) {
	group = strings.ToLower(group)
	ms, err := s.membershipsOf(group, who)
	if err != nil {
		return Erased{}, err
	}
	return s.erase(ctx, s.log.With("group", group), group, ms)
}

// membershipsOf returns the group's member records (current and former,
// not join requests) of an address, or of the address behind an alias
// slug.
func (s *Service) membershipsOf(group, who string) ([]mailstore.Member, error) {
	if _, err := s.store.Group(group); err != nil {
		return nil, err
	}
	addr := strings.TrimSpace(who)
	if !strings.Contains(addr, "@") {
		m, err := s.store.MemberBySlug(group, addr)
		if err != nil {
			return nil, err
		}
		addr = m.Addr
	}
	all, err := s.store.Members(group)
	if err != nil {
		return nil, err
	}
	var out []mailstore.Member
	for _, m := range all {
		if mailstore.NormAddr(m.Addr) == mailstore.NormAddr(addr) && m.State != mailstore.Pending {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("member: %w", mailstore.ErrNotFound)
	}
	return out, nil
}

// erase removes the posts of the memberships ms (one person's) and
// withdraws their held posts.
func (s *Service) erase(ctx context.Context, log *slog.Logger, group string, ms []mailstore.Member) (Erased, error) {
	ids := make([]uint64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	latest := ms[len(ms)-1]
	var out Erased
	// Held posts first: an approval racing this erasure is then either
	// committed already (and found below) or refused as erased.
	held, err := s.store.EraseHeldBy(group, s.now(), ids...)
	if err != nil {
		return out, err
	}
	out.Held = len(held)
	for _, id := range held {
		s.emit(Event{Kind: HeldChanged, Group: group, UID: id})
	}
	// A post of theirs committed while this runs is caught by the next
	// round; the rounds end when one finds nothing (a member cannot post
	// faster than this removes for long: posts_per_hour bounds them).
	for round := 0; round < 100; round++ {
		uids, err := s.store.PostsBy(group, ids...)
		if err != nil {
			return out, err
		}
		if len(uids) == 0 {
			break
		}
		n, err := s.removePosts(group, uids)
		out.Posts += n
		if err != nil {
			return out, err
		}
	}
	log.Info("posts erased", "alias", latest.Slug, "member", latest.ID, "memberships", len(ms), "posts", out.Posts, "held", out.Held)
	return out, ctx.Err()
}

// removePosts deletes posts in commits of at most eraseBatch, announcing
// each commit's removals, and returns how many it removed.
func (s *Service) removePosts(group string, uids []uint64) (int, error) {
	n := 0
	for len(uids) > 0 {
		batch := uids[:min(len(uids), eraseBatch)]
		uids = uids[len(batch):]
		removed, err := s.store.DeletePosts(group, batch, postTerms)
		if err != nil {
			return n, err
		}
		if len(removed) > 0 {
			n += len(removed)
			s.emit(Event{Kind: PostsRemoved, Group: group, UIDs: removed})
		}
	}
	return n, nil
}

// PurgeArchives removes, in every group whose archive_days is set, the
// posts archived more than that many days ago by the service's clock
// (Options.Now). It is cheap when nothing is due: each group's archive is
// read from its oldest post up to the first one that is not due. It
// returns how many posts it removed.
func (s *Service) PurgeArchives(ctx context.Context) (int, error) {
	return s.PurgeArchivesAt(ctx, s.now())
}

// PurgeArchivesAt is PurgeArchives as if the clock read now.
func (s *Service) PurgeArchivesAt(ctx context.Context, now time.Time) (int, error) {
	groups, err := s.store.Groups()
	if err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, g := range groups {
		if g.ArchiveDays <= 0 {
			continue
		}
		cutoff := now.Add(-time.Duration(g.ArchiveDays) * 24 * time.Hour)
		n := 0
		for ctx.Err() == nil {
			uids, err := s.store.PostsBefore(g.Name, cutoff, eraseBatch)
			if err != nil {
				errs = append(errs, fmt.Errorf("group %s: %w", g.Name, err))
				break
			}
			if len(uids) == 0 {
				break
			}
			m, err := s.removePosts(g.Name, uids)
			n += m
			if err != nil {
				errs = append(errs, fmt.Errorf("group %s: %w", g.Name, err))
				break
			}
			if m == 0 {
				break
			}
		}
		if n > 0 {
			s.log.Info("old posts purged", "group", g.Name, "posts", n, "archive_days", g.ArchiveDays)
		}
		total += n
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

// eraseConfirmation asks a member or former member to confirm erasing
// their posts, at their address: a forged request only bothers them.
func (s *Service) eraseConfirmation(log *slog.Logger, group, addr string) error {
	ms, err := s.membershipsOf(group, addr)
	if errors.Is(err, mailstore.ErrNotFound) {
		log.Info("erase request ignored", "reason", "not a member")
		return nil
	}
	if err != nil {
		return unavailable(err)
	}
	m := ms[len(ms)-1]
	tok := newToken()
	exp := s.now().Add(s.confirmTTL)
	if err := s.store.PutTokens([]string{tok}, []mailstore.Token{{Kind: mailstore.TokErase, Group: group, Addr: m.Addr, Item: m.ID, Expires: exp}}); err != nil {
		return unavailable(err)
	}
	log.Info("erase requested; confirmation sent", "alias", m.Slug)
	return s.send(notice{group: group, to: m.Addr, memberID: receivingID(&m), tmpl: "confirm_erase", replyTo: s.confirmAddress(group, tok),
		data: map[string]any{"ConfirmAddress": s.confirmAddress(group, tok), "Expires": fmtTime(exp)}})
}

// confirmErase erases the posts of the address an erase token was issued
// to, and tells it how many were removed.
func (s *Service) confirmErase(ctx context.Context, log *slog.Logger, tok mailstore.Token) error {
	ms, err := s.membershipsOf(tok.Group, tok.Addr)
	if errors.Is(err, mailstore.ErrNotFound) {
		log.Info("erase not done", "reason", "no membership any more")
		return nil
	}
	if err != nil {
		return unavailable(err)
	}
	res, err := s.erase(ctx, log, tok.Group, ms)
	if err != nil {
		log.Error("erase failed", "posts", res.Posts, "err", redact(err))
		return unavailable(err)
	}
	m := ms[len(ms)-1]
	return s.send(notice{group: tok.Group, to: m.Addr, memberID: receivingID(&m), tmpl: "erased",
		data: map[string]any{"Count": res.Posts, "Held": res.Held}})
}

// receivingID is the member id a notice to m's address is delivered
// under (0 once they are no longer a member).
func receivingID(m *mailstore.Member) uint64 {
	if m.State == mailstore.Removed {
		return 0
	}
	return m.ID
}
