// Package senderauth proves that a message arriving on port 25 comes from
// the domain its From header names (sender_auth = "dmarc"). It owns the
// DMARC-style identifier alignment: a message passes when a DKIM
// signature (github.com/emersion/go-msgauth/dkim) verifies for a domain
// aligned with the From domain, or when SPF (blitiri.com.ar/go/spf)
// passes for an envelope sender domain aligned with it. Alignment is
// relaxed: two domains align when their organizational domains (the
// public suffix list, golang.org/x/net/publicsuffix) are equal, unless
// the From domain's DMARC record asks for strict alignment (adkim=s,
// aspf=s; read with go-msgauth/dmarc only when a pass aligns by
// organizational domain alone). Alignment is required whatever DMARC
// policy the From domain publishes, p=none included, and when it
// publishes none. Over LMTP (behind a front MTA) SPF is not judged, and
// the front MTA's Authentication-Results may be believed (authres.go).
//
// The package also owns the DNS the checks use (Resolver, NewResolver),
// so that tests run offline and the operator can point the server at a
// resolver of their choice (dns.resolver).
//
// A Checker is the listserv.SenderCheck of the SMTP service. Its errors
// never name an address or a domain: a refusal is listserv.NotAllowed
// (550 5.7.1) with a text that says nothing about the roster, a
// temporary DNS failure listserv.Unavailable (451), and the cause kept
// for the log reads like "dkim=fail spf=softfail aligned=false".
package senderauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"listserv/listserv"
	"listserv/listserv/anon"
)

// Public texts of the refusals: they name no address and tell nothing
// about who is a member.
const (
	PublicFail = "sender not authenticated: a DKIM signature or SPF pass aligned with the From domain is required"
	PublicTemp = "cannot authenticate the sender right now (DNS), please try again later"
)

// maxSignatures caps the DKIM signatures verified per message (each may
// cost a DNS lookup).
const maxSignatures = 5

// Checker authenticates the From domain of incoming mail by aligned DKIM
// or SPF. It implements listserv.SenderCheck and is safe for concurrent
// use.
type Checker struct {
	// Resolver answers the DNS queries; nil means the system's.
	Resolver Resolver
	// Timeout bounds the DNS work of one check; zero means 20 s.
	Timeout time.Duration
	// TrustedAuthservID names the front MTA whose Authentication-Results
	// field is believed for mail that came over LMTP (authres.go); ""
	// believes none.
	TrustedAuthservID string
}

// New returns a Checker that asks r.
func New(r Resolver) *Checker { return &Checker{Resolver: r} }

var _ listserv.SenderCheck = (*Checker)(nil)

// Result is what one check found, without any address or domain.
type Result struct {
	// DKIM is the best outcome over the signatures whose domain aligns
	// with the From domain: "pass", "temperror", "fail", or "none" when no
	// signature aligns; "pass-unaligned" when only an unaligned signature
	// verified (or a subdomain's, and the domain asks for strict
	// alignment).
	DKIM string
	// SPF is the SPF result for the envelope sender's domain ("none" when
	// not evaluated because that domain does not align).
	SPF spf.Result
	// Aligned is true when an aligned DKIM or SPF pass proves the sender.
	Aligned bool
	// AuthRes is what the trusted front MTA's Authentication-Results
	// said, for LMTP mail with Checker.TrustedAuthservID set ("" when
	// not consulted): "pass", "none", "untrusted" or "temperror".
	AuthRes string
}

func (r Result) String() string {
	s := fmt.Sprintf("dkim=%s spf=%s aligned=%t", r.DKIM, r.SPF, r.Aligned)
	if r.AuthRes != "" {
		s += " authres=" + r.AuthRes
	}
	return s
}

