// Package cli holds listserv's admin commands (group, member, backup):
// argument parsing, the action on a Service, and the text they print.
// The same code runs inside a server (behind the control socket) and on
// a stopped data directory, so both answer alike.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"listserv/listserv"
	"listserv/mailstore"
)

// usageError is a command line that does not parse: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Usage is the command line summary.
const Usage = `usage: listserv [-config FILE] COMMAND [ARGS]

  serve                                   run the service
  group create [-join open|approve] [-post members|moderated|first-post|announce] [-admin ADDR]... NAME
  group list
  group show NAME
  group set GROUP KEY VALUE               join_policy, post_policy, posts_per_hour,
                                          first_posts_held, archive_days, hold_days, description
  member add [-admin] GROUP ADDR          active at once, welcome sent
  member list GROUP                       address, alias, state[, admin]
  member pending GROUP                    join requests awaiting approval
  member approve GROUP ADDR
  member reject GROUP ADDR
  member remove GROUP ADDR
  member reactivate GROUP ADDR            resume delivery suspended for bounces
  member erase GROUP ADDR|ALIAS           remove every post of that (former) member from
                                          the archive for good; prints how many
  held list GROUP                         id, alias, date, status, subject
  held approve GROUP ID
  held reject GROUP ID
  backup FILE                             consistent copy of the database
  compact                                 (server stopped) rewrite the database with live
                                          records only: erased bytes leave the file
  queue list [-failed] [-addresses] [GROUP]
                                          queued (or given-up) deliveries: id, group, member id,
                                          alias, attempts, next attempt, last error code, age;
                                          -addresses adds the address and the full error text
  archive export GROUP FILE               the archive as an mbox (already anonymized)
  archive import GROUP FILE               anonymize an mbox into the archive, in date order,
                                          threads kept, nothing delivered
  dkim keygen [-type rsa|ed25519] [-out FILE]
                                          write a DKIM key (RSA-2048 by default; -out
                                          defaults to dkim.key_file) and print its DNS record

Without -config, the embedded defaults are used (data in ./data).
`

// Action is a parsed command, ready to run against a service.
type Action func(ctx context.Context, svc *listserv.Service, out io.Writer) error

// Run runs one admin command against svc and returns the exit status:
// 0 success, 1 refused (one line on stderr), 2 usage error.
func Run(ctx context.Context, svc *listserv.Service, args []string, stdout, stderr io.Writer) int {
	act, err := Parse(args)
	if err == nil {
		err = act(ctx, svc, stdout)
	}
	return Report(err, stderr)
}

// Report prints err the way every command does and returns the exit
// status for it.
func Report(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "listserv:", ue.msg)
		fmt.Fprint(stderr, Usage)
		return 2
	default:
		fmt.Fprintln(stderr, "listserv:", oneLine(err))
		return 1
	}
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// Parse checks a command line without touching any data: a usage error
// is reported before a data directory is opened.
func Parse(args []string) (Action, error) {
	if len(args) == 0 {
		return nil, usageError{"no command"}
	}
	cmd, rest := args[0], args[1:]
	if len(rest) > 0 && (cmd == "group" || cmd == "member" || cmd == "held" || cmd == "archive" || cmd == "queue") {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	parsers := map[string]func([]string) (Action, error){
		"group create":   groupCreate,
		"group list":     groupList,
		"group show":     groupShow,
		"member add":     memberAdd,
		"member list":    memberList,
		"member remove":  memberRemove,
		"member erase":   memberErase,
		"backup":         backup,
		"archive export": archiveExport,
		"archive import": archiveImport,
		"group set":      groupSet,
		"member pending": memberPending,
		"member approve": memberDecide(true),
		"member reject":  memberDecide(false),
		"held list":      heldList,
		"queue list":     queueList,
		"held approve":   heldDecide(true),
		"held reject":    heldDecide(false),

		"member reactivate": memberReactivate, // delivery suspended for bounces
	}
	if p, ok := parsers[cmd]; ok {
		return p(rest)
	}
	return nil, usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// parse parses flags (which come before positional arguments) and checks
// the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, want int, names string) ([]string, error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, usageError{fs.Name() + ": " + err.Error()}
	}
	if fs.NArg() != want {
		return nil, usageError{fmt.Sprintf("%s: want %s", fs.Name(), names)}
	}
	return fs.Args(), nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func groupCreate(args []string) (Action, error) {
	fs := flag.NewFlagSet("group create", flag.ContinueOnError)
	join := fs.String("join", "approve", "open or approve")
	post := fs.String("post", "members", "members, moderated, first-post or announce")
	var admins listFlag
	fs.Var(&admins, "admin", "admin address (repeatable)")
	pos, err := parse(fs, args, 1, "NAME")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		g, err := svc.CreateGroup(ctx, listserv.GroupSpec{Name: pos[0], JoinPolicy: *join, PostPolicy: *post, Admins: admins})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "created group %s (%s)\n", g.Name, listserv.Address(g.Name, listserv.RolePost, "", svc.Domain()))
		return nil
	}, nil
}

