package listserv

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"strconv"
	"strings"
	"time"

	"listserv/listserv/anon"
	"listserv/mailstore"
)

// DefaultHoldDays is how long a held post waits before it expires.
const DefaultHoldDays = 14

// holdReason says why a post from m must wait for an admin ("" if not).
func holdReason(g *mailstore.Group, m *mailstore.Member) string {
	if m.Admin {
		return ""
	}
	switch g.PostPolicy {
	case "moderated":
		return "the group is moderated"
	case "first-post":
		if m.Posts < g.FirstPostsHeld {
			return "a new member's first post"
		}
	}
	return ""
}

// hold stores an anonymized post for approval, tells the admins (with
// approve, reject and discard tokens) and the author.
func (s *Service) hold(log *slog.Logger, g *mailstore.Group, m *mailstore.Member, p *mailstore.Post, reason string) error {
	days := g.HoldDays
	if days <= 0 {
		days = DefaultHoldDays
	}
	now := s.now().UTC()
	h := mailstore.HeldPost{Post: *p, Author: m.ID, Reason: reason, Created: now, Expires: now.Add(time.Duration(days) * 24 * time.Hour)}
	id, err := s.store.Hold(h)
	if err != nil {
		return unavailable(err)
	}
	h.ID = id
	log.Info("post held", "held", id, "reason", reason, "message_id", p.Meta.MessageID)
	s.emit(Event{Kind: HeldChanged, Group: g.Name, UID: id})
	s.emit(Event{Kind: PostHeld, Group: g.Name, UID: id})
	yes, no, drop := newToken(), newToken(), newToken()
	toks := make([]mailstore.Token, 3)
	for i, k := range []mailstore.TokenKind{mailstore.TokApprovePost, mailstore.TokRejectPost, mailstore.TokDiscardPost} {
		toks[i] = mailstore.Token{Kind: k, Group: g.Name, Addr: m.Addr, Item: id, Expires: h.Expires}
	}
	if err := s.store.PutTokens([]string{yes, no, drop}, toks); err != nil {
		return unavailable(err)
	}
	admins, err := s.admins(g.Name)
	if err != nil {
		return err
	}
	subject := decodeSubject(p.Meta.Subject)
	var ns []notice
	for _, a := range admins {
		ns = append(ns, notice{group: g.Name, to: a.Addr, memberID: a.ID, tmpl: "held_admin", replyTo: s.confirmAddress(g.Name, yes),
			data: map[string]any{"Alias": m.Alias, "Reason": reason, "ID": strconv.FormatUint(id, 10), "Subject": subject,
				"Text": previewText(p.Raw), "ApproveAddress": s.confirmAddress(g.Name, yes),
				"RejectAddress": s.confirmAddress(g.Name, no), "DiscardAddress": s.confirmAddress(g.Name, drop),
				"Expires": fmtTime(h.Expires)}})
	}
	ns = append(ns, notice{group: g.Name, to: m.Addr, memberID: m.ID, tmpl: "held_author",
		data: map[string]any{"Subject": subject, "Reason": reason}})
	return s.send(ns...)
}