// Check implements listserv.SenderCheck: nil when msg.From is proven by
// aligned DKIM or SPF, an *listserv.Error otherwise.
func (c *Checker) Check(ctx context.Context, env *listserv.Envelope, raw []byte, msg *anon.Message) error {
	fromDomain, ok := singleFromDomain(msg)
	if !ok {
		return &listserv.Error{Kind: listserv.NotAllowed, Public: PublicFail, Err: errors.New("from=invalid (none, several or unparseable)")}
	}
	authRes := ""
	if env != nil && env.LMTP {
		// The client is the front MTA: its address says nothing about
		// the sender, so SPF is not judged (Evaluate skips it without
		// an IP); its Authentication-Results may be believed.
		e := *env
		e.RemoteIP = nil
		env = &e
		if c.TrustedAuthservID != "" {
			authRes = c.authResults(ctx, fromDomain, msg)
			if authRes == "pass" {
				return nil
			}
		}
	}
	res, err := c.Evaluate(ctx, fromDomain, env, raw)
	res.AuthRes = authRes
	switch {
	case err != nil, authRes == "temperror" && !res.Aligned:
		return &listserv.Error{Kind: listserv.Unavailable, Public: PublicTemp, Err: errors.New(res.String())}
	case !res.Aligned:
		return &listserv.Error{Kind: listserv.NotAllowed, Public: PublicFail, Err: errors.New(res.String())}
	}
	return nil
}

// authResults evaluates the topmost Authentication-Results field of msg
// (authres.go).
func (c *Checker) authResults(ctx context.Context, fromDomain string, msg *anon.Message) string {
	ctx, cancel, r := c.lookups(ctx)
	defer cancel()
	m := &modeLookup{ctx: ctx, r: r, from: fromDomain}
	return trustedAuthResults(msg.Header.Values("Authentication-Results"), c.TrustedAuthservID, fromDomain, m)
}

// lookups bounds one message's DNS work by c.Timeout (20 s by default)
// and returns the resolver to ask.
func (c *Checker) lookups(ctx context.Context) (context.Context, context.CancelFunc, Resolver) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	r := c.Resolver
	if r == nil {
		r = NewResolver("")
	}
	return ctx, cancel, r
}

// ErrTemporary is returned by Evaluate when no aligned pass was found and
// a DNS lookup that could have given one failed temporarily.
var ErrTemporary = errors.New("senderauth: temporary DNS failure")

// Evaluate checks raw (a whole message, CRLF lines) against fromDomain,
// with env's envelope sender and client IP for SPF. It returns
// ErrTemporary when the answer might change on retry; otherwise
// Result.Aligned says whether the sender is proven.
func (c *Checker) Evaluate(ctx context.Context, fromDomain string, env *listserv.Envelope, raw []byte) (Result, error) {
	ctx, cancel, r := c.lookups(ctx)
	defer cancel()
	if env == nil {
		env = &listserv.Envelope{}
	}
	fromDomain = normalize(fromDomain)
	res := Result{DKIM: "none", SPF: spf.None}
	temp := false
	modes := modeLookup{ctx: ctx, r: r, from: fromDomain}

	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return r.LookupTXT(ctx, name) },
		MaxVerifications: maxSignatures,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		verifs = nil // an unreadable header: no signature counts
	}
	exact, relaxed := false, false
	for _, v := range verifs {
		aligned := Aligned(v.Domain, fromDomain)
		switch {
		case v.Err == nil && aligned:
			exact = exact || normalize(v.Domain) == fromDomain
			relaxed = true
		case v.Err == nil:
			if res.DKIM == "none" {
				res.DKIM = "pass-unaligned"
			}
		case !aligned:
		case dkim.IsTempFail(v.Err):
			temp = true
			res.DKIM = "temperror"
		case res.DKIM != "temperror":
			res.DKIM = "fail"
		}
	}
	if relaxed {
		res.DKIM = "pass"
		if exact {
			res.Aligned = true
			return res, nil
		}
		switch strict, err := modes.strict(false); {
		case err != nil:
			temp = true
		case !strict:
			res.Aligned = true
			return res, nil
		default:
			res.DKIM = "pass-unaligned" // the domain asks for strict alignment
		}
	}

	mailDomain := normalize(domainOf(env.MailFrom))
	if env.RemoteIP != nil && Aligned(mailDomain, fromDomain) {
		res.SPF, _ = spf.CheckHostWithSender(env.RemoteIP, "", env.MailFrom,
			spf.WithResolver(r), spf.WithContext(ctx))
		switch res.SPF {
		case spf.Pass:
			if mailDomain == fromDomain {
				res.Aligned = true
				return res, nil
			}
			switch strict, err := modes.strict(true); {
			case err != nil:
				temp = true
			case !strict:
				res.Aligned = true
				return res, nil
			}
		case spf.TempError:
			temp = true
		}
	}
	if temp {
		return res, ErrTemporary
	}
	return res, nil
}

