package listserv

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"mime"
	"mime/quotedprintable"
	"strconv"

	"github.com/emersion/go-message/textproto"

	"listserv/mailstore"
	"listserv/templates"
)

// notice is one message the service writes on its own behalf.
type notice struct {
	group    string
	to       string // the one recipient
	memberID uint64 // 0 for a non-member
	tmpl     string // template name
	data     map[string]any
	// replyTo is where a plain reply goes (a confirmation address); ""
	// means the group's owner address.
	replyTo string
}

// commonData is what every template may use.
func (s *Service) commonData(group string) map[string]any {
	return map[string]any{
		"Group":          group,
		"Domain":         s.domain,
		"PostAddress":    Address(group, RolePost, "", s.domain),
		"JoinAddress":    Address(group, RoleJoin, "", s.domain),
		"LeaveAddress":   Address(group, RoleLeave, "", s.domain),
		"RequestAddress": Address(group, RoleRequest, "", s.domain),
		"OwnerAddress":   Address(group, RoleOwner, "", s.domain),
		"IMAPHost":       s.imapHost,
		"IMAPPort":       s.imapPort,
	}
}

// compose renders a notice into a complete, DKIM-signed message.
func (s *Service) compose(n notice) ([]byte, error) {
	raw, err := s.render(n)
	if err != nil {
		return nil, err
	}
	return s.dkim.Sign(raw)
}

