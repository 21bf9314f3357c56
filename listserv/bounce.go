package listserv

// Bounce processing (SPEC §6).
//
// Every delivery's envelope sender is GROUP-bounces+TOKEN@DOMAIN, TOKEN
// naming (member id, delivery job id) under an HMAC with the store's VERP
// key (delivery.VERPToken): it names a delivery, never an address. Mail to
// that address is a bounce, or an auto-reply sent to the envelope sender.
// It is always answered 250 (a refusal would only make the remote MTA
// retry or bounce the bounce), and handled in steps:
//
//  1. The token is checked. A forged one, a token of a delivery to a
//     non-member (a confirmation sent to a stranger), or of someone who is
//     no member now: ignored, logged "bounce ignored" with a reason and an
//     8-hex-digit hash of the token, never the token.
//  2. The message is classified (parseBounce). A DSN (RFC 3464:
//     multipart/report with a message/delivery-status part, or RFC 6533's
//     message/global-delivery-status) by each recipient's Action, Status
//     and Diagnostic-Code. Anything else by a small heuristic
//     (classifyText): the message must carry the marks of a bounce (From
//     MAILER-DAEMON or postmaster or "Mail Delivery ...", a bounce-like
//     Subject, or X-Failed-Recipients) and not those of an auto-reply; then
//     the human-readable text before the returned message is searched for
//     an enhanced status code ("5.1.1"), an SMTP reply code ("550 ") or a
//     known phrase ("user unknown", "mailbox unavailable", "quota
//     exceeded", ...; see hardPhrases and quotaPhrases).
//  3. It is scored (the table below). Reports about one delivery job
//     count once. A score whose last counted bounce is older than
//     BounceRules.ResetAfter (config delivery.bounce_reset_days, default
//     7) starts again from zero.
//  4. At BounceRules.Threshold (delivery.bounce_threshold, default 5)
//     delivery is suspended: mailstore's BounceState.Suspended takes the
//     member out of the roster new posts are queued for (their
//     membership state is kept; `member list` shows "suspended"), and each
//     admin gets bounce_suspended, which names the member by alias and
//     address (the admins must act) and the status code, never the bounce.
//     Notices and private messages are still sent to them.
//  5. Reactivation, with the score back to zero: any message accepted from
//     the member (a post, or mail to -request); an admin's `listserv member
//     reactivate GROUP ADDR`; or a probe. ResetAfter after the suspension
//     the maintenance loop sends the member bounce_probe, a notice with its
//     own delivery job and so its own VERP token; when the delivery queue
//     reports that job delivered (DeliveryResult), the member is
//     reactivated. A smarthost accepts what the final server may bounce
//     later: a bounce of the probe's job suspends the member again at once,
//     and the next probe goes a further ResetAfter later. After maxProbes
//     probes without the member writing, it is the admins' call.
//
// What a bounce scores:
//
//	hard  +1    a failure with 5.x.x, or a hard phrase and no code
//	soft  +0.5  a failure with 4.x.x (given up after retries); X.2.2 or a
//	            quota phrase (mailbox full); 5.7.x without DMARC (a policy
//	            rejection: spam filters, blocklists, which say more about
//	            the message or our server than about the mailbox)
//	none  0     Action: delayed and plain delay warnings (not failures yet);
//	            success reports; read receipts; auto-replies; anything
//	            unrecognized
//	dmarc 0     a failure whose diagnostic names DMARC: the AUTHOR's domain
//	            policy refused the copy, no fault of the recipient. It means
//	            our From/DKIM alignment is off (we sign as the list domain,
//	            so it should be rare): logged "dmarc bounce" at warn level.
//
// Logs name the group, the member id and alias, the job id, the status code
// and the kind of bounce: never an address, a token or a word of the bounce.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"listserv/listserv/delivery"
	"listserv/mailstore"
)

// BounceRules are the scoring rules of bounce processing.
type BounceRules struct {
	// Threshold is the score at which delivery is suspended (0:
	// DefaultBounceThreshold).
	Threshold float64
	// ResetAfter: a score whose last bounce is older starts from zero,
	// and a suspended member is probed this long after the suspension
	// (0: DefaultBounceReset).
	ResetAfter time.Duration
}

// Defaults of the bounce rules, and what the kinds of bounce score.
const (
	DefaultBounceThreshold = 5
	DefaultBounceReset     = 7 * 24 * time.Hour

	hardBounceScore = 1
	softBounceScore = 0.5
	// maxProbes is how many probes a suspended member gets before only
	// they or an admin can end the suspension.
	maxProbes = 3
	// keepBounceJobs is how many counted job ids a member's record keeps
	// to recognize a second report about the same delivery.
	keepBounceJobs = 16
)

