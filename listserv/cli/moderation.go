package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"

	"listserv/listserv"
)

func groupSet(args []string) (Action, error) {
	pos, err := parse(flag.NewFlagSet("group set", flag.ContinueOnError), args, 3, "GROUP KEY VALUE")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		g, err := svc.SetGroup(ctx, pos[0], pos[1], pos[2])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %s = %s\n", g.Name, pos[1], pos[2])
		return nil
	}, nil
}

func memberPending(args []string) (Action, error) {
	pos, err := parse(flag.NewFlagSet("member pending", flag.ContinueOnError), args, 1, "GROUP")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		pending, err := svc.Pending(ctx, pos[0])
		if err != nil {
			return err
		}
		for _, m := range pending {
			intro := oneLineCut(m.Intro, 120)
			fmt.Fprintf(out, "%s\t%s\t%s\n", m.Addr, m.Joined.Format("2006-01-02T15:04:05Z"), intro)
		}
		return nil
	}, nil
}

// memberDecide is member approve / member reject.
func memberDecide(approve bool) func([]string) (Action, error) {
	name := "member reject"
	if approve {
		name = "member approve"
	}
	return func(args []string) (Action, error) {
		pos, err := parse(flag.NewFlagSet(name, flag.ContinueOnError), args, 2, "GROUP ADDR")
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
			if err := svc.DecideJoin(ctx, pos[0], pos[1], approve); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s: %s\n", pos[1], map[bool]string{true: "approved", false: "rejected"}[approve])
			return nil
		}, nil
	}
}

func heldList(args []string) (Action, error) {
	pos, err := parse(flag.NewFlagSet("held list", flag.ContinueOnError), args, 1, "GROUP")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		held, err := svc.Store().HeldPosts(strings.ToLower(pos[0]))
		if err != nil {
			return err
		}
		for _, h := range held {
			status := "waiting"
			if h.Decided != nil {
				status = h.Decided.Action + " by " + h.Decided.By
			}
			author, _ := svc.Store().MemberByID(strings.ToLower(pos[0]), h.Author)
			fmt.Fprintf(out, "%d\t%s\t%s\t%s\t%s\n", h.ID, author.Alias, h.Created.Format("2006-01-02T15:04:05Z"), status,
				oneLineCut(decodeHeader(h.Post.Meta.Subject), 200))
		}
		return nil
	}, nil
}

// heldDecide is held approve / held reject.
func heldDecide(approve bool) func([]string) (Action, error) {
	name := "held reject"
	if approve {
		name = "held approve"
	}
	return func(args []string) (Action, error) {
		pos, err := parse(flag.NewFlagSet(name, flag.ContinueOnError), args, 2, "GROUP ID")
		if err != nil {
			return nil, err
		}
		id, err := strconv.ParseUint(pos[1], 10, 64)
		if err != nil {
			return nil, usageError{name + ": ID must be a number (see held list)"}
		}
		return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
			if err := svc.DecideHeld(ctx, strings.ToLower(pos[0]), id, approve); err != nil {
				return err
			}
			fmt.Fprintf(out, "held post %d: %s\n", id, map[bool]string{true: "approved", false: "rejected"}[approve])
			return nil
		}, nil
	}
}

// oneLineCut makes text one line without tabs (the output's columns are
// tab-separated) and cuts it at max bytes, on a character boundary.
func oneLineCut(text string, max int) string {
	s := strings.Join(strings.Fields(text), " ")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// decodeHeader decodes RFC 2047 words in a header value (a held post's
// subject is stored as the header had it).
func decodeHeader(v string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}
