package listserv

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"listserv/listserv/anon"
	"listserv/mailstore"
)

// Envelope is what the SMTP session knew about a message besides its
// bytes. It is never logged whole.
type Envelope struct {
	// MailFrom is the envelope sender ("" for a null sender).
	MailFrom string
	// Target is the one recipient of the transaction.
	Target Target
	// RemoteIP is the client's address, for authentication only.
	RemoteIP net.IP
	// AuthUser is the authenticated submission user ("" on port 25).
	AuthUser string
	// ConnID names the SMTP connection in logs.
	ConnID string
	// LMTP says the message came over LMTP from the front MTA: RemoteIP
	// is then unset (the client is that MTA, not the sender), and the
	// sender check may trust the front MTA's Authentication-Results.
	LMTP bool
}

// SenderCheck decides whether a message may be attributed to the address
// in its From header. This is the seam where DMARC-aligned SPF/DKIM and
// submission credentials plug in.
type SenderCheck interface {
	// Check returns nil when msg.From is proven, or an *Error (NotAllowed
	// for a failure, Unavailable for a temporary DNS error).
	Check(ctx context.Context, env *Envelope, raw []byte, msg *anon.Message) error
}

// AcceptFrom is sender_auth = "none": the member is whoever the From
// header names. For development only.
type AcceptFrom struct{}

// Check accepts every message.
func (AcceptFrom) Check(context.Context, *Envelope, []byte, *anon.Message) error { return nil }

// Receive takes one message for env.Target. It returns nil when the
// message was durably committed, or dropped on purpose (loops, robots),
// and an *Error otherwise; nothing is stored when it returns an error.
func (s *Service) Receive(ctx context.Context, env *Envelope, raw []byte) error {
	log := s.log.With("conn", env.ConnID, "group", env.Target.Group)
	if env.Target.Role == RoleBounce {
		// Before anon.Parse: a bounce is read by its own, lenient parser
		// (bounce.go) and always taken (250), so the remote MTA neither
		// retries it nor bounces the bounce.
		return s.receiveBounce(log, env, raw)
	}
	msg, err := anon.Parse(raw)
	if err != nil {
		log.Info("message refused", "reason", "malformed", "err", err)
		return &Error{Kind: Malformed, Public: "message could not be parsed: " + publicParseError(err), Err: err}
	}
	// A submission (SPEC §5): the From must be the authenticated member,
	// whatever the recipient address.
	if env.AuthUser != "" && !sameAddr(env.AuthUser, msg.From.Addr) {
		log.Info("message refused", "reason", "From is not the authenticated user")
		return fromNotAuthUser()
	}
	switch env.Target.Role {
	case RolePost:
		return s.post(ctx, log, env, raw, msg)
	case RolePrivate:
		return s.private(ctx, log, env, raw, msg)
	case RoleOwner:
		return s.owner(ctx, log, env, raw, msg)
	}
	// The command addresses answer by mail: never to a robot, a loop or
	// a null sender (no backscatter, no vacation-responder loops).
	if why := msg.Robot(s.listID(env.Target.Group)); why != "" || env.MailFrom == "" {
		log.Info("command message dropped", "role", env.Target.Role.String(), "reason", robotReason(why))
		return nil
	}
	log = log.With("role", env.Target.Role.String())
	switch env.Target.Role {
	case RoleJoin:
		return s.requestJoin(log, env.Target.Group, msg, introText(msg))
	case RoleLeave:
		return s.requestLeave(log, env.Target.Group, msg)
	case RoleRequest:
		return s.commands(ctx, log, env.Target.Group, msg)
	case RoleConfirm:
		return s.confirm(ctx, log, env.Target, msg)
	}
	return refuse(NoSuchRecipient, "no such recipient here")
}

// introText is a join request's plain-text body, cut at 2,000 bytes, for
// the admins.
func introText(msg *anon.Message) string {
	if !plainBody(msg) {
		return ""
	}
	b := crlfToLF(msg.Body)
	if len(b) > 2000 {
		b = append(b[:2000:2000], " [...]"...)
	}
	return strings.TrimSpace(string(b))
}

// notRelayable is the reply to a message the anonymizer refused, with its
// reason when it gave one (an S/MIME signature, an unreadable image...).
func notRelayable(err error) string {
	if r := anon.Reason(err); r != "" {
		return "message could not be relayed safely: " + r
	}
	return "message could not be relayed safely"
}

func publicParseError(err error) string {
	if errors.Is(err, anon.ErrMalformed) {
		return "malformed header"
	}
	return "unreadable message"
}

