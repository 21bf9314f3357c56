// Package listserv is the service itself: groups, membership, who may
// post, and the post pipeline (parse → check → anonymize → commit →
// wake delivery). It speaks no protocol: smtpin hands it envelopes and
// bytes, the CLI and the control socket call its admin methods, and
// delivery drains the queue it fills. Its errors are *Error values whose
// Kind the protocol packages turn into wire replies.
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

	"listserv/listserv/alias"
	"listserv/listserv/anon"
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
	// Wake is called after each commit that queued deliveries.
	Wake func()
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
	wake   func()
	log    *slog.Logger
	now    func() time.Time
	rate   *rateLimiter
	events listeners
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
// group (and alias, for a private message) exists, in a role this
// version handles.
func (s *Service) Resolve(ctx context.Context, addr string) (Target, error) {
	t, ok := ParseAddress(addr, s.domain)
	if !ok {
		return t, refuse(NoSuchRecipient, "no such recipient here")
	}
	if _, err := s.store.Group(t.Group); err != nil {
		if errors.Is(err, mailstore.ErrNotFound) {
			return t, refuse(NoSuchRecipient, "no such group here")
		}
		return t, unavailable(err)
	}
	switch t.Role {
	case RolePost:
		return t, nil
	default:
		return t, refuse(NoSuchRecipient, "this address does not take mail yet")
	}
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

// logGroupf is a tiny helper for errors that name a group but no person.
func groupErr(group string, err error) error { return fmt.Errorf("group %s: %w", group, err) }