// modeLookup finds, at most once per message, whether the From domain's
// DMARC record asks for strict alignment (adkim=s, aspf=s). It is asked
// only when a pass aligns by organizational domain alone: relaxed
// alignment is the default, and an exact match needs no record.
type modeLookup struct {
	ctx  context.Context
	r    Resolver
	from string

	done bool
	rec  *dmarc.Record
	err  error
}

// strict reports whether SPF (forSPF) or DKIM alignment must be
// strict; an error means the record could not be read for now.
func (m *modeLookup) strict(forSPF bool) (bool, error) {
	if !m.done {
		m.done = true
		m.rec, m.err = m.lookup()
	}
	if m.err != nil || m.rec == nil {
		return false, m.err
	}
	if forSPF {
		return m.rec.SPFAlignment == dmarc.AlignmentStrict, nil
	}
	return m.rec.DKIMAlignment == dmarc.AlignmentStrict, nil
}

// lookup reads the record of the From domain, or else of its
// organizational domain (RFC 7489 §6.6.3). No record, or one that does
// not parse, means the defaults (relaxed).
func (m *modeLookup) lookup() (*dmarc.Record, error) {
	opts := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) { return m.r.LookupTXT(m.ctx, name) }}
	domains := []string{m.from}
	if org, err := publicsuffix.EffectiveTLDPlusOne(m.from); err == nil && org != m.from {
		domains = append(domains, org)
	}
	for _, d := range domains {
		rec, err := dmarc.LookupWithOptions(d, opts)
		switch {
		case err == nil:
			return rec, nil
		case dmarc.IsTempFail(err):
			return nil, ErrTemporary
		case errors.Is(err, dmarc.ErrNoPolicy):
			continue
		default:
			return nil, nil
		}
	}
	return nil, nil
}

// Aligned reports whether domains a and b align in relaxed mode: equal
// organizational domains (case-insensitive). An empty domain, or one the
// public suffix list cannot place, aligns only with itself.
func Aligned(a, b string) bool {
	a, b = normalize(a), normalize(b)
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	oa, err := publicsuffix.EffectiveTLDPlusOne(a)
	if err != nil {
		return false
	}
	ob, err := publicsuffix.EffectiveTLDPlusOne(b)
	return err == nil && oa == ob
}

func normalize(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return addr[i+1:]
}

// singleFromDomain returns the domain of the message's only author. DMARC
// cannot vouch for a message with several From fields or mailboxes: the
// signature could cover one while the service reads another.
func singleFromDomain(msg *anon.Message) (string, bool) {
	vals := msg.Header.Values("From")
	if len(vals) != 1 || msg.From.Addr == "" {
		return "", false
	}
	// Several mailboxes in the one field: refused too. A field the
	// standard parser cannot read is left to anon's reading (the first
	// mailbox), which the signature covers all the same.
	if list, err := mail.ParseAddressList(vals[0]); err == nil && len(list) != 1 {
		return "", false
	}
	d := normalize(domainOf(msg.From.Addr))
	return d, d != ""
}