func groupList(args []string) (Action, error) {
	if _, err := parse(flag.NewFlagSet("group list", flag.ContinueOnError), args, 0, "no arguments"); err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		groups, err := svc.Store().Groups()
		if err != nil {
			return err
		}
		for _, g := range groups {
			fmt.Fprintln(out, g.Name)
		}
		return nil
	}, nil
}

func groupShow(args []string) (Action, error) {
	pos, err := parse(flag.NewFlagSet("group show", flag.ContinueOnError), args, 1, "NAME")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		g, err := svc.Store().Group(strings.ToLower(pos[0]))
		if err != nil {
			return err
		}
		members, err := svc.Members(ctx, g.Name)
		if err != nil {
			return err
		}
		admins := 0
		for _, m := range members {
			if m.Admin {
				admins++
			}
		}
		posts, err := svc.Store().ArchiveCount(g.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "name\t%s\naddress\t%s\njoin_policy\t%s\npost_policy\t%s\nposts_per_hour\t%d\narchive_days\t%d\nmembers\t%d\nadmins\t%d\nposts\t%d\ncreated\t%s\n",
			g.Name, listserv.Address(g.Name, listserv.RolePost, "", svc.Domain()), g.JoinPolicy, g.PostPolicy,
			g.PostsPerHour, g.ArchiveDays, len(members), admins, posts, g.Created.Format("2006-01-02T15:04:05Z"))
		return nil
	}, nil
}

func memberAdd(args []string) (Action, error) {
	fs := flag.NewFlagSet("member add", flag.ContinueOnError)
	isAdmin := fs.Bool("admin", false, "make the member an admin")
	pos, err := parse(fs, args, 2, "GROUP ADDR")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		m, err := svc.AddMember(ctx, pos[0], pos[1], *isAdmin)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "added %s as %q\n", m.Addr, m.Alias)
		return nil
	}, nil
}

func memberList(args []string) (Action, error) {
	pos, err := parse(flag.NewFlagSet("member list", flag.ContinueOnError), args, 1, "GROUP")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		members, err := svc.Members(ctx, pos[0])
		if err != nil {
			return err
		}
		for _, m := range members {
			line := m.Addr + "\t" + m.Alias + "\t" + m.ListState()
			if m.Admin {
				line += "\tadmin"
			}
			fmt.Fprintln(out, line)
		}
		return nil
	}, nil
}

func memberRemove(args []string) (Action, error) {
	pos, err := parse(flag.NewFlagSet("member remove", flag.ContinueOnError), args, 2, "GROUP ADDR")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		m, err := svc.RemoveMember(ctx, pos[0], pos[1])
		if errors.Is(err, mailstore.ErrNotFound) {
			return fmt.Errorf("%s is not a member of %s", pos[1], pos[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "removed %q\n", m.Alias)
		return nil
	}, nil
}

func memberReactivate(args []string) (Action, error) {
	pos, err := parse(flag.NewFlagSet("member reactivate", flag.ContinueOnError), args, 2, "GROUP ADDR")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		m, err := svc.ReactivateMember(ctx, pos[0], pos[1])
		if errors.Is(err, mailstore.ErrNotFound) {
			return fmt.Errorf("%s is not a member of %s", pos[1], pos[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "delivery to %q resumed\n", m.Alias)
		return nil
	}, nil
}

func backup(args []string) (Action, error) {
	pos, err := parse(flag.NewFlagSet("backup", flag.ContinueOnError), args, 1, "FILE")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		n, err := svc.Store().BackupFile(pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s (%d bytes)\n", pos[0], n)
		return nil
	}, nil
}

func memberErase(args []string) (Action, error) {
	pos, err := parse(flag.NewFlagSet("member erase", flag.ContinueOnError), args, 2, "GROUP ADDR|ALIAS")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		res, err := svc.EraseMember(ctx, pos[0], pos[1])
		if errors.Is(err, mailstore.ErrNotFound) {
			if _, gerr := svc.Store().Group(strings.ToLower(pos[0])); gerr != nil {
				return gerr
			}
			return fmt.Errorf("%s is not and never was a member of %s", pos[1], pos[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "erased %d %s", res.Posts, plural(res.Posts, "post", "posts"))
		if res.Held > 0 {
			fmt.Fprintf(out, " and %d held %s", res.Held, plural(res.Held, "post", "posts"))
		}
		fmt.Fprintln(out)
		return nil
	}, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
