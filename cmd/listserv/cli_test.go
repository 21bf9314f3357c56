package main

// Tests of the admin command line as scripts see it (SPEC §11): exit
// status, the exact output of `member list` and friends, -config before
// and after the subcommand, config errors, both on a stopped data
// directory and through a running server's control socket.
//
// Every helper here starts with "cli" so that it cannot clash with the
// other tests of package main.

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"listserv/listserv/config"
	"listserv/listserv/control"
	"listserv/listserv/server"
)

const cliDomain = "lists.example.org"

// cliWriteConfig writes a config file for dataDir and returns its path.
func cliWriteConfig(t *testing.T, dataDir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "listserv.toml")
	body := fmt.Sprintf(`domain   = %q
hostname = "mx.%s"
data_dir = %q

[smtp]
listen = "127.0.0.1:0"

[imap]
listen = ""

[auth]
password_cost = 4
`, cliDomain, cliDomain, dataDir)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cliResult is what one run printed.
type cliResult struct {
	code        int
	out, errout string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.out, r.errout)
}

// cliRun calls run as the command would be called.
func cliRun(argv ...string) cliResult {
	var out, errw bytes.Buffer
	code := run(argv, &out, &errw)
	return cliResult{code, out.String(), errw.String()}
}

// cliOK runs a command that must succeed silently on stderr.
func cliOK(t *testing.T, argv ...string) string {
	t.Helper()
	r := cliRun(argv...)
	if r.code != 0 || r.errout != "" {
		t.Fatalf("listserv %s: %v, want exit 0 and nothing on stderr", strings.Join(argv, " "), r)
	}
	return r.out
}

// cliRefused runs a command that must be refused: exit 1, nothing on
// stdout, one line on stderr that contains want.
func cliRefused(t *testing.T, want string, argv ...string) {
	t.Helper()
	r := cliRun(argv...)
	if r.code != 1 || r.out != "" || strings.Count(r.errout, "\n") != 1 || !strings.HasSuffix(r.errout, "\n") ||
		!strings.HasPrefix(r.errout, "listserv: ") || !strings.Contains(r.errout, want) {
		t.Fatalf("listserv %s: %v, want exit 1 and one line on stderr containing %q", strings.Join(argv, " "), r, want)
	}
}

// cliUsage runs a command line that must be a usage error: exit 2.
func cliUsage(t *testing.T, want string, argv ...string) {
	t.Helper()
	r := cliRun(argv...)
	if r.code != 2 || r.out != "" || !strings.Contains(r.errout, want) || !strings.Contains(r.errout, "usage: listserv") {
		t.Fatalf("listserv %s: %v, want exit 2 with %q and the usage on stderr", strings.Join(argv, " "), r, want)
	}
}

var (
	cliAliasRE    = `[A-Z][a-z]+ [A-Z][a-z]+`
	cliAddedRE    = regexp.MustCompile(`^added b@example\.org as "(` + cliAliasRE + `)"\n$`)
	cliAdminRowRE = regexp.MustCompile(`^a@example\.org\t(` + cliAliasRE + `)\tactive\tadmin$`)
)

