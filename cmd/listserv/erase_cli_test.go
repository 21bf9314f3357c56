package main

// `listserv member erase GROUP ADDR|ALIAS`: through the control socket
// and on a stopped data directory, with the exit statuses of the other
// member commands.

import (
	"path/filepath"
	"strings"
	"testing"

	"listserv/mailstore"
)

func TestCLIMemberErase(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfgPath, _, srv, logs := cliStartServer(t, data)
	closed := false
	defer func() {
		if !closed {
			srv.Close()
		}
	}()
	cfg := []string{"-config", cfgPath}
	cli := func(args ...string) []string { return append(append([]string(nil), cfg...), args...) }
	cliOK(t, cli("group", "create", "-join", "open", "recovery")...)
	for _, a := range []string{"a@example.org", "b@example.org"} {
		cliOK(t, cli("member", "add", "recovery", a)...)
	}
	rcpt := "recovery@" + cliDomain
	post := func(from, subject string) {
		t.Helper()
		if err := crashPost(srv.SMTPAddr(), from, rcpt, subject); err != nil {
			t.Fatalf("post %q: %v", subject, err)
		}
	}
	post("a@example.org", "From a, first")
	post("a@example.org", "From a, second")
	post("b@example.org", "From b")
	if n, _ := srv.Store.ArchiveCount("recovery"); n != 3 {
		t.Fatalf("archive holds %d posts, want 3", n)
	}

	// Through the control socket.
	if got := cliOK(t, cli("member", "erase", "recovery", "a@example.org")...); got != "erased 2 posts\n" {
		t.Errorf("member erase printed %q, want %q", got, "erased 2 posts\n")
	}
	if n, _ := srv.Store.ArchiveCount("recovery"); n != 1 {
		t.Errorf("after the erasure the archive holds %d posts, want 1", n)
	}
	if got := cliOK(t, cli("member", "erase", "recovery", "A@Example.org")...); got != "erased 0 posts\n" {
		t.Errorf("a second erase printed %q", got)
	}
	// Membership is unchanged.
	if list := cliOK(t, cli("member", "list", "recovery")...); !strings.Contains(list, "a@example.org\t") {
		t.Errorf("erasure removed the membership: %q", list)
	}
	// By alias slug.
	b, err := srv.Store.MemberByAddr("recovery", "b@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if got := cliOK(t, cli("member", "erase", "recovery", b.Slug)...); got != "erased 1 post\n" {
		t.Errorf("member erase by alias printed %q", got)
	}
	cliRefused(t, "never was a member of recovery", cli("member", "erase", "recovery", "nobody@example.org")...)
	cliRefused(t, "no-such-alias is not and never was a member", cli("member", "erase", "recovery", "no-such-alias")...)
	cliRefused(t, "not found", cli("member", "erase", "nosuchgroup", "a@example.org")...)
	cliUsage(t, "want GROUP ADDR|ALIAS", cli("member", "erase", "recovery")...)

	// A new post gets a UID above the erased ones.
	post("a@example.org", "From a, third")
	if _, _, err := srv.Store.ArchivedPost("recovery", 4); err != nil {
		t.Errorf("the post after the erasure is not UID 4: %v", err)
	}
	// A former member's posts can still be erased.
	cliOK(t, cli("member", "remove", "recovery", "a@example.org")...)

	srv.Close()
	closed = true
	for _, addr := range []string{"a@example.org", "b@example.org"} {
		if strings.Contains(strings.ToLower(logs.String()), addr) {
			t.Errorf("the server log names %s:\n%s", addr, logs.String())
		}
	}
	// On the stopped data directory.
	if got := cliOK(t, cli("member", "erase", "recovery", "a@example.org")...); got != "erased 1 post\n" {
		t.Errorf("on the stopped directory, member erase printed %q", got)
	}
	if show := cliOK(t, cli("group", "show", "recovery")...); !strings.Contains(show, "posts\t0\n") {
		t.Errorf("group show after the erasures:\n%s", show)
	}
	db, err := mailstore.Open(data, mailstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if uids, err := db.PostsBy("recovery", 1, 2, 3, 4); err != nil || len(uids) != 0 {
		t.Errorf("posts left: %v %v", uids, err)
	}
}
