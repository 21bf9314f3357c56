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
	// The same command twice (in the subject and the body, say) runs
	// once: one message never brings two confirmations or two helps.
	seen := map[string]bool{}
	add := func(line string) {
		key := strings.ToLower(strings.Join(strings.Fields(line), " "))
		if !seen[key] {
			seen[key] = true
			out = append(out, line)
		}
	}
	if isCommand(subj) {
		add(subj)
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
		add(line)
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
	case "help", "join", "leave", "password", "erase":
		return len(f) == 1
	case "nomail", "self":
		return len(f) == 2 && (f[1] == "on" || f[1] == "off")
	case "alias":
		return len(f) >= 2
	}
	return false
}

// commands runs the commands in a message to -request@ and answers the
// sender with the results. A message counts once against the sender's
// daily answers, however many commands it holds; over the limit it runs
// none of them.
func (s *Service) commands(ctx context.Context, log *slog.Logger, group string, msg *anon.Message) error {
	from, ok := s.requester(log, msg)
	if !ok {
		return nil
	}
	s.noteActivityFrom(log, group, from)
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
			if err := s.send(notice{group: group, to: from, tmpl: "help"}); err != nil {
				return err
			}
			continue
		case "join":
			if err := s.joinConfirmation(log, group, from, ""); err != nil {
				return err
			}
			results = append(results, cmdResult{line, "If this address is not a member yet, a confirmation is on its way."})
			continue
		case "leave":
			if err := s.leaveConfirmation(log, group, from); err != nil {
				return err
			}
			results = append(results, cmdResult{line, "If this address is a member, a confirmation is on its way."})
			continue
		case "erase":
			// A former member may ask too: the confirmation goes to the
			// address, and the answer is the same either way (the roster
			// stays secret).
			if err := s.eraseConfirmation(log, group, from); err != nil {
				return err
			}
			results = append(results, cmdResult{line, "If this address is or was a member, a confirmation is on its way: your posts are erased only once you reply to it."})
			continue
		}
		res, err := s.memberCommand(ctx, log, group, from, msg.From.Name, verb, f[1:])
		if err != nil {
			return err
		}
		results = append(results, cmdResult{line, res})
	}
	if len(results) == 0 {
		return nil
	}
	return s.send(notice{group: group, to: from, tmpl: "command_results", data: map[string]any{"Results": results}})
}

// memberCommand runs a command that only a member may give.
// name is the display name of the message's From, which a chosen alias
// must not reveal.
func (s *Service) memberCommand(ctx context.Context, log *slog.Logger, group, addr, name, verb string, args []string) (string, error) {
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
		return s.setAlias(log, group, &m, name, strings.Join(args, " "))
	}
	return "Unknown command.", nil
}

// setAlias gives a member a pseudonym of their choosing. The old slug
// stays reserved for them, so private replies to it still arrive.
// display is the display name the member writes under.
func (s *Service) setAlias(log *slog.Logger, group string, m *mailstore.Member, display, name string) (string, error) {
	name = strings.TrimSpace(name)
	slug, ok := alias.Slug(name)
	if !alias.ValidName(name) || !ok || !alias.ValidSlug(slug) || looksLikeMember(name, m, display) {
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
// it holds their address's local part (its letters and digits, with or
// without the dots, dashes or underscores between them), or a word of 3
// or more letters of the local part, of their display name (as they
// write it, or as known to the group). Names are compared in the folded
// ASCII form of their slugs, so accents and case do not hide a match.
// Only the member's own details are compared: checking other members'
// would let anyone probe the roster with alias commands.
func looksLikeMember(name string, m *mailstore.Member, display string) bool {
	slug, _ := alias.Slug(name)
	words := strings.Split(slug, "-")
	joined := strings.Join(words, "")
	reveals := func(who string) bool {
		s, ok := alias.Slug(who)
		if !ok {
			return false
		}
		parts := strings.Split(s, "-")
		if all := strings.Join(parts, ""); len(all) >= 3 && strings.Contains(joined, all) {
			return true
		}
		for _, p := range parts {
			if len(p) < 3 {
				continue
			}
			for _, w := range words {
				if w == p {
					return true
				}
			}
		}
		return false
	}
	local, _, _ := strings.Cut(m.Addr, "@")
	return reveals(local) || reveals(m.Name) || reveals(display)
}