// cliScenario runs the admin commands of SPEC §11 against the data
// directory of cfg, running or not, and checks their answers. It returns
// `member list recovery` at the end.
func cliScenario(t *testing.T, cfg string) string {
	t.Helper()
	if got, want := cliOK(t, "-config", cfg, "group", "create", "-admin", "a@example.org", "recovery"),
		"created group recovery (recovery@"+cliDomain+")\n"; got != want {
		t.Fatalf("group create printed %q, want %q", got, want)
	}
	// -config after the subcommand, and the -config=FILE spelling.
	added := cliOK(t, "member", "add", "recovery", "b@example.org", "-config", cfg)
	m := cliAddedRE.FindStringSubmatch(added)
	if m == nil {
		t.Fatalf("member add printed %q", added)
	}
	aliasB := m[1]
	list := cliOK(t, "-config="+cfg, "member", "list", "recovery")
	rows := strings.Split(list, "\n")
	if len(rows) != 3 || rows[2] != "" {
		t.Fatalf("member list printed %q, want two lines", list)
	}
	a := cliAdminRowRE.FindStringSubmatch(rows[0])
	if a == nil {
		t.Errorf("member list row %q, want a@example.org<TAB>ALIAS<TAB>active<TAB>admin", rows[0])
	} else if a[1] == aliasB {
		t.Errorf("two members share the alias %q", aliasB)
	}
	if want := "b@example.org\t" + aliasB + "\tactive"; rows[1] != want {
		t.Errorf("member list row %q, want %q", rows[1], want)
	}

	cliOK(t, "group", "create", "-join", "open", "-post", "announce", "-config", cfg, "grief")
	if got := cliOK(t, "group", "list", "-config", cfg); got != "grief\nrecovery\n" {
		t.Errorf("group list printed %q, want grief and recovery, one a line", got)
	}
	show := cliOK(t, "-config", cfg, "group", "show", "recovery")
	for _, want := range []string{"name\trecovery", "address\trecovery@" + cliDomain, "join_policy\tapprove",
		"post_policy\tmembers", "posts_per_hour\t30", "members\t2", "admins\t1", "posts\t0"} {
		if !strings.Contains("\n"+show, "\n"+want+"\n") {
			t.Errorf("group show lacks the line %q:\n%s", want, show)
		}
	}
	if show := cliOK(t, "-config", cfg, "group", "show", "grief"); !strings.Contains(show, "join_policy\topen\n") ||
		!strings.Contains(show, "post_policy\tannounce\n") || !strings.Contains(show, "members\t0\n") {
		t.Errorf("group show grief:\n%s", show)
	}

	// Refused actions: exit 1, one line.
	cliRefused(t, "already exists", "-config", cfg, "group", "create", "recovery")
	cliRefused(t, "already a member", "-config", cfg, "member", "add", "recovery", "b@example.org")
	cliRefused(t, "not found", "-config", cfg, "member", "add", "nosuchgroup", "c@example.org")
	cliRefused(t, "invalid address", "-config", cfg, "member", "add", "recovery", "not an address")
	cliRefused(t, "invalid address", "-config", cfg, "member", "add", "recovery", "Carol <c@example.org>")
	cliRefused(t, "not found", "-config", cfg, "group", "show", "nosuchgroup")
	cliRefused(t, "not found", "-config", cfg, "member", "list", "nosuchgroup")
	for _, name := range []string{"recovery-join", "recovery-leave", "recovery-request", "recovery-owner",
		"recovery-confirm", "recovery-bounces", "bad_name", "a..b", "trailing-", "trailing.", ".dot", "sp ace",
		"caf\u00e9", "a/b", strings.Repeat("x", 65)} {
		cliRefused(t, "invalid group name", "-config", cfg, "group", "create", name)
	}
	cliRefused(t, "join policy", "-config", cfg, "group", "create", "-join", "whenever", "newgroup")
	if got := cliOK(t, "group", "list", "-config", cfg); got != "grief\nrecovery\n" {
		t.Errorf("after the refusals, group list printed %q", got)
	}

	// Usage errors: exit 2.
	cliUsage(t, `unknown command "frobnicate"`, "-config", cfg, "frobnicate")
	cliUsage(t, `unknown command "group frobnicate"`, "-config", cfg, "group", "frobnicate")
	cliUsage(t, "want NAME", "-config", cfg, "group", "create")
	cliUsage(t, "want GROUP ADDR", "-config", cfg, "member", "add", "recovery")
	cliUsage(t, "flag provided but not defined", "-config", cfg, "member", "add", "-owner", "recovery", "c@example.org")

	// member remove: the member leaves the list; a second remove is
	// refused; the alias stays reserved for their archived posts.
	if got, want := cliOK(t, "-config", cfg, "member", "remove", "recovery", "b@example.org"), fmt.Sprintf("removed %q\n", aliasB); got != want {
		t.Errorf("member remove printed %q, want %q", got, want)
	}
	cliRefused(t, "b@example.org is not a member of recovery", "-config", cfg, "member", "remove", "recovery", "b@example.org")
	list = cliOK(t, "-config", cfg, "member", "list", "recovery")
	if !cliAdminRowRE.MatchString(strings.TrimSuffix(list, "\n")) {
		t.Errorf("after remove, member list printed %q, want the admin alone", list)
	}
	if show := cliOK(t, "-config", cfg, "group", "show", "recovery"); !strings.Contains(show, "members\t1\n") {
		t.Errorf("after remove, group show:\n%s", show)
	}
	readded := cliAddedRE.FindStringSubmatch(cliOK(t, "-config", cfg, "member", "add", "recovery", "b@example.org"))
	if readded == nil || readded[1] == aliasB {
		t.Errorf("re-adding a removed member gave alias %v; the old alias %q must stay reserved", readded, aliasB)
	}
	return cliOK(t, "-config", cfg, "member", "list", "recovery")
}