func (r BounceRules) withDefaults() BounceRules {
	if r.Threshold <= 0 {
		r.Threshold = DefaultBounceThreshold
	}
	if r.ResetAfter <= 0 {
		r.ResetAfter = DefaultBounceReset
	}
	return r
}

// errNoChange aborts a member update that has nothing to write.
var errNoChange = errors.New("no change")

// receiveBounce handles a message to -bounces+TOKEN@. It returns an error
// only when the store fails (451: the remote MTA tries again).
func (s *Service) receiveBounce(log *slog.Logger, env *Envelope, raw []byte) error {
	group := env.Target.Group
	memberID, jobID, ok := delivery.ParseVERPToken(s.store.VERPKey(), env.Target.Group, env.Target.Tag)
	if !ok {
		log.Info("bounce ignored", "reason", "invalid token", "token_hash", tokenHash(env.Target.Tag))
		return nil
	}
	log = log.With("job", jobID)
	if memberID == 0 {
		log.Info("bounce ignored", "reason", "not a delivery to a member")
		return nil
	}
	m, err := s.store.MemberByID(group, memberID)
	if err != nil || m.State == mailstore.Removed || m.State == mailstore.Pending {
		if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
			return unavailable(err)
		}
		log.Info("bounce ignored", "reason", "no such member now", "member", memberID)
		return nil
	}
	log = log.With("member", m.ID, "alias", m.Slug)
	rep := parseBounce(raw)
	switch rep.kind {
	case notBounce:
		log.Info("bounce ignored", "reason", rep.why)
		return nil
	case bounceDelayed:
		log.Info("bounce ignored", "reason", "delay warning", "status", rep.status)
		return nil
	case bounceDMARC:
		log.Warn("dmarc bounce", "status", rep.status, "detail", "the author's DMARC policy refused the copy; not counted against the recipient")
		return nil
	}
	return s.recordBounce(log, group, m.ID, jobID, rep)
}

// recordBounce counts a bounce of delivery job to member id and, when it
// suspends delivery, tells the admins.
func (s *Service) recordBounce(log *slog.Logger, group string, id, job uint64, rep bounceReport) error {
	m, out, err := s.countBounce(group, id, job, rep)
	switch {
	case errors.Is(err, errNoChange):
		log.Info("bounce ignored", "reason", "this delivery's bounce was already counted", "status", rep.status)
		return nil
	case errors.Is(err, mailstore.ErrNotFound):
		log.Info("bounce ignored", "reason", "no such member now")
		return nil
	case err != nil:
		log.Error("bounce not recorded", "err", err)
		return unavailable(err)
	}
	log.Info("bounce counted", "kind", rep.kind.String(), "status", rep.status, "how", rep.why,
		"score", m.Bounce.Score, "threshold", s.bounce.Threshold, "suspended", m.Bounce.Suspended)
	if out.suspended {
		log.Warn("delivery suspended for bounces", "status", rep.status, "score", m.Bounce.Score)
		s.emit(Event{Kind: MemberSuspended, Group: group, MemberID: m.ID})
		s.noticeSuspended(log, group, &m)
	}
	return nil
}

// bounceOutcome is what counting one bounce changed.
type bounceOutcome struct {
	suspended bool // delivery was suspended by this bounce
}

// countBounce adds a bounce of delivery job to member id's record and
// suspends delivery at the threshold. errNoChange: the job was counted
// before.
func (s *Service) countBounce(group string, id, job uint64, rep bounceReport) (mailstore.Member, bounceOutcome, error) {
	now := s.now()
	var out bounceOutcome
	m, err := s.store.UpdateMemberByID(group, id, func(m *mailstore.Member) error {
		out = bounceOutcome{}
		if m.State == mailstore.Removed || m.State == mailstore.Pending {
			return mailstore.ErrNotFound
		}
		b := &m.Bounce
		if slices.Contains(b.Jobs, job) {
			return errNoChange
		}
		if !b.Suspended && !b.Last.IsZero() && now.Sub(b.Last) > s.bounce.ResetAfter {
			b.Score = 0
		}
		b.Score += rep.score()
		b.Last = now
		b.Jobs = append(b.Jobs, job)
		if len(b.Jobs) > keepBounceJobs {
			b.Jobs = b.Jobs[len(b.Jobs)-keepBounceJobs:]
		}
		probe := b.ProbeJob != 0 && job == b.ProbeJob
		switch {
		case b.Suspended:
			if probe { // the probe bounced: wait another period
				b.ProbeJob, b.Since = 0, now
			}
		case probe || b.Score >= s.bounce.Threshold:
			// A bounce of the probe that reactivated the member proves the
			// address still fails, whatever the score.
			b.Suspended, b.Since, b.Reason, b.ProbeJob = true, now, rep.status, 0
			out.suspended = true
		}
		return nil
	})
	return m, out, err
}

