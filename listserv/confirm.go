package listserv

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"listserv/listserv/anon"
	"listserv/mailstore"
)

// Default token lifetimes: join, leave and erase confirmations 3 days, admin
// approvals 14 days (Options.ConfirmTTL, Options.ApprovalTTL).
const (
	DefaultConfirmTTL  = 3 * 24 * time.Hour
	DefaultApprovalTTL = 14 * 24 * time.Hour
)

// byCLI names an operator's decision from the command line.
const byCLI = "an admin, from the command line"

// newToken draws a 128-bit token, lower-case base32.
func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func (s *Service) confirmAddress(group, token string) string {
	return Address(group, RoleConfirm, token, s.domain)
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// reply queues a notice in answer to a message, unless the address has
// had its share of automated replies today.
func (s *Service) reply(log *slog.Logger, n notice) error {
	if !s.replies.allow(n.to) {
		log.Info("automated reply suppressed", "template", n.tmpl, "reason", "daily reply limit")
		return nil
	}
	return s.send(n)
}

// requester returns the address a request to a command address is
// answered at (its From), and false when there is none usable or the
// address has had its share of answers today. A request over the limit
// is dropped whole: it changes nothing (a "password" whose answer is not
// sent would lock the member out) and answers nothing.
func (s *Service) requester(log *slog.Logger, msg *anon.Message) (string, bool) {
	addr, err := CheckAddress(msg.From.Addr)
	if err != nil {
		log.Info("request ignored", "reason", "no usable From address")
		return "", false
	}
	if !s.replies.allow(addr) {
		log.Info("request ignored", "reason", "daily reply limit")
		return "", false
	}
	return addr, true
}

// redact renders an error for the log with anything that looks like an
// address cut out: errors of the admin methods name the address they
// concern.
func redact(err error) string {
	return addrLike.ReplaceAllString(err.Error(), "[address]")
}

var addrLike = regexp.MustCompile(`[^\s<>"'@]*@[^\s<>"']*`)

// requestJoin answers mail to -join@.
func (s *Service) requestJoin(log *slog.Logger, group string, msg *anon.Message, intro string) error {
	addr, ok := s.requester(log, msg)
	if !ok {
		return nil
	}
	return s.joinConfirmation(log, group, addr, intro)
}

// joinConfirmation sends a confirmation to the address that asked to
// join, so that nobody can subscribe someone else.
func (s *Service) joinConfirmation(log *slog.Logger, group, addr, intro string) error {
	m, err := s.store.MemberByAddr(group, addr)
	switch {
	case err == nil && m.State == mailstore.Pending:
		log.Info("join request ignored", "reason", "already pending", "member", m.ID)
		return nil
	case err == nil:
		log.Info("join request ignored", "reason", "already a member", "member", m.ID)
		return nil
	case !errors.Is(err, mailstore.ErrNotFound):
		return unavailable(err)
	}
	tok := newToken()
	exp := s.now().Add(s.confirmTTL)
	if err := s.store.PutTokens([]string{tok}, []mailstore.Token{{Kind: mailstore.TokJoin, Group: group, Addr: addr, Intro: intro, Expires: exp}}); err != nil {
		return unavailable(err)
	}
	log.Info("join requested; confirmation sent")
	return s.send(notice{group: group, to: addr, tmpl: "confirm_join", replyTo: s.confirmAddress(group, tok),
		data: map[string]any{"ConfirmAddress": s.confirmAddress(group, tok), "Expires": fmtTime(exp)}})
}

// requestLeave answers mail to -leave@.
func (s *Service) requestLeave(log *slog.Logger, group string, msg *anon.Message) error {
	addr, ok := s.requester(log, msg)
	if !ok {
		return nil
	}
	return s.leaveConfirmation(log, group, addr)
}

// leaveConfirmation asks a member to confirm leaving, at the member's
// address (a forged From only bothers the member, who ignores it).
func (s *Service) leaveConfirmation(log *slog.Logger, group, addr string) error {
	m, err := s.store.MemberByAddr(group, addr)
	if errors.Is(err, mailstore.ErrNotFound) || err == nil && m.State == mailstore.Pending {
		log.Info("leave request ignored", "reason", "not a member")
		return nil
	}
	if err != nil {
		return unavailable(err)
	}
	tok := newToken()
	exp := s.now().Add(s.confirmTTL)
	if err := s.store.PutTokens([]string{tok}, []mailstore.Token{{Kind: mailstore.TokLeave, Group: group, Addr: m.Addr, Item: m.ID, Expires: exp}}); err != nil {
		return unavailable(err)
	}
	log.Info("leave requested; confirmation sent", "alias", m.Slug)
	return s.send(notice{group: group, to: m.Addr, memberID: m.ID, tmpl: "confirm_leave", replyTo: s.confirmAddress(group, tok),
		data: map[string]any{"ConfirmAddress": s.confirmAddress(group, tok), "Expires": fmtTime(exp)}})
}

// confirm acts on a reply to a -confirm+TOKEN address. An unknown token
// gets no answer (we cannot know who sent it); an expired or used one
// gets a note, sent only to the address the token was issued to.
func (s *Service) confirm(ctx context.Context, log *slog.Logger, t Target, msg *anon.Message) error {
	tok, state, err := s.store.UseToken(t.Tag, s.now())
	if err != nil {
		return unavailable(err)
	}
	if state == mailstore.TokenUnknown || tok.Group != t.Group {
		log.Info("confirmation ignored", "reason", "unknown token")
		return nil
	}
	log = log.With("token", string(tok.Kind))
	if isAdminToken(tok.Kind) {
		return s.adminConfirm(ctx, log, tok, state, msg)
	}
	if state != mailstore.TokenValid {
		log.Info("confirmation refused", "reason", stateName(state))
		return s.reply(log, notice{group: tok.Group, to: tok.Addr, tmpl: "token_invalid",
			data: map[string]any{"Expired": state == mailstore.TokenExpired, "Admin": false}})
	}
	switch tok.Kind {
	case mailstore.TokJoin:
		return s.confirmJoin(ctx, log, tok)
	case mailstore.TokLeave:
		m, err := s.store.MemberByID(tok.Group, tok.Item)
		if err != nil || m.State == mailstore.Removed {
			return nil
		}
		if _, err := s.RemoveMember(ctx, tok.Group, m.Addr); err != nil {
			return unavailable(err)
		}
		return s.send(notice{group: tok.Group, to: m.Addr, tmpl: "goodbye"})
	case mailstore.TokErase:
		return s.confirmErase(ctx, log, tok)
	}
	return nil
}

func stateName(st mailstore.TokenState) string {
	switch st {
	case mailstore.TokenExpired:
		return "expired"
	case mailstore.TokenUsed:
		return "already used"
	}
	return "unknown"
}

func isAdminToken(k mailstore.TokenKind) bool {
	switch k {
	case mailstore.TokApproveJoin, mailstore.TokRejectJoin, mailstore.TokApprovePost, mailstore.TokRejectPost, mailstore.TokDiscardPost:
		return true
	}
	return false
}

// confirmJoin follows the group's join policy once the requester has
// confirmed: open joins now; approve asks the admins.
func (s *Service) confirmJoin(ctx context.Context, log *slog.Logger, tok mailstore.Token) error {
	g, err := s.store.Group(tok.Group)
	if err != nil {
		return s.storeErr(err, "no such group here")
	}
	if g.JoinPolicy == "open" {
		// The address may have joined since (an earlier request's
		// confirmation, an admin's member add): nothing to do then.
		// AddMember's errors name the address, so they are logged
		// redacted.
		switch _, err := s.store.MemberByAddr(tok.Group, tok.Addr); {
		case err == nil:
			log.Info("join not completed", "reason", "already a member")
			return nil
		case !errors.Is(err, mailstore.ErrNotFound):
			return unavailable(err)
		}
		if _, err := s.AddMember(ctx, tok.Group, tok.Addr, false); err != nil {
			log.Error("join not completed", "err", redact(err))
		}
		return nil
	}
	m, err := s.store.AddPending(tok.Group, tok.Addr, tok.Intro, newAlias)
	if errors.Is(err, mailstore.ErrExists) {
		return nil
	}
	if err != nil {
		return unavailable(err)
	}
	log.Info("join request waiting for the admins", "member", m.ID)
	s.emit(Event{Kind: MembershipChanged, Group: tok.Group, MemberID: m.ID})
	if err := s.askAdminsToApprove(tok.Group, &m); err != nil {
		return err
	}
	return s.send(notice{group: tok.Group, to: m.Addr, memberID: m.ID, tmpl: "join_waiting"})
}

// askAdminsToApprove mails each admin the approval request, with one
// approve and one reject token for the whole group of admins.
func (s *Service) askAdminsToApprove(group string, m *mailstore.Member) error {
	yes, no := newToken(), newToken()
	exp := s.now().Add(s.approvalTTL)
	admins, err := s.admins(group)
	if err != nil {
		return err
	}
	toks := []mailstore.Token{
		{Kind: mailstore.TokApproveJoin, Group: group, Addr: m.Addr, Item: m.ID, Expires: exp},
		{Kind: mailstore.TokRejectJoin, Group: group, Addr: m.Addr, Item: m.ID, Expires: exp},
	}
	if err := s.store.PutTokens([]string{yes, no}, toks); err != nil {
		return unavailable(err)
	}
	var ns []notice
	for _, a := range admins {
		ns = append(ns, notice{group: group, to: a.Addr, memberID: a.ID, tmpl: "approval_request", replyTo: s.confirmAddress(group, yes),
			data: map[string]any{"Requester": m.Addr, "Intro": m.Intro, "ApproveAddress": s.confirmAddress(group, yes),
				"RejectAddress": s.confirmAddress(group, no), "Expires": fmtTime(exp)}})
	}
	return s.send(ns...)
}

// admins lists a group's active admins.
func (s *Service) admins(group string) ([]mailstore.Member, error) {
	all, err := s.Members(context.Background(), group)
	if err != nil {
		return nil, unavailable(err)
	}
	var out []mailstore.Member
	for _, m := range all {
		if m.Admin && m.CanPost() {
			out = append(out, m)
		}
	}
	return out, nil
}

// adminConfirm acts on an admin's reply to an approval token. The sender
// must be an admin of the group as well as hold the token.
func (s *Service) adminConfirm(ctx context.Context, log *slog.Logger, tok mailstore.Token, state mailstore.TokenState, msg *anon.Message) error {
	admin, err := s.store.MemberByAddr(tok.Group, msg.From.Addr)
	if err != nil || !admin.Admin || !admin.CanPost() {
		log.Info("approval ignored", "reason", "sender is not an admin")
		return nil
	}
	log = log.With("admin", admin.Slug)
	if state == mailstore.TokenExpired {
		return s.reply(log, notice{group: tok.Group, to: admin.Addr, memberID: admin.ID, tmpl: "token_invalid",
			data: map[string]any{"Expired": true, "Admin": true}})
	}
	// A used token is not an error here: the decision on the item tells
	// this admin who acted first.
	d := mailstore.Decision{By: admin.Alias, At: s.now().UTC()}
	switch tok.Kind {
	case mailstore.TokApproveJoin, mailstore.TokRejectJoin:
		return s.decideJoin(ctx, log, tok.Group, tok.Item, d, tok.Kind == mailstore.TokApproveJoin, &admin)
	default:
		action := map[mailstore.TokenKind]string{mailstore.TokApprovePost: "approved", mailstore.TokRejectPost: "rejected", mailstore.TokDiscardPost: "discarded"}[tok.Kind]
		d.Action = action
		return s.decideHeld(log, tok.Group, tok.Item, d, &admin)
	}
}

// decideJoin approves or rejects a pending member; admin (nil from the
// command line) is told if someone decided first.
func (s *Service) decideJoin(ctx context.Context, log *slog.Logger, group string, id uint64, d mailstore.Decision, approve bool, admin *mailstore.Member) error {
	d.Action = "rejected"
	if approve {
		d.Action = "approved"
	}
	m, taken, err := s.store.DecideMember(group, id, d, approve)
	if err != nil {
		return s.storeErr(err, "no such request")
	}
	if taken {
		prev := m.Decided
		if prev == nil {
			prev = &mailstore.Decision{Action: "handled", By: "someone"}
		}
		log.Info("join decision refused", "reason", "already decided", "member", m.ID)
		if admin != nil {
			return s.reply(log, notice{group: group, to: admin.Addr, memberID: admin.ID, tmpl: "already_decided",
				data: map[string]any{"What": "The join request", "Action": prev.Action, "By": prev.By}})
		}
		return &Error{Kind: NotAllowed, Public: "already " + prev.Action + " by " + prev.By}
	}
	log.Info("join request decided", "member", m.ID, "action", d.Action)
	s.emit(Event{Kind: MembershipChanged, Group: group, MemberID: m.ID})
	if approve {
		return s.sendWelcome(group, &m)
	}
	return s.send(notice{group: group, to: m.Addr, tmpl: "join_rejected"})
}
