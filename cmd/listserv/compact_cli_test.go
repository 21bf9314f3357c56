package main

// `listserv compact`: refused while a server runs; on a stopped data
// directory it rewrites the database so that an erased post's bytes are
// no longer in the file.

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"listserv/mailstore"
)

func TestCLICompact(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfgPath, _, srv, _ := cliStartServer(t, data)
	cfg := []string{"-config", cfgPath}
	cli := func(args ...string) []string { return append(append([]string(nil), cfg...), args...) }
	cliOK(t, cli("group", "create", "-join", "open", "recovery")...)
	cliOK(t, cli("member", "add", "recovery", "a@example.org")...)
	const marker = "Lingering words about my diagnosis"
	if err := crashPost(srv.SMTPAddr(), "a@example.org", "recovery@"+cliDomain, marker); err != nil {
		t.Fatal(err)
	}
	cliRefused(t, "stop it first", cli("compact")...)
	cliOK(t, cli("member", "erase", "recovery", "a@example.org")...)
	srv.Close()

	db := filepath.Join(data, mailstore.FileName)
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(marker)) {
		t.Log("bbolt already reused the erased post's pages; the test still checks compact runs")
	}
	cliOK(t, cli("compact")...)
	if raw, err = os.ReadFile(db); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(marker)) {
		t.Error("the erased post's words are still in the compacted file")
	}
	if list := cliOK(t, cli("member", "list", "recovery")...); !bytes.Contains([]byte(list), []byte("a@example.org")) {
		t.Errorf("compaction lost the membership: %q", list)
	}
	cliUsage(t, "", cli("compact", "extra")...)
}