// noticeSuspended tells each admin (but the member) that delivery to m is
// suspended. A failure is logged: the suspension stands either way.
func (s *Service) noticeSuspended(log *slog.Logger, group string, m *mailstore.Member) {
	admins, err := s.admins(group)
	if err != nil {
		log.Error("bounce notice not sent", "err", err)
		return
	}
	data := map[string]any{
		"Alias":     m.Alias,
		"Address":   m.Addr,
		"Reason":    describeStatus(m.Bounce.Reason),
		"Score":     strconv.FormatFloat(m.Bounce.Score, 'f', -1, 64),
		"ProbeDays": int(s.bounce.ResetAfter / (24 * time.Hour)),
	}
	var ns []notice
	for _, a := range admins {
		if a.ID != m.ID {
			ns = append(ns, notice{group: group, to: a.Addr, memberID: a.ID, tmpl: "bounce_suspended", data: data})
		}
	}
	if len(ns) == 0 {
		log.Warn("bounce notice not sent", "reason", "the group has no other admin")
		return
	}
	if err := s.send(ns...); err != nil {
		log.Error("bounce notice not sent", "err", err)
	}
}

// describeStatus renders a status code for the admins.
func describeStatus(status string) string {
	sub, det := statusParts(status)
	var what string
	switch {
	case status == "":
		return "delivery failed (no status code given)"
	case sub == "1" && (det == "1" || det == "0" || det == "6"):
		what = "the mailbox does not exist"
	case sub == "2" && det == "2":
		what = "the mailbox is full"
	case sub == "2" && det == "1":
		what = "the mailbox is disabled"
	case sub == "7":
		what = "refused by the receiving server's policy"
	case status[0] == '4':
		what = "temporary failure, given up"
	default:
		what = "permanent failure"
	}
	return status + " (" + what + ")"
}

// noteMemberActivity reactivates m when delivery to them is suspended:
// mail from a member proves they are there. Called where a post or a
// request from a member is accepted, with log naming m's alias; a store
// failure is logged and does not refuse the message.
func (s *Service) noteMemberActivity(log *slog.Logger, group string, m *mailstore.Member) {
	if !m.Bounce.Suspended {
		return
	}
	if _, err := s.reactivate(group, m.ID, false); err != nil {
		if !errors.Is(err, errNoChange) {
			log.Error("reactivation failed", "member", m.ID, "err", err)
		}
		return
	}
	log.Info("member reactivated", "member", m.ID, "reason", "mail from the member")
}

// noteActivityFrom is noteMemberActivity for the sender address of a
// request.
func (s *Service) noteActivityFrom(log *slog.Logger, group, addr string) {
	if m, err := s.store.MemberByAddr(group, addr); err == nil && m.CanPost() {
		s.noteMemberActivity(log.With("alias", m.Slug), group, &m)
	}
}

// reactivate ends a suspension and clears the score. keepProbe keeps the
// probe's job id (reactivation by the probe's delivery: a later bounce of
// it suspends again); otherwise the probe count starts over too.
func (s *Service) reactivate(group string, id uint64, keepProbe bool) (mailstore.Member, error) {
	return s.store.UpdateMemberByID(group, id, func(m *mailstore.Member) error {
		if !m.Bounce.Suspended {
			return errNoChange
		}
		b := mailstore.BounceState{}
		if keepProbe {
			b.ProbeJob, b.Probes = m.Bounce.ProbeJob, m.Bounce.Probes
		}
		m.Bounce = b
		return nil
	})
}

// ReactivateMember ends a suspension for bounces from the command line.
func (s *Service) ReactivateMember(ctx context.Context, group, addr string) (mailstore.Member, error) {
	group = strings.ToLower(group)
	m, err := s.store.MemberByAddr(group, addr)
	if err != nil {
		return m, err
	}
	if !m.Bounce.Suspended {
		return m, fmt.Errorf("delivery to %s in %s is not suspended", addr, group)
	}
	m, err = s.reactivate(group, m.ID, false)
	if errors.Is(err, errNoChange) {
		return m, fmt.Errorf("delivery to %s in %s is not suspended", addr, group)
	}
	if err != nil {
		return m, err
	}
	s.log.Info("member reactivated", "group", group, "member", m.ID, "alias", m.Slug, "reason", "admin")
	return m, nil
}

