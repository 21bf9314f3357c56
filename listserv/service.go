// Package listserv is the service itself: groups, membership, who may
// post, and the post pipeline (parse → check → anonymize → commit →
// wake delivery). It speaks no protocol: smtpin hands it envelopes and
// bytes, the CLI and the control socket call its admin methods, and
// delivery drains the queue it fills. Its errors are *Error values whose
// Kind the protocol packages turn into wire replies.
//
// Who may post (SPEC §5): the configured SenderCheck proves the From of
// a port-25 message (DMARC-aligned DKIM or SPF); a message submitted with
// credentials (Envelope.AuthUser) is proven by them, and refused unless
// its From is that address (AuthenticatedSender, submission.go).
//
// Bounces to the VERP envelope senders raise members' bounce scores;
// past a threshold delivery of posts is suspended and the admins told
// (bounce.go has the rules).
//
// It must never log or return to a sender a member's address, name or IP
// address, nor a message body: logs name members by alias or id.
package listserv

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"listserv/listserv/alias"
	"listserv/listserv/anon"
	"listserv/listserv/dkimsign"
	"listserv/mailstore"
	"listserv/templates"
)

// Options configure a Service. Store is required; zero values elsewhere
// mean the documented default.
type Options struct {
	Store *mailstore.DB
	// Domain is the lists' mail domain; Hostname names the IMAP host in
	// List-Archive.
	Domain, Hostname string
	// Templates renders service mail; nil means the embedded texts.
	Templates *templates.Set
	// Sender decides whether a message really comes from its From
	// address; nil means AcceptFrom (sender_auth = "none").
	Sender SenderCheck
	// DKIM signs every message the service writes (posts once, when
	// they are anonymized; private messages; notices) for the list
	// domain; nil means no signing.
	DKIM *dkimsign.Signer
	// Wake is called after each commit that queued deliveries.
	Wake func()
	// IMAPHost and IMAPPort are the archive's public address, for the
	// welcome message; "" / 0 mean Hostname and 143.
	IMAPHost string
	IMAPPort int
	// PasswordCost is the bcrypt cost of archive passwords; 0 means
	// DefaultPasswordCost.
	PasswordCost int
	// ConfirmTTL and ApprovalTTL are how long confirmation and approval
	// tokens live; 0 means DefaultConfirmTTL and DefaultApprovalTTL.
	ConfirmTTL, ApprovalTTL time.Duration
	// Bounce are the bounce-scoring rules; zero fields mean the defaults
	// (bounce.go).
	Bounce BounceRules
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the running list service. Its methods are safe for
// concurrent use.
type Service struct {
	store  *mailstore.DB
	domain string
	host   string
	tmpl   *templates.Set
	sender SenderCheck
	dkim   *dkimsign.Signer
	wake   func()
	log    *slog.Logger
	now    func() time.Time
	rate   *rateLimiter
	events listeners
	// replies caps automated replies per address per day.
	replies *replyLimiter

	imapHost, imapPort string
	passCost           int
	dummyHash          func() []byte

	confirmTTL, approvalTTL time.Duration
	bounce                  BounceRules
}

// New returns a Service over opts.Store.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("listserv: no store")
	}
	s := &Service{
		store:  opts.Store,
		domain: strings.ToLower(opts.Domain),
		host:   opts.Hostname,
		tmpl:   opts.Templates,
		sender: opts.Sender,
		dkim:   opts.DKIM,
		wake:   opts.Wake,
		log:    opts.Logger,
		now:    opts.Now,
	}
	if s.domain == "" {
		s.domain = "localhost"
	}
	if s.host == "" {
		s.host = s.domain
	}
	if s.tmpl == nil {
		s.tmpl = templates.New("")
	}
	if s.sender == nil {
		s.sender = AcceptFrom{}
	}
	s.sender = AuthenticatedSender{Next: s.sender}
	if s.wake == nil {
		s.wake = func() {}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.rate = newRateLimiter(s.now)
	s.replies = newReplyLimiter(s.now, RepliesPerDay)
	s.imapHost = opts.IMAPHost
	if s.imapHost == "" {
		s.imapHost = s.host
	}
	s.passCost = opts.PasswordCost
	if s.passCost == 0 {
		s.passCost = DefaultPasswordCost
	}
	if s.passCost < bcrypt.MinCost || s.passCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("listserv: password cost %d outside %d..%d", s.passCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	s.dummyHash = newDummyHash(s.passCost)
	s.confirmTTL, s.approvalTTL = opts.ConfirmTTL, opts.ApprovalTTL
	if s.confirmTTL <= 0 {
		s.confirmTTL = DefaultConfirmTTL
	}
	if s.approvalTTL <= 0 {
		s.approvalTTL = DefaultApprovalTTL
	}
	s.bounce = opts.Bounce.withDefaults()
	s.imapPort = portString(opts.IMAPPort)
	if s.imapPort == "" {
		s.imapPort = "143"
	}
	return s, nil
}

// Store returns the service's store.
func (s *Service) Store() *mailstore.DB { return s.store }

// Domain returns the lists' mail domain.
func (s *Service) Domain() string { return s.domain }

// SetWake sets the function called after commits that queue deliveries
// (the delivery queue is built after the service).
func (s *Service) SetWake(f func()) { s.wake = f }

// Resolve checks a RCPT address: a group address on our domain whose
// group exists, and for a private message an alias that names a current
// member.
func (s *Service) Resolve(ctx context.Context, addr string) (Target, error) {
	t, ok := ParseAddress(addr, s.domain)
	if !ok {
		return t, refuse(NoSuchRecipient, "no such recipient here")
	}
	if _, err := s.store.Group(t.Group); err != nil {
		return t, s.storeErr(err, "no such group here")
	}
	if t.Role == RolePrivate {
		m, err := s.store.MemberBySlug(t.Group, t.Tag)
		if err != nil || m.State == mailstore.Removed || m.State == mailstore.Pending {
			if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
				return t, unavailable(err)
			}
			return t, refuse(NoSuchRecipient, "no such member here")
		}
	}
	return t, nil
}

// newMessageID returns a fresh random Message-ID on our domain, without
// brackets.
func (s *Service) newMessageID() string {
	b := make([]byte, 15)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)) + "@" + s.domain
}

// newAlias draws aliases for AddMember.
func newAlias() (string, string, error) { return alias.Generate(rand.Reader) }

// ensure the anonymizer's List-Id stays the one the loop check uses.
func (s *Service) listID(group string) string { return anon.ListID(group, s.domain) }
