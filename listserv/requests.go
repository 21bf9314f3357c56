package listserv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"listserv/listserv/alias"
	"listserv/listserv/anon"
	"listserv/mailstore"
)

// Commands to -request@ (SPEC §2): one per line in the subject or the
// first lines of a plain-text body. There is no "who": the roster stays
// secret.

// maxCommands caps how many command lines one message may carry.
const maxCommands = 10

type cmdResult struct{ Command, Result string }

// commandLines extracts command lines: the subject (less "Re:"), then
// body lines up to a blank line after commands, a quote or a signature.
func commandLines(msg *anon.Message) []string {
	var out []string
	subj := strings.TrimSpace(decodeSubject(msg.Header.Get("Subject")))
	for _, p := range []string{"re:", "aw:", "fwd:", "fw:"} {
		if len(subj) >= len(p) && strings.EqualFold(subj[:len(p)], p) {
			subj = strings.TrimSpace(subj[len(p):])
		}
	}
	if isCommand(subj) {
		out = append(out, subj)
	}
	if !plainBody(msg) {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(msg.Body))
	for sc.Scan() && len(out) < maxCommands {
		line := strings.TrimSpace(sc.Text())
		if line == "--" || strings.HasPrefix(line, ">") {
			break
		}
		if line == "" {
			continue
		}
		if !isCommand(line) {
			break // prose: the commands are over
		}
		out = append(out, line)
	}
	return out
}

// plainBody reports whether the body is plain text we can read lines of.
func plainBody(msg *anon.Message) bool {
	ct := strings.ToLower(msg.Header.Get("Content-Type"))
	cte := strings.ToLower(strings.TrimSpace(msg.Header.Get("Content-Transfer-Encoding")))
	return (ct == "" || strings.HasPrefix(ct, "text/plain")) && (cte == "" || cte == "7bit" || cte == "8bit")
}

func isCommand(line string) bool {
	f := strings.Fields(strings.ToLower(line))
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "help", "join", "leave", "password":
		return len(f) == 1
	case "nomail", "self":
		return len(f) == 2 && (f[1] == "on" || f[1] == "off")
	case "alias":
		return len(f) >= 2
	}
	return false
}

// commands runs the commands in a message to -request@ and answers the
// sender with the results.
func (s *Service) commands(ctx context.Context, log *slog.Logger, group string, msg *anon.Message) error {
	lines := commandLines(msg)
	if len(lines) == 0 {
		lines = []string{"help"}
	}
	var results []cmdResult
	for _, line := range lines {
		f := strings.Fields(line)
		verb := strings.ToLower(f[0])
		switch verb {
		case "help":
			log.Info("command", "verb", verb)
			if err := s.reply(log, notice{group: group, to: msg.From.Addr, tmpl: "help"}); err != nil {
				return err
			}
			continue
		case "join":
			if err := s.requestJoin(log, group, msg, ""); err != nil {
				return err
			}
			results = append(results, cmdResult{line, "If this address is not a member yet, a confirmation is on its way."})
			continue
		case "leave":
			if err := s.requestLeave(log, group, msg); err != nil {
				return err
			}
			results = append(results, cmdResult{line, "If this address is a member, a confirmation is on its way."})
			continue
		}
		res, err := s.memberCommand(ctx, log, group, msg.From.Addr, verb, f[1:])
		if err != nil {
			return err
		}
		results = append(results, cmdResult{line, res})
	}
	if len(results) == 0 {
		return nil
	}
	return s.reply(log, notice{group: group, to: msg.From.Addr, tmpl: "command_results", data: map[string]any{"Results": results}})
}

// memberCommand runs a command that only a member may give.
func (s *Service) memberCommand(ctx context.Context, log *slog.Logger, group, addr, verb string, args []string) (string, error) {
	m, err := s.store.MemberByAddr(group, addr)
	if err != nil || !m.CanPost() {
		if err != nil && !errors.Is(err, mailstore.ErrNotFound) {
			return "", unavailable(err)
		}
		return "Only members can do this.", nil
	}
	log = log.With("alias", m.Slug)
	log.Info("command", "verb", verb)
	switch verb {
	case "nomail":
		on := strings.EqualFold(args[0], "on")
		_, err := s.store.UpdateMember(group, addr, func(m *mailstore.Member) error {
			if m.State != mailstore.Active && m.State != mailstore.NoMail {
				return fmt.Errorf("state %s", m.State)
			}
			m.State = mailstore.Active
			if on {
				m.State = mailstore.NoMail
			}
			return nil
		})
		if err != nil {
			return "", unavailable(err)
		}
		s.emit(Event{Kind: MembershipChanged, Group: group, MemberID: m.ID})
		if on {
			return "Posts are no longer sent to you. Send \"nomail off\" to get them again.", nil
		}
		return "Posts are sent to you again.", nil
	case "self":
		on := strings.EqualFold(args[0], "on")
		if _, err := s.store.UpdateMember(group, addr, func(m *mailstore.Member) error { m.NoSelf = !on; return nil }); err != nil {
			return "", unavailable(err)
		}
		if on {
			return "You will get a copy of your own posts.", nil
		}
		return "You will not get a copy of your own posts.", nil
	case "password":
		p, err := s.ResetPassword(m.Addr)
		if err != nil {
			return "", unavailable(err)
		}
		return "Your new archive password is: " + p + "\nThe old one no longer works.", nil
	case "alias":
		return s.setAlias(log, group, &m, strings.Join(args, " "))
	}
	return "Unknown command.", nil
}

// setAlias gives a member a pseudonym of their choosing. The old slug
// stays reserved for them, so private replies to it still arrive.
func (s *Service) setAlias(log *slog.Logger, group string, m *mailstore.Member, name string) (string, error) {
	name = strings.TrimSpace(name)
	slug, ok := alias.Slug(name)
	if !alias.ValidName(name) || !ok || !alias.ValidSlug(slug) || looksLikeMember(name, m) {
		return "That name cannot be used: use 3 to 40 letters, digits and spaces, nothing that looks like an address or your real name.", nil
	}
	if err := s.store.SetAlias(group, m.ID, name, slug); err != nil {
		if errors.Is(err, mailstore.ErrExists) {
			return "That name is taken in this group; please choose another.", nil
		}
		return "", unavailable(err)
	}
	log.Info("alias changed", "new", slug)
	return "You are now known as \"" + name + "\" (" + Address(group, RolePrivate, slug, s.domain) + ").", nil
}

// looksLikeMember reports whether a chosen name would reveal the member:
// their address's local part or their known display name.
func looksLikeMember(name string, m *mailstore.Member) bool {
	low := strings.ToLower(name)
	local, _, _ := strings.Cut(strings.ToLower(m.Addr), "@")
	if len(local) >= 3 && strings.Contains(strings.ReplaceAll(low, " ", ""), strings.Trim(local, ".-_+")) {
		return true
	}
	return m.Name != "" && strings.Contains(low, strings.ToLower(m.Name))
}