// decodeSubject turns an encoded Subject into text for a notice.
func decodeSubject(v string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// previewText is the text of an anonymized post, for the admins' notice:
// its first plain text part decoded (every copy we write of a text post
// has one), cut at 8 KiB, with LF line ends.
func previewText(raw []byte) string {
	text := anon.PreviewText(raw)
	if text == "" {
		return "[The post has no text part: only attachments.]"
	}
	if len(text) > 8<<10 {
		text = strings.ToValidUTF8(text[:8<<10], "") + "\r\n[... cut ...]"
	}
	return strings.ReplaceAll(text, "\r\n", "\n")
}

// decideHeld approves, rejects or discards a held post; admin (nil from
// the command line) is told if someone decided first.
func (s *Service) decideHeld(log *slog.Logger, group string, id uint64, d mailstore.Decision, admin *mailstore.Member) error {
	h, c, taken, err := s.store.DecideHeld(group, id, d, func(p *mailstore.Post) { *p = indexed(*p) })
	if err != nil {
		return s.storeErr(err, "no such held post")
	}
	if taken {
		prev := h.Decided
		log.Info("held post decision refused", "reason", "already decided", "held", id)
		if admin != nil {
			return s.reply(log, notice{group: group, to: admin.Addr, memberID: admin.ID, tmpl: "already_decided",
				data: map[string]any{"What": "The held post", "Action": prev.Action, "By": prev.By}})
		}
		return &Error{Kind: NotAllowed, Public: "already " + prev.Action + " by " + prev.By}
	}
	log.Info("held post decided", "held", id, "action", d.Action, "uid", c.UID)
	s.emit(Event{Kind: HeldChanged, Group: group, UID: id})
	switch d.Action {
	case "approved":
		s.wake()
		s.emit(Event{Kind: PostArchived, Group: group, UID: c.UID})
	case "rejected", "expired":
		author, err := s.store.MemberByID(group, h.Author)
		if err != nil || author.State == mailstore.Removed {
			return nil
		}
		tmpl := "held_rejected"
		if d.Action == "expired" {
			tmpl = "held_expired"
		}
		return s.send(notice{group: group, to: author.Addr, memberID: author.ID, tmpl: tmpl,
			data: map[string]any{"Subject": decodeSubject(h.Post.Meta.Subject), "Expires": fmtTime(h.Expires)}})
	}
	return nil
}

// DecideHeld is the command line's approve/reject of a held post.
func (s *Service) DecideHeld(ctx context.Context, group string, id uint64, approve bool) error {
	group = strings.ToLower(group)
	d := mailstore.Decision{Action: "rejected", By: byCLI, At: s.now().UTC()}
	if approve {
		d.Action = "approved"
	}
	return s.decideHeld(s.log.With("group", group), group, id, d, nil)
}

// DecideJoin is the command line's approve/reject of a pending member.
func (s *Service) DecideJoin(ctx context.Context, group, addr string, approve bool) error {
	group = strings.ToLower(group)
	m, err := s.store.MemberByAddr(group, addr)
	if err != nil {
		return s.storeErr(err, "no such pending member")
	}
	if m.State != mailstore.Pending {
		return fmt.Errorf("%s is not waiting for approval in %s", addr, group)
	}
	return s.decideJoin(ctx, s.log.With("group", group), group, m.ID, mailstore.Decision{By: byCLI, At: s.now().UTC()}, approve, nil)
}

// ExpireHeld expires held posts whose time is up, telling their authors,
// closes join requests that no admin answered while their approval
// tokens were valid (otherwise the address could never ask again), and
// forgets decisions and tokens older than their use.
func (s *Service) ExpireHeld(ctx context.Context) error {
	groups, err := s.store.Groups()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	for _, g := range groups {
		held, err := s.store.HeldPosts(g.Name)
		if err != nil {
			return err
		}
		for _, h := range held {
			if h.Decided == nil && now.After(h.Expires) {
				d := mailstore.Decision{Action: "expired", By: "the service", At: now}
				if err := s.decideHeld(s.log.With("group", g.Name), g.Name, h.ID, d, nil); err != nil {
					s.log.Error("expiring a held post failed", "group", g.Name, "held", h.ID, "err", err)
				}
			}
		}
		if err := s.expirePending(g.Name, now); err != nil {
			return err
		}
		if err := s.store.PurgeHeld(g.Name, now.Add(-s.approvalTTL)); err != nil {
			return err
		}
	}
	_, err = s.store.PurgeTokens(now.Add(-s.approvalTTL))
	return err
}

// expirePending closes a group's join requests older than the approval TTL,
// with a note to the requester.
func (s *Service) expirePending(group string, now time.Time) error {
	members, err := s.store.Members(group)
	if err != nil {
		return err
	}
	log := s.log.With("group", group)
	for _, m := range members {
		if m.State != mailstore.Pending || m.Decided != nil || now.Sub(m.Joined) <= s.approvalTTL {
			continue
		}
		d := mailstore.Decision{Action: "expired", By: "the service", At: now}
		pm, taken, err := s.store.DecideMember(group, m.ID, d, false)
		if err != nil {
			log.Error("expiring a join request failed", "member", m.ID, "err", err)
			continue
		}
		if taken {
			continue
		}
		log.Info("join request expired", "member", pm.ID)
		s.emit(Event{Kind: MembershipChanged, Group: group, MemberID: pm.ID})
		if err := s.send(notice{group: group, to: pm.Addr, tmpl: "join_expired",
			data: map[string]any{"Expires": fmtTime(m.Joined.Add(s.approvalTTL))}}); err != nil {
			log.Error("join expiry note not queued", "member", pm.ID)
		}
	}
	return nil
}
