package smtpin

// LMTP (RFC 2033), for an MTA such as Postfix in front of the service
// (Options.LMTP, config smtp.lmtp_listen).
//
// The recipients are checked at RCPT exactly as on port 25 (an unknown
// group, alias or foreign domain gets 550 5.1.1 there), but a
// transaction may name several of them (up to MaxLMTPRecipients), and
// after DATA each accepted recipient gets its own reply: the message is
// handed to the service once per distinct recipient address, so that a
// post accepted by one group (250) and refused by another (550 5.7.1, the
// sender is not a member there; 451 when a store write fails) is
// reported per recipient and the front MTA retries or bounces only what
// failed. The same address named twice in one transaction (even in
// another letter case) is processed once and both RCPTs get that reply.
//
// The client is a trusted MTA, not the sender: the per-IP connection
// limits, the error cap and the RCPT tarpit do not apply (the front MTA
// has its own), and Envelope.RemoteIP is left empty so that SPF is never
// judged against the front MTA's address. Envelope.LMTP is set: with
// sender_auth = "dmarc" the check then needs an aligned DKIM signature,
// or an Authentication-Results field of the configured front MTA
// (auth.trusted_authserv_id; see senderauth).

import (
	"bytes"
	"context"
	"io"

	"github.com/emersion/go-smtp"

	"listserv/listserv"
)

// MaxLMTPRecipients caps the recipients of one LMTP transaction (RFC
// 5321's minimum buffer); more get 452 4.5.3 and the MTA sends them in
// another transaction.
const MaxLMTPRecipients = 100

// lmtpRcpt is one accepted RCPT of an LMTP transaction: the address as
// the client wrote it (the StatusCollector's key) and what it names.
type lmtpRcpt struct {
	to     string
	target listserv.Target
}

var _ smtp.LMTPSession = (*session)(nil)

// LMTPData implements smtp.LMTPSession: it reads the message once and
// sets one status per accepted RCPT, in order. An error reading the
// message is returned and go-smtp gives it to every recipient.
func (s *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	s.mu.Lock()
	base := listserv.Envelope{MailFrom: s.from, ConnID: s.id, LMTP: true}
	rcpts := append([]lmtpRcpt(nil), s.rcpts...)
	s.mu.Unlock()
	if len(rcpts) == 0 { // a BDAT transfer reset before its Data began
		return errNoTransaction
	}
	raw, err := readData(r)
	if err != nil {
		refusal := dataReply(err)
		s.srv.log.Info("message refused", "conn", s.id, "reason", "data", "reply", refusal.Error())
		return refusal
	}
	done := make(map[listserv.Target]error, len(rcpts))
	accepted := 0
	for i, rc := range rcpts {
		err, seen := done[rc.target]
		if !seen {
			env := base
			env.Target = rc.target
			msg := raw
			if i > 0 {
				msg = bytes.Clone(raw) // each Receive owns its bytes
			}
			err = s.srv.answer("data", s.srv.svc.Receive(context.Background(), &env, msg))
			done[rc.target] = err
			if err == nil {
				accepted++
			}
		}
		status.SetStatus(rc.to, err)
	}
	s.srv.log.Debug("lmtp transaction", "conn", s.id, "recipients", len(rcpts), "distinct", len(done), "accepted", accepted)
	return nil
}
