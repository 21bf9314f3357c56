package listserv

import (
	"context"
	"errors"
	"log/slog"

	"listserv/listserv/anon"
	"listserv/mailstore"
)

// private relays a member's message to group+ALIAS@ to that member alone,
// double-blind: From and Reply-To are the sender's alias address, To the
// recipient's. It is not archived and the sender gets no copy.
func (s *Service) private(ctx context.Context, log *slog.Logger, env *Envelope, raw []byte, msg *anon.Message) error {
	group := env.Target.Group
	if why := msg.Robot(s.listID(group)); why != "" || env.MailFrom == "" {
		log.Info("private message dropped", "reason", robotReason(why))
		return nil
	}
	sender, err := s.authorizedMember(ctx, log, env, raw, msg)
	if err != nil {
		return err
	}
	to, err := s.store.MemberBySlug(group, env.Target.Tag)
	if err != nil {
		return s.storeErr(err, "no such member here")
	}
	if to.State == mailstore.Removed || to.State == mailstore.Pending {
		// Gone (or not yet in) since RCPT accepted the alias.
		return refuse(NoSuchRecipient, "no such member here")
	}
	to.Slug = env.Target.Tag // an old alias still reaches them under that name
	out, id, err := s.anonymizePrivate(group, msg, sender, anon.Address{Addr: Address(group, RolePrivate, to.Slug, s.domain), Name: to.Alias})
	if err != nil {
		return err
	}
	if err := s.store.Enqueue(group, out, []mailstore.Recipient{{MemberID: to.ID, Addr: to.Addr}}); err != nil {
		return unavailable(err)
	}
	log.Info("private message relayed", "alias", sender.Slug, "to", env.Target.Tag, "message_id", id)
	s.wake()
	return nil
}

// owner relays a message to group-owner@ to the group's admins. A
// member's message goes through the anonymizer like a private message
// (admins see the alias); a non-member's is passed on with their address,
// since the admins must be able to answer them. Both are authenticated
// first, alike, so that the reply tells nothing about the roster.
func (s *Service) owner(ctx context.Context, log *slog.Logger, env *Envelope, raw []byte, msg *anon.Message) error {
	group := env.Target.Group
	if why := msg.Robot(s.listID(group)); why != "" || env.MailFrom == "" {
		log.Info("message to the admins dropped", "reason", robotReason(why))
		return nil
	}
	admins, err := s.admins(group)
	if err != nil {
		return err
	}
	if len(admins) == 0 {
		log.Warn("message to the admins dropped", "reason", "the group has no admin")
		return nil
	}
	// Authenticate everyone before looking the sender up: were only
	// members checked, a forged From would learn from 550 against 250
	// who is one. A stranger's mail must be authenticated too (the
	// admins answer the address it names).
	if err := s.sender.Check(ctx, env, raw, msg); err != nil {
		log.Info("message to the admins refused", "reason", "sender not authenticated", "err", err)
		return err
	}
	// A member, whatever their state, appears under the alias; only a
	// stranger (or a requester the admins are asked about anyway) with
	// the address.
	m, err := s.store.MemberByAddr(group, msg.From.Addr)
	if err == nil && m.State != mailstore.Pending {
		out, _, err := s.anonymizePrivate(group, msg, &m, anon.Address{Addr: Address(group, RoleOwner, "", s.domain), Name: group + " admins"})
		if err != nil {
			return err
		}
		rcpts := make([]mailstore.Recipient, len(admins))
		for i, a := range admins {
			rcpts[i] = mailstore.Recipient{MemberID: a.ID, Addr: a.Addr}
		}
		if err := s.store.Enqueue(group, out, rcpts); err != nil {
			return unavailable(err)
		}
		log.Info("message to the admins relayed", "alias", m.Slug)
		s.wake()
		return nil
	}
	if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		return unavailable(err)
	}
	sender, err := CheckAddress(msg.From.Addr)
	if err != nil {
		return refuse(NotAllowed, "a message to the admins needs a valid From address")
	}
	text := "[The message is not plain text and is not shown here.]"
	if plainBody(msg) {
		text = string(crlfToLF(msg.Body))
	}
	var ns []notice
	for _, a := range admins {
		ns = append(ns, notice{group: group, to: a.Addr, memberID: a.ID, tmpl: "owner_relay", replyTo: sender,
			data: map[string]any{"Sender": sender, "Subject": decodeSubject(msg.Header.Get("Subject")), "Text": text}})
	}
	log.Info("message to the admins relayed", "from", "non-member")
	return s.send(ns...)
}

// authorizedMember authenticates the sender and finds them among the
// group's current members.
func (s *Service) authorizedMember(ctx context.Context, log *slog.Logger, env *Envelope, raw []byte, msg *anon.Message) (*mailstore.Member, error) {
	if err := s.sender.Check(ctx, env, raw, msg); err != nil {
		log.Info("message refused", "reason", "sender not authenticated", "err", err)
		return nil, err
	}
	if msg.From.Addr == "" {
		return nil, refuse(NotAllowed, "a message needs a From address")
	}
	m, err := s.store.MemberByAddr(env.Target.Group, msg.From.Addr)
	if err != nil || !m.CanPost() {
		if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
			return nil, unavailable(err)
		}
		log.Info("message refused", "reason", "not a member")
		return nil, refuse(NotAllowed, "only members of this group may write here")
	}
	return &m, nil
}

// anonymizePrivate writes a private message from sender to `to`,
// DKIM-signed.
func (s *Service) anonymizePrivate(group string, msg *anon.Message, sender *mailstore.Member, to anon.Address) ([]byte, string, error) {
	refs, err := s.store.ResolveRefs(group, msg.CitedIDs())
	if err != nil {
		return nil, "", unavailable(err)
	}
	id := s.newMessageID()
	member, lookupErr := s.memberLookup(group)
	out, err := anon.Anonymize(msg, anon.Params{
		Group: group, Domain: s.domain, Hostname: s.host,
		AliasName: sender.Alias, AliasSlug: sender.Slug,
		MessageID: id, Date: s.now().UTC(),
		MapRef:  func(r string) (string, bool) { v, ok := refs[r]; return v, ok },
		Private: true, PrivateTo: to, Member: member, AuthorNames: knownNames(sender),
	})
	if err := lookupErr(); err != nil {
		return nil, "", unavailable(err)
	}
	if err != nil {
		return nil, "", &Error{Kind: Malformed, Public: notRelayable(err), Err: err}
	}
	if out, err = s.dkim.Sign(out); err != nil {
		return nil, "", unavailable(err)
	}
	return out, id, nil
}

func robotReason(why string) string {
	if why == "" {
		return "null envelope sender"
	}
	return why
}

func crlfToLF(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			continue
		}
		out = append(out, b[i])
	}
	return out
}
