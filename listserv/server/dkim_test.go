package server_test

// Outbound DKIM end to end: with dkim.key_file set, every kind of
// message the server emits (a post's copies, a held post once approved, a
// private message, service mail) verifies with go-msgauth against the
// record `listserv dkim keygen` prints, and a post is signed once: every
// copy and the archive hold the same signed bytes.

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"listserv/listserv"
	"listserv/listserv/config"
	"listserv/listserv/dkimsign"
	"listserv/listserv/server"
)

const outSelector = "2026a"

// outKey writes a new key of typ and returns its file and a LookupTXT
// serving the record keygen prints for it (parsed back from the line).
func outKey(t *testing.T, typ string) (string, func(string) ([]string, error)) {
	t.Helper()
	key, pemBytes, err := dkimsign.GenerateKey(typ)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dkim.key")
	if err := dkimsign.WriteKeyFile(path, pemBytes); err != nil {
		t.Fatal(err)
	}
	line, err := dkimsign.ZoneLine(outSelector, testDomain, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^(\S+) IN TXT ((?:"[^"]*" ?)+)$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("record line %q", line)
	}
	name, value := m[1], ""
	for _, s := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[2], -1) {
		value += s[1]
	}
	return path, func(q string) ([]string, error) {
		if q != name {
			return nil, fmt.Errorf("no TXT record for %s", q)
		}
		return []string{value}, nil
	}
}

// outVerify checks that msg carries one valid signature of the list
// domain.
func outVerify(t *testing.T, what string, msg []byte, look func(string) ([]string, error)) {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: look})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != testDomain {
		t.Fatalf("%s: %d signatures, first %+v\n%s", what, len(vs), vs, msg)
	}
}

func outEnv(t *testing.T, typ string) (*env, func(string) ([]string, error)) {
	key, look := outKey(t, typ)
	e := newEnv(t, setup{config: func(c *config.Config) {
		c.DKIM.KeyFile = key
		c.DKIM.Selector = outSelector
	}})
	return e, look
}

func TestDKIMEverythingSigned(t *testing.T) {
	for _, typ := range []string{dkimsign.RSA, dkimsign.Ed25519} {
		t.Run(typ, func(t *testing.T) {
			e, look := outEnv(t, typ)
			e.fixture()
			welcomes := 0
			for _, d := range e.deliveries() {
				outVerify(t, "welcome to "+d.Rcpt, d.Data, look)
				welcomes++
			}
			if welcomes != 3 {
				t.Fatalf("%d welcomes, want 3", welcomes)
			}

			// A post: three copies, one signature.
			e.post(aliceAddr, simple(`"`+aliceName+`" <`+aliceAddr+`>`, "Signed once", "p1@example.org"))
			copies := e.waitPosts("Signed once", 3)
			for _, d := range copies {
				outVerify(t, "post copy to "+d.Rcpt, d.Data, look)
				if !bytes.Equal(d.Data, copies[0].Data) {
					t.Fatalf("the copies to %s and %s differ: a post must be signed once", d.Rcpt, copies[0].Rcpt)
				}
				if !strings.HasPrefix(d.EnvFrom, testGroup+"-bounces") {
					t.Errorf("envelope sender %q", d.EnvFrom)
				}
			}
			archived, _, err := e.srv.Store.ArchivedPost(testGroup, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(archived, copies[0].Data) {
				t.Fatalf("the archive holds other bytes than the copies sent:\n%s\n---\n%s", archived, copies[0].Data)
			}
			if n := bytes.Count(archived, []byte("DKIM-Signature:")); n != 1 {
				t.Fatalf("%d DKIM-Signature fields in the post, want 1 (the author's is dropped)", n)
			}

			// A private message, relayed to one member.
			bruno := e.member(testGroup, brunoAddr)
			to := testGroup + "+" + bruno.Slug + "@" + testDomain
			if st, err := e.send(aliceAddr, []string{to}, simple("<"+aliceAddr+">", "Just to you", "pm1@example.org")); st != stepOK {
				t.Fatalf("private message refused at %s: %v", st, err)
			}
			pm := e.waitPosts("Just to you", 1)
			if len(pm) != 1 || pm[0].Rcpt != brunoAddr {
				t.Fatalf("private message deliveries: %d", len(pm))
			}
			outVerify(t, "private message", pm[0].Data, look)
		})
	}
}

// A held post is signed when it is held; the approval sends and
// archives those same bytes.
func TestDKIMHeldPostSignedOnce(t *testing.T) {
	e, look := outEnv(t, dkimsign.Ed25519)
	ctx := context.Background()
	e.group(listserv.GroupSpec{Name: testGroup, JoinPolicy: "approve", PostPolicy: "moderated"}, aliceAddr, brunoAddr)
	e.post(aliceAddr, simple("<"+aliceAddr+">", "Waiting", "h1@example.org"))
	held, err := e.srv.Store.HeldPosts(testGroup)
	if err != nil || len(held) != 1 {
		t.Fatalf("held posts: %d, %v", len(held), err)
	}
	outVerify(t, "held post", held[0].Post.Raw, look)
	if err := e.srv.Service.DecideHeld(ctx, testGroup, held[0].ID, true); err != nil {
		t.Fatal(err)
	}
	copies := e.waitPosts("Waiting", 2)
	archived, _, err := e.srv.Store.ArchivedPost(testGroup, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range copies {
		if !bytes.Equal(d.Data, held[0].Post.Raw) {
			t.Fatalf("the copy to %s is not the held bytes", d.Rcpt)
		}
	}
	if !bytes.Equal(archived, held[0].Post.Raw) {
		t.Fatal("the archive is not the held bytes")
	}
	// The held notices went out signed too.
	for _, d := range e.deliveries() {
		outVerify(t, "mail to "+d.Rcpt+": "+d.Header.Get("Subject"), d.Data, look)
	}
}

func TestDKIMBadKeyRefusesStart(t *testing.T) {
	dir := t.TempDir()
	good, _ := outKey(t, dkimsign.Ed25519)
	junk := filepath.Join(dir, "junk.key")
	if err := dkimsign.WriteKeyFile(junk, []byte("-----BEGIN NOTHING-----\n")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, key, selector, want string }{
		{"missing file", filepath.Join(dir, "none.key"), outSelector, "no such file"},
		{"not a key", junk, outSelector, "junk.key"},
		{"no selector", good, "", "selector"},
		{"selector without key", "", outSelector, "dkim.key_file"},
	} {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.Domain = testDomain
		cfg.SMTP.Listen = "127.0.0.1:0"
		cfg.IMAP.Listen = ""
		cfg.DKIM.KeyFile, cfg.DKIM.Selector = c.key, c.selector
		srv, err := server.Start(cfg, server.Options{})
		if err == nil {
			srv.Close()
			t.Errorf("%s: the server started", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "dkim") {
			t.Errorf("%s: %v, want an error about dkim naming %q", c.name, err, c.want)
		}
	}
}