// TestCLIStoppedDataDir runs the admin commands on a data directory that
// no server holds, then checks that a server started on it sees the
// same state.
func TestCLIStoppedDataDir(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfgPath := cliWriteConfig(t, data)
	list := cliScenario(t, cfgPath)

	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if got := cliOK(t, "-config", cfgPath, "member", "list", "recovery"); got != list {
		t.Errorf("through the server, member list printed %q; on the stopped directory %q", got, list)
	}
	// The welcomes queued while stopped are delivered once a server runs.
	for _, addr := range []string{"a@example.org", "b@example.org"} {
		cliWaitMail(t, data, addr)
	}
}

// cliWaitMail waits for a message in addr's outbox Maildir.
func cliWaitMail(t *testing.T, data, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(data, "outbox", addr, "new", "*"))
		if len(files) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail delivered to %s's outbox after 10s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cliStartServer starts a server in-process on a new data directory
// with a config file for the CLI, its log captured.
func cliStartServer(t *testing.T, data string) (cfgPath string, cfg config.Config, srv *server.Server, logs *bytes.Buffer) {
	t.Helper()
	cfgPath = cliWriteConfig(t, data)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	logs = &bytes.Buffer{}
	srv, err = server.Start(cfg, server.Options{Logger: slog.New(slog.NewTextHandler(&cliSyncWriter{w: logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return cfgPath, cfg, srv, logs
}

// TestCLIThroughControlSocket runs the same commands while a server
// holds the data directory: bbolt lets one process open it, so they can
// only succeed through the control socket, and their effects are at once
// visible to the server.
func TestCLIThroughControlSocket(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfgPath, cfg, srv, logs := cliStartServer(t, data)
	closed := false
	defer func() {
		if !closed {
			srv.Close()
		}
	}()
	if _, err := os.Stat(filepath.Join(data, control.SocketName)); err != nil {
		t.Fatalf("no control socket: %v", err)
	}

	list := cliScenario(t, cfgPath)

	// The server's own store has what the commands did.
	a, err := srv.Store.MemberByAddr("recovery", "a@example.org")
	if err != nil || !a.Admin {
		t.Errorf("the server does not see admin a@example.org: %+v, %v", a, err)
	}
	if _, err := srv.Store.MemberByAddr("recovery", "b@example.org"); err != nil {
		t.Errorf("the server does not see b@example.org: %v", err)
	}
	// And its delivery queue sent the welcomes at once.
	for _, addr := range []string{"a@example.org", "b@example.org"} {
		cliWaitMail(t, data, addr)
	}

	// A second server on the same directory fails fast, saying why, and
	// leaves the first one serving.
	start := time.Now()
	srv2, err := server.Start(cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		srv2.Close()
		t.Fatal("a second server started on a served data directory")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the second server.Start took %v to fail", d)
	}
	if !strings.Contains(err.Error(), "another listserv is already serving") || !strings.Contains(err.Error(), data) {
		t.Errorf("second server.Start: %q, want it to say that another listserv serves %s", err, data)
	}
	// So does `listserv serve`.
	done := make(chan cliResult, 1)
	start = time.Now()
	go func() { done <- cliRun("serve", "-config", cfgPath) }()
	select {
	case r := <-done:
		if r.code != 1 || !strings.Contains(r.errout, "another listserv is already serving") {
			t.Errorf("listserv serve on a served directory: %v", r)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("listserv serve took %v to fail", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listserv serve on a served data directory is still running after 10s")
	}
	if got := cliOK(t, "-config", cfgPath, "member", "list", "recovery"); got != list {
		t.Errorf("after the failed starts, member list printed %q, want %q", got, list)
	}

	// The server's log names members by alias only.
	srv.Close()
	closed = true
	for _, addr := range []string{"a@example.org", "b@example.org"} {
		if strings.Contains(logs.String(), addr) {
			t.Errorf("the server log names %s:\n%s", addr, logs.String())
		}
	}
	// Stopped again: the same answers without the socket.
	if _, err := os.Stat(filepath.Join(data, control.SocketName)); !os.IsNotExist(err) {
		t.Errorf("control socket left behind after Close: %v", err)
	}
	if got := cliOK(t, "-config", cfgPath, "member", "list", "recovery"); got != list {
		t.Errorf("on the stopped directory, member list printed %q, want %q", got, list)
	}
}

// cliSyncWriter serializes the server's log writes.
type cliSyncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *cliSyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestCLIConfigErrors checks how the command treats its config file and
// global flags.
func TestCLIConfigErrors(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown top-level key", "domian = \"x.example\"\n", "unknown key domian"},
		{"unknown table key", "[smtp]\nlisten_addr = \"127.0.0.1:25\"\n", "unknown key smtp.listen_addr"},
		{"unknown table", "[smpt]\nlisten = \"127.0.0.1:25\"\n", "smpt"},
		{"bad value", "[delivery]\ntransport = \"pigeon\"\n", "delivery.transport"},
		{"bad domain", "domain = \"not a domain\"\n", "domain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".toml")
			if err := os.WriteFile(path, []byte(fmt.Sprintf("data_dir = %q\n", data)+tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, argv := range [][]string{
				{"-config", path, "group", "list"},
				{"group", "list", "-config", path},
				{"serve", "-config", path},
			} {
				cliRefused(t, tc.want, argv...)
			}
			if !strings.Contains(cliRun("-config", path, "group", "list").errout, path) {
				t.Errorf("the config error does not name the file %s", path)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Fatalf("a command with a bad config touched the data directory: %v", err)
			}
		})
	}
	cliRefused(t, "no such file", "-config", filepath.Join(dir, "missing.toml"), "group", "list")
	cliUsage(t, "-config needs a file", "group", "list", "-config")
	cliUsage(t, "", "-config", filepath.Join(dir, "missing.toml"))
	if r := cliRun("help"); r.code != 0 || !strings.Contains(r.out, "member list GROUP") {
		t.Errorf("listserv help: %v", r)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("a failed command touched the data directory: %v", err)
	}
}

// TestCLIGroupCreateAtomic: `group create` that fails must leave no
// group behind, and a repeated -admin is one admin.
func TestCLIGroupCreateAtomic(t *testing.T) {
	cfg := cliWriteConfig(t, filepath.Join(t.TempDir(), "data"))
	r := cliRun("-config", cfg, "group", "create", "-admin", "a@example.org", "-admin", "a@example.org", "dup")
	switch r.code {
	case 0: // duplicates folded: one admin
		if got := cliOK(t, "-config", cfg, "member", "list", "dup"); strings.Count(got, "\n") != 1 {
			t.Errorf("member list after group create with a repeated -admin: %q", got)
		}
	case 1:
		if got := cliOK(t, "-config", cfg, "group", "list"); got != "" {
			t.Errorf("group create failed (%v) but left groups %q", r, got)
		}
	default:
		t.Errorf("group create with a repeated -admin: %v", r)
	}
}

// TestCLIUsageTouchesNothing: a command line that does not parse is
// answered before any data directory is opened or created.
func TestCLIUsageTouchesNothing(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfg := cliWriteConfig(t, data)
	for _, argv := range [][]string{{"frobnicate"}, {"member", "add", "onlygroup"}, {"group", "create", "-bogus", "x"}} {
		if r := cliRun(append([]string{"-config", cfg}, argv...)...); r.code != 2 {
			t.Errorf("%v: %v, want exit 2", argv, r)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("a usage error created the data directory (stat: %v)", err)
	}
}

// TestCLIGroupNameCase: group names are lower-case; every command finds
// the group whatever case the admin types.
func TestCLIGroupNameCase(t *testing.T) {
	cfg := cliWriteConfig(t, filepath.Join(t.TempDir(), "data"))
	cliOK(t, "-config", cfg, "group", "create", "Recovery")
	cliOK(t, "-config", cfg, "member", "add", "RECOVERY", "a@example.org")
	if out := cliOK(t, "-config", cfg, "group", "show", "Recovery"); !strings.Contains(out, "name\trecovery\n") {
		t.Fatalf("group show: %q", out)
	}
	if out := cliOK(t, "-config", cfg, "member", "list", "ReCoVeRy"); !strings.HasPrefix(out, "a@example.org\t") {
		t.Fatalf("member list: %q", out)
	}
	cliRefused(t, "already a member", "-config", cfg, "member", "add", "recovery", "A@EXAMPLE.ORG")
	cliOK(t, "-config", cfg, "member", "remove", "Recovery", "a@example.org")
}
