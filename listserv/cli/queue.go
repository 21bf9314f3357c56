package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"listserv/listserv"
	"listserv/mailstore"
)

// queueList is `queue list [-failed] [-addresses] [GROUP]`: one delivery
// a line, tab-separated: job id, group, member id, member alias,
// attempts, next attempt (UTC; "-" in the failed list), last error code,
// age. Recipients are named by member id and alias so that terminal
// transcripts and pasted output carry no address; -addresses appends the
// address and the whole last error text (which may quote the address)
// for an operator who must act on them.
func queueList(args []string) (Action, error) {
	fs := flag.NewFlagSet("queue list", flag.ContinueOnError)
	failed := fs.Bool("failed", false, "list the deliveries given up instead")
	addrs := fs.Bool("addresses", false, "also print recipient addresses and full error texts")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, usageError{fs.Name() + ": " + err.Error()}
	}
	if fs.NArg() > 1 {
		return nil, usageError{"queue list: want at most GROUP"}
	}
	group := strings.ToLower(fs.Arg(0))
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		store := svc.Store()
		if group != "" {
			if _, err := store.Group(group); err != nil {
				return err
			}
		}
		var jobs []mailstore.Job
		var err error
		if *failed {
			jobs, err = store.FailedJobs()
		} else {
			jobs, err = store.QueuedJobs()
		}
		if err != nil {
			return err
		}
		aliases := map[string]string{}
		alias := func(g string, id uint64) string {
			if id == 0 {
				return "-"
			}
			key := g + "\x00" + strconv.FormatUint(id, 10)
			if a, ok := aliases[key]; ok {
				return a
			}
			a := "-"
			if m, err := store.MemberByID(g, id); err == nil {
				a = m.Alias
			} else if !errors.Is(err, mailstore.ErrNotFound) {
				a = "?"
			}
			aliases[key] = a
			return a
		}
		now := time.Now()
		for _, j := range jobs {
			if group != "" && j.Ref.Group != group {
				continue
			}
			next := "-"
			if !*failed {
				next = j.Due.UTC().Format("2006-01-02T15:04:05Z")
			}
			line := fmt.Sprintf("%d\t%s\t%d\t%s\t%d\t%s\t%s\t%s", j.ID, j.Ref.Group, j.MemberID, alias(j.Ref.Group, j.MemberID),
				j.Attempts, next, errorCode(j.LastErr, j.Rcpt), age(now.Sub(j.Created)))
			if *addrs {
				line += "\t" + j.Rcpt + "\t" + strings.Join(strings.Fields(j.LastErr), " ")
			}
			fmt.Fprintln(out, line)
		}
		return nil
	}, nil
}

var (
	replyCodeRE  = regexp.MustCompile(`^([2-5]\d\d)(?: ([245]\.\d{1,3}\.\d{1,3}))?(?:\s|$)`)
	statusCodeRE = regexp.MustCompile(`^([245]\.\d{1,3}\.\d{1,3})(?:\s|$)`)
	legacyCodeRE = regexp.MustCompile(`^SMTP error ([2-5]\d\d)\b`)
)

// errorCode is the code of a recorded delivery error: "451 4.7.1" for a
// reply, "4.4.1" for a verdict of the transport itself; an error without
// a code is shown short, with the recipient's address, local part and
// domain cut out; "-" when there was none yet.
func errorCode(lastErr, rcpt string) string {
	if lastErr == "" {
		return "-"
	}
	if m := replyCodeRE.FindStringSubmatch(lastErr); m != nil {
		return strings.TrimSpace(m[1] + " " + m[2])
	}
	if m := statusCodeRE.FindStringSubmatch(lastErr); m != nil {
		return m[1]
	}
	if m := legacyCodeRE.FindStringSubmatch(lastErr); m != nil {
		return m[1]
	}
	s := strings.Join(strings.Fields(lastErr), " ")
	local, domain, _ := strings.Cut(rcpt, "@")
	for _, secret := range []string{rcpt, local, domain} {
		if len(secret) >= 2 {
			s = regexp.MustCompile("(?i)"+regexp.QuoteMeta(secret)).ReplaceAllString(s, "<recipient>")
		}
	}
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return s
}

// age is a duration the way a queue listing shows it: 45s, 12m, 3h05m,
// 2d04h.
func age(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}