// ProbeBouncing sends the due probes: to each member whose delivery was
// suspended (or whose last probe failed) at least ResetAfter ago, with no
// probe outstanding and fewer than maxProbes sent. The maintenance loop
// calls it.
func (s *Service) ProbeBouncing(ctx context.Context) error {
	groups, err := s.store.Groups()
	if err != nil {
		return err
	}
	now := s.now()
	sent := 0
	var errs []error
	for _, g := range groups {
		members, err := s.store.Members(g.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, m := range members {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !probeDue(&m, now, s.bounce.ResetAfter) {
				continue
			}
			raw, err := s.compose(notice{group: g.Name, to: m.Addr, memberID: m.ID, tmpl: "bounce_probe", data: map[string]any{"Alias": m.Alias}})
			var probed mailstore.Member
			if err == nil {
				probed, err = s.store.EnqueueProbe(g.Name, m.ID, raw, func(m *mailstore.Member) bool { return probeDue(m, now, s.bounce.ResetAfter) })
			}
			if errors.Is(err, mailstore.ErrNotFound) {
				continue // reactivated or gone meanwhile
			}
			if err != nil {
				s.log.Error("bounce probe not queued", "group", g.Name, "member", m.ID, "err", err)
				errs = append(errs, err)
				continue
			}
			sent++
			s.log.Info("bounce probe queued", "group", g.Name, "member", m.ID, "alias", m.Slug, "job", probed.Bounce.ProbeJob, "probe", probed.Bounce.Probes)
		}
	}
	if sent > 0 {
		s.wake()
	}
	return errors.Join(errs...)
}

func probeDue(m *mailstore.Member, now time.Time, after time.Duration) bool {
	b := &m.Bounce
	return b.Suspended && (m.State == mailstore.Active || m.State == mailstore.NoMail) &&
		b.ProbeJob == 0 && b.Probes < maxProbes && now.Sub(b.Since) >= after
}

// DeliveryResult learns from the delivery queue's outcomes (the
// finisher's OnResult): a probe delivered reactivates its member; a probe
// refused for good leaves them suspended and the next probe a reset
// period away.
func (s *Service) DeliveryResult(r mailstore.Result) {
	j := r.Job
	if r.Outcome == mailstore.Failed && j.MemberID != 0 {
		s.deliveryFailed(r)
	}
	if j.MemberID == 0 || j.Ref.Spool == 0 || r.Outcome == mailstore.Retry {
		return // probes are spooled notices to members
	}
	m, err := s.store.MemberByID(j.Ref.Group, j.MemberID)
	if err != nil || !m.Bounce.Suspended || m.Bounce.ProbeJob != j.ID {
		return
	}
	log := s.log.With("group", j.Ref.Group, "member", m.ID, "alias", m.Slug, "job", j.ID)
	if r.Outcome == mailstore.Delivered {
		if _, err := s.reactivate(j.Ref.Group, m.ID, true); err != nil {
			if !errors.Is(err, errNoChange) {
				log.Error("reactivation failed", "err", err)
			}
			return
		}
		log.Info("member reactivated", "reason", "probe delivered")
		return
	}
	now := s.now()
	_, err = s.store.UpdateMemberByID(j.Ref.Group, m.ID, func(m *mailstore.Member) error {
		if m.Bounce.ProbeJob != j.ID {
			return errNoChange
		}
		m.Bounce.ProbeJob, m.Bounce.Since = 0, now
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		log.Error("probe failure not recorded", "err", err)
		return
	}
	log.Info("bounce probe failed; delivery stays suspended")
}

// tokenHash names a token in the log without revealing it.
func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:4])
}

// deliveryFailed counts a delivery to a member that failed for good in
// our own session like a bounce of it, when the failure is a verdict on
// the member's mailbox (failureReport). A DSN about the same job arriving
// later counts once.
func (s *Service) deliveryFailed(r mailstore.Result) {
	j := r.Job
	log := s.log.With("group", j.Ref.Group, "member", j.MemberID, "job", j.ID)
	rep, ok := failureReport(r.Err)
	if !ok {
		return // no verdict on the member's mailbox
	}
	s.recordBounce(log, j.Ref.Group, j.MemberID, j.ID, rep) // logs its own errors
}