// render writes a notice as a complete message, unsigned. Header values
// go through textproto.WriteHeader, which refuses CR and LF, and the
// subject is RFC 2047-encoded, so no template value can add a header
// line.
func (s *Service) render(n notice) ([]byte, error) {
	data := s.commonData(n.group)
	maps.Copy(data, n.data)
	subject, body, err := s.tmpl.Render(n.group, n.tmpl, data)
	if err != nil {
		return nil, err
	}
	owner := Address(n.group, RoleOwner, "", s.domain)
	replyTo := n.replyTo
	if replyTo == "" {
		replyTo = owner
	}
	fields := [][2]string{
		{"MIME-Version", "1.0"},
		{"From", mime.QEncoding.Encode("utf-8", n.group+" admins") + " <" + owner + ">"},
		{"Reply-To", "<" + replyTo + ">"},
		{"To", "<" + n.to + ">"},
		{"Subject", mime.QEncoding.Encode("utf-8", subject)},
		{"Date", s.now().UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700")},
		{"Message-ID", "<" + s.newMessageID() + ">"},
		{"Auto-Submitted", "auto-generated"},
		{"List-Id", s.listID(n.group)},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
	}
	var h textproto.Header
	// textproto.Header.Add inserts at the top: add in reverse order.
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i][0], fields[i][1])
	}
	var buf bytes.Buffer
	if err := textproto.WriteHeader(&buf, h); err != nil {
		return nil, err
	}
	qp := quotedprintable.NewWriter(&buf)
	if _, err := qp.Write(crlf([]byte(body))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// send composes and queues notices, each durably, and wakes delivery.
func (s *Service) send(ns ...notice) error {
	var errs []error
	for _, n := range ns {
		raw, err := s.compose(n)
		if err == nil {
			err = s.store.Enqueue(n.group, raw, []mailstore.Recipient{{MemberID: n.memberID, Addr: n.to}})
		}
		if err != nil {
			s.log.Error("notice not queued", "group", n.group, "template", n.tmpl, "member", n.memberID, "err", err)
			errs = append(errs, err)
		}
	}
	s.wake()
	return errors.Join(errs...)
}

// crlf turns every line ending into CRLF.
func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// sendWelcome welcomes a new member: their alias, how to post and leave,
// and the archive settings. A person's first membership gets a new
// archive password; a later one says to keep the one they have, so that
// joining a second group never breaks their mail program's settings.
func (s *Service) sendWelcome(group string, m *mailstore.Member) error {
	password := ""
	if _, err := s.store.Account(m.Addr); errors.Is(err, mailstore.ErrNotFound) {
		if password, err = s.ResetPassword(m.Addr); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	return s.send(notice{group: group, to: m.Addr, memberID: m.ID, tmpl: "welcome", data: map[string]any{
		"Alias":        m.Alias,
		"AliasAddress": Address(group, RolePrivate, m.Slug, s.domain),
		"Password":     password,
	}})
}

// noticeKeys lists, for each template, the values its notices carry
// besides commonData's; it must match the calls that send them, so that
// the start-up check refuses an override that uses a value its notice
// does not have (missingkey=error), rather than the first notice at 3 a.m.
var noticeKeys = map[string][]string{
	"already_decided":  {"What", "Action", "By"},
	"approval_request": {"Requester", "Intro", "ApproveAddress", "RejectAddress", "Expires"},
	"bounce_probe":     {"Alias"},
	"bounce_suspended": {"Alias", "Address", "Reason", "Score", "ProbeDays"},
	"command_results":  {"Results"},
	"confirm_join":     {"ConfirmAddress", "Expires"},
	"confirm_leave":    {"ConfirmAddress", "Expires"},
	"confirm_erase":    {"ConfirmAddress", "Expires"},
	"erased":           {"Count", "Held"},
	"goodbye":          {},
	"held_admin":       {"Alias", "Reason", "ID", "Subject", "Text", "ApproveAddress", "RejectAddress", "DiscardAddress", "Expires"},
	"held_author":      {"Subject", "Reason"},
	"held_expired":     {"Subject", "Expires"},
	"held_rejected":    {"Subject", "Expires"},
	"help":             {},
	"join_expired":     {"Expires"},
	"join_rejected":    {},
	"join_waiting":     {},
	"owner_relay":      {"Sender", "Subject", "Text"},
	"token_invalid":    {"Expired", "Admin"},
	"welcome":          {"Alias", "AliasAddress", "Password"},
}

// sampleData fills the fields template name's notices carry, for the
// start-up check (every field any template uses for a name not listed).
func sampleData(name string) map[string]any {
	all := map[string]any{
		"Alias": "Quiet Heron", "AliasAddress": "g+quiet-heron@example.org", "Password": "",
		"ConfirmAddress": "g-confirm+t@example.org", "Expires": "2026-01-01 00:00 UTC",
		"Requester": "someone@example.org", "Intro": "hello", "ApproveAddress": "a", "RejectAddress": "r",
		"DiscardAddress": "d", "Subject": "s", "Reason": "moderated", "ID": "1", "Text": "t",
		"What": "w", "Action": "approved", "By": "b", "Expired": true, "Admin": true, "Sender": "x@example.org",
		"Address": "someone@example.org", "Score": "5", "ProbeDays": 7,
		"Results": []cmdResult{{"help", "sent"}}, "Count": 3, "Held": 1,
	}
	keys, ok := noticeKeys[name]
	if !ok {
		return all
	}
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		out[k] = all[k]
	}
	return out
}

// CheckTemplates renders every template, embedded or overridden, for
// each group and for none, so that a broken override is an error at
// start-up and not when the first member joins.
func (s *Service) CheckTemplates() error {
	groups, err := s.store.Groups()
	if err != nil {
		return err
	}
	names := []string{""}
	for _, g := range groups {
		names = append(names, g.Name)
	}
	var errs []error
	for _, g := range names {
		for _, t := range templates.Names() {
			n := notice{group: g, to: "someone@example.org", tmpl: t, data: sampleData(t)}
			if n.group == "" {
				n.group = "example"
			}
			if _, err := s.render(n); err != nil {
				errs = append(errs, fmt.Errorf("group %q: %w", g, err))
			}
		}
	}
	// One signature proves the key signs (rendering them all is cheap,
	// signing them all with RSA is not).
	if len(errs) == 0 && s.dkim != nil {
		if _, err := s.compose(notice{group: "example", to: "someone@example.org", tmpl: "help", data: sampleData("help")}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// portString formats a port for templates ("" when unknown).
func portString(p int) string {
	if p <= 0 {
		return ""
	}
	return strconv.Itoa(p)
}
