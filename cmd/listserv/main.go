// Command listserv runs the list service (`listserv serve`) and
// administers it (`listserv group create ...`). Admin commands reach a
// running server through <data_dir>/control.sock and open a stopped data
// directory themselves. Exit status: 0 success, 1 a refused action (one
// line on stderr), 2 a usage error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"listserv/listserv/cli"
	"listserv/listserv/config"
	"listserv/listserv/control"
	"listserv/listserv/server"
	"listserv/mailstore"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: tests call it.
func run(argv []string, stdout, stderr io.Writer) int {
	cfgPath, args, err := splitGlobal(argv)
	if err != nil || len(args) == 0 {
		if err != nil {
			fmt.Fprintln(stderr, "listserv:", err)
		}
		fmt.Fprint(stderr, cli.Usage)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprint(stdout, cli.Usage)
		return 0
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "listserv: config:", err)
		return 1
	}
	if args[0] == "dkim" {
		return dkimCmd(cfg, args[1:], stdout, stderr)
	}
	if args[0] == "compact" {
		return compactCmd(cfg, args[1:], stdout, stderr)
	}
	if args[0] == "serve" {
		if len(args) > 1 {
			fmt.Fprint(stderr, cli.Usage)
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serve(ctx, cfg, stderr); err != nil {
			fmt.Fprintln(stderr, "listserv:", err)
			return 1
		}
		return 0
	}
	return admin(cfg, args, stdout, stderr)
}

// splitGlobal takes -config FILE (or -config=FILE, --config) out of argv,
// wherever it stands: before or after the subcommand name.
func splitGlobal(argv []string) (cfgPath string, rest []string, err error) {
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 == len(argv) {
				return "", nil, errors.New("-config needs a file")
			}
			i++
			val = argv[i]
		}
		cfgPath = val
	}
	return cfgPath, rest, nil
}

// admin runs an admin command through the running server, or on the
// stopped data directory when no server answers.
func admin(cfg config.Config, args []string, stdout, stderr io.Writer) int {
	if _, err := cli.Parse(args); err != nil {
		return cli.Report(err, stderr)
	}
	args = absolutePaths(args)
	reply, err := control.Call(cfg.DataDir, args)
	if err == nil {
		io.WriteString(stdout, reply.Stdout)
		io.WriteString(stderr, reply.Stderr)
		return reply.Code
	}
	if !errors.Is(err, control.ErrNoServer) {
		fmt.Fprintln(stderr, "listserv: control socket:", err)
		return 1
	}
	store, err := mailstore.Open(cfg.DataDir, mailstore.Options{})
	if errors.Is(err, mailstore.ErrLocked) {
		fmt.Fprintf(stderr, "listserv: a server holds %s but its control socket does not answer\n", cfg.DataDir)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "listserv:", err)
		return 1
	}
	defer store.Close()
	svc, err := server.NewService(cfg, store, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(stderr, "listserv:", err)
		return 1
	}
	return cli.Run(context.Background(), svc, args, stdout, stderr)
}

// absolutePaths makes file arguments absolute, since a running server
// has another working directory than the command.
func absolutePaths(args []string) []string {
	out := append([]string(nil), args...)
	n := len(out)
	file := -1
	switch {
	case n == 2 && out[0] == "backup":
		file = 1
	case n == 4 && out[0] == "archive" && (out[1] == "export" || out[1] == "import"):
		file = 3
	}
	if file >= 0 {
		if abs, err := filepath.Abs(out[file]); err == nil {
			out[file] = abs
		}
	}
	return out
}

// compactCmd rewrites a stopped data directory's database with its live
// records only (mailstore.CompactFile), so that erased posts, used tokens
// and delivered passwords no longer linger in freed pages. It refuses
// while a server runs: the file is replaced under it.
func compactCmd(cfg config.Config, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprint(stderr, cli.Usage)
		return 2
	}
	before, after, err := mailstore.CompactFile(cfg.DataDir)
	if errors.Is(err, mailstore.ErrLocked) {
		fmt.Fprintf(stderr, "listserv: a server holds %s: stop it first (compact replaces the file)\n", cfg.DataDir)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "listserv: compact:", err)
		return 1
	}
	fmt.Fprintf(stdout, "compacted %s: %d bytes, was %d\n", cfg.DataDir, after, before)
	return 0
}