func (s *Service) post(ctx context.Context, log *slog.Logger, env *Envelope, raw []byte, msg *anon.Message) error {
	group := env.Target.Group
	if why := msg.Robot(s.listID(group)); why != "" || env.MailFrom == "" {
		if why == "" {
			why = "null envelope sender"
		}
		log.Info("message dropped", "reason", why)
		return nil
	}
	g, err := s.store.Group(group)
	if err != nil {
		return s.storeErr(err, "no such group here")
	}
	// Authenticate before looking the sender up, so that a forged From
	// cannot probe the roster.
	if err := s.sender.Check(ctx, env, raw, msg); err != nil {
		log.Info("post refused", "reason", "sender not authenticated", "err", err)
		return err
	}
	if msg.From.Addr == "" {
		return refuse(NotAllowed, "a post needs a From address")
	}
	m, err := s.store.MemberByAddr(group, msg.From.Addr)
	if err != nil || !m.CanPost() {
		if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
			return unavailable(err)
		}
		log.Info("post refused", "reason", "not a member")
		return refuse(NotAllowed, "only members of this group may post to it")
	}
	log = log.With("alias", m.Slug)
	if g.PostPolicy == "announce" && !m.Admin {
		log.Info("post refused", "reason", "announce group, not an admin")
		return refuse(NotAllowed, "only the admins post to this group")
	}
	slot, ok := s.rate.allow(group, m.ID, g.PostsPerHour)
	if !ok {
		log.Info("post refused", "reason", "rate limit", "per_hour", g.PostsPerHour)
		return refuse(RateLimited, "too many posts from you in the last hour, please try later")
	}
	p, err := s.anonymizePost(group, msg, &m)
	if err != nil {
		s.rate.undo(group, m.ID, slot)
		var le *Error
		if errors.As(err, &le) && le.Kind == Unavailable {
			log.Error("post not stored", "err", err)
			return le
		}
		log.Info("post refused", "reason", "cannot anonymize", "err", err)
		return &Error{Kind: Malformed, Public: notRelayable(err), Err: err}
	}
	s.noteMemberActivity(log, group, &m)
	s.learnName(log, group, &m, msg.From.Name)
	if reason := holdReason(&g, &m); reason != "" {
		return s.hold(log, &g, &m, p, reason)
	}
	c, err := s.store.CommitPost(indexed(*p))
	if err != nil {
		s.rate.undo(group, m.ID, slot)
		log.Error("post not stored", "err", err)
		return s.storeErr(err, "no such group here")
	}
	log.Info("post accepted", "message_id", p.Meta.MessageID, "uid", c.UID, "deliveries", c.Jobs)
	if c.Jobs > 0 {
		s.wake()
	}
	s.emit(Event{Kind: PostArchived, Group: group, UID: c.UID})
	return nil
}

// knownNames is anon.Params.AuthorNames for m: the display name their
// membership last posted with.
func knownNames(m *mailstore.Member) []string {
	if m.Name == "" {
		return nil
	}
	return []string{m.Name}
}

// learnName remembers the display name a member posts with, so that a
// later post without one (a phone's client, a bare address) still loses
// the name in its signature. The name is kept like the address is: for
// scrubbing only, never shown.
func (s *Service) learnName(log *slog.Logger, group string, m *mailstore.Member, name string) {
	name = strings.TrimSpace(name)
	if name == "" || name == m.Name || len(name) > 128 {
		return
	}
	if _, err := s.store.UpdateMemberByID(group, m.ID, func(mm *mailstore.Member) error {
		mm.Name = name
		return nil
	}); err != nil {
		log.Error("display name not remembered", "err", err)
	}
}

// memberLookup returns anon.Params.Member for group: a member's real
// address to their alias. A store failure makes the lookup answer "not a
// member", so the second function reports it and the caller must not use
// the copy (an address could have stayed in it).
func (s *Service) memberLookup(group string) (lookup func(string) (anon.Address, bool), failed func() error) {
	var firstErr error
	lookup = func(addr string) (anon.Address, bool) {
		m, err := s.store.MemberByAddr(group, addr)
		switch {
		case errors.Is(err, mailstore.ErrNotFound):
			return anon.Address{}, false
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
			return anon.Address{}, false
		}
		return anon.Address{Name: m.Alias, Addr: Address(group, RolePrivate, m.Slug, s.domain)}, true
	}
	return lookup, func() error { return firstErr }
}

// storeErr maps a store error: a missing record is a refusal, anything
// else a temporary failure.
func (s *Service) storeErr(err error, notFound string) error {
	if errors.Is(err, mailstore.ErrNotFound) {
		return refuse(NoSuchRecipient, notFound)
	}
	return unavailable(err)
}

// anonymizePost writes the member-facing copy of msg and its archive
// record, DKIM-signed: this is the post's last edit, and every recipient
// and the archive get these same bytes (VERP lives in the envelope), so
// a post is signed once whatever its fan-out.
func (s *Service) anonymizePost(group string, msg *anon.Message, m *mailstore.Member) (*mailstore.Post, error) {
	return s.anonymizeAt(group, msg, m, s.now().UTC())
}

// anonymizeAt is anonymizePost with the copy's Date given (an imported
// post keeps its own date).
func (s *Service) anonymizeAt(group string, msg *anon.Message, m *mailstore.Member, now time.Time) (*mailstore.Post, error) {
	refs, err := s.store.ResolveRefs(group, msg.CitedIDs())
	if err != nil {
		return nil, unavailable(err) // a store read failed: the sender retries
	}
	id := s.newMessageID()
	member, lookupErr := s.memberLookup(group)
	out, err := anon.Anonymize(msg, anon.Params{
		Group:     group,
		Domain:    s.domain,
		Hostname:  s.host,
		AliasName: m.Alias,
		AliasSlug: m.Slug,
		MessageID: id,
		Date:      now,
		MapRef: func(ref string) (string, bool) {
			v, ok := refs[ref]
			return v, ok
		},
		Member:      member,
		AuthorNames: knownNames(m),
	})
	if err := lookupErr(); err != nil {
		return nil, unavailable(err) // a member address might have stayed: retry later
	}
	if err != nil {
		return nil, err
	}
	if out, err = s.dkim.Sign(out); err != nil {
		return nil, unavailable(err)
	}
	return &mailstore.Post{
		Group: group,
		Raw:   out,
		Meta: mailstore.PostMeta{
			MessageID: id,
			Date:      now,
			Size:      len(out),
			AuthorID:  m.ID,
			Subject:   msg.Header.Get("Subject"),
		},
		OrigMessageID: msg.MessageID,
	}, nil
}
