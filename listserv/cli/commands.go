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
	"os"
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
  group create [-join open|approve] [-post members|announce] [-admin ADDR]... NAME
  group list
  group show NAME
  member add [-admin] GROUP ADDR          active at once, welcome sent
  member list GROUP                       address, alias, state[, admin]
  member remove GROUP ADDR
  backup FILE                             consistent copy of the database

Without -config, the embedded defaults are used (data in ./data).
`

// Run runs one admin command against svc and returns the exit status:
// 0 success, 1 refused (one line on stderr), 2 usage error.
func Run(ctx context.Context, svc *listserv.Service, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, svc, args, stdout)
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

func dispatch(ctx context.Context, svc *listserv.Service, args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	cmd, rest := args[0], args[1:]
	if len(rest) > 0 && (cmd == "group" || cmd == "member") {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	switch cmd {
	case "group create":
		return groupCreate(ctx, svc, rest, out)
	case "group list":
		return groupList(svc, rest, out)
	case "group show":
		return groupShow(svc, rest, out)
	case "member add":
		return memberAdd(ctx, svc, rest, out)
	case "member list":
		return memberList(ctx, svc, rest, out)
	case "member remove":
		return memberRemove(ctx, svc, rest, out)
	case "backup":
		return backup(svc, rest, out)
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
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

func groupCreate(ctx context.Context, svc *listserv.Service, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("group create", flag.ContinueOnError)
	join := fs.String("join", "approve", "open or approve")
	post := fs.String("post", "members", "members or announce")
	var admins listFlag
	fs.Var(&admins, "admin", "admin address (repeatable)")
	pos, err := parse(fs, args, 1, "NAME")
	if err != nil {
		return err
	}
	g, err := svc.CreateGroup(ctx, listserv.GroupSpec{Name: pos[0], JoinPolicy: *join, PostPolicy: *post, Admins: admins})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "created group %s (%s)\n", g.Name, listserv.Address(g.Name, listserv.RolePost, "", svc.Domain()))
	return nil
}

func groupList(svc *listserv.Service, args []string, out io.Writer) error {
	if _, err := parse(flag.NewFlagSet("group list", flag.ContinueOnError), args, 0, "no arguments"); err != nil {
		return err
	}
	groups, err := svc.Store().Groups()
	if err != nil {
		return err
	}
	for _, g := range groups {
		fmt.Fprintln(out, g.Name)
	}
	return nil
}

func groupShow(svc *listserv.Service, args []string, out io.Writer) error {
	pos, err := parse(flag.NewFlagSet("group show", flag.ContinueOnError), args, 1, "NAME")
	if err != nil {
		return err
	}
	g, err := svc.Store().Group(pos[0])
	if err != nil {
		return err
	}
	members, err := svc.Members(context.Background(), g.Name)
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
}

func memberAdd(ctx context.Context, svc *listserv.Service, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("member add", flag.ContinueOnError)
	isAdmin := fs.Bool("admin", false, "make the member an admin")
	pos, err := parse(fs, args, 2, "GROUP ADDR")
	if err != nil {
		return err
	}
	m, err := svc.AddMember(ctx, pos[0], pos[1], *isAdmin)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "added %s as %q\n", m.Addr, m.Alias)
	return nil
}

func memberList(ctx context.Context, svc *listserv.Service, args []string, out io.Writer) error {
	pos, err := parse(flag.NewFlagSet("member list", flag.ContinueOnError), args, 1, "GROUP")
	if err != nil {
		return err
	}
	members, err := svc.Members(ctx, pos[0])
	if err != nil {
		return err
	}
	for _, m := range members {
		line := m.Addr + "\t" + m.Alias + "\t" + string(m.State)
		if m.Admin {
			line += "\tadmin"
		}
		fmt.Fprintln(out, line)
	}
	return nil
}

func memberRemove(ctx context.Context, svc *listserv.Service, args []string, out io.Writer) error {
	pos, err := parse(flag.NewFlagSet("member remove", flag.ContinueOnError), args, 2, "GROUP ADDR")
	if err != nil {
		return err
	}
	m, err := svc.RemoveMember(ctx, pos[0], pos[1])
	if errors.Is(err, mailstore.ErrNotFound) {
		return fmt.Errorf("%s is not a member of %s", pos[1], pos[0])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "removed %q\n", m.Alias)
	return nil
}

func backup(svc *listserv.Service, args []string, out io.Writer) error {
	pos, err := parse(flag.NewFlagSet("backup", flag.ContinueOnError), args, 1, "FILE")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(pos[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := svc.Store().Backup(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(pos[0])
		return err
	}
	fmt.Fprintf(out, "wrote %s (%d bytes)\n", pos[0], n)
	return nil
}
