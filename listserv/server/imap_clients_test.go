package server_test

// The archive read by real mail clients (issue 3): curl, Python's imaplib
// and mbsync, each run as a separate process against the server started
// by server.Start on 127.0.0.1:0.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// imapCurl runs curl against the archive as user and returns its output.
func (e *env) imapCurl(curl, user, pass, path string, args ...string) string {
	e.t.Helper()
	cmd := exec.Command(curl, append([]string{"-sS", "--max-time", "20", "--user", user + ":" + pass,
		"imap://" + e.srv.IMAPAddr() + "/" + path}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("curl %s %v: %v\n%s", path, args, err, out)
	}
	return string(out)
}

func TestIMAPCurl(t *testing.T) {
	curl := imapNeedTool(t, "curl")
	e := imapEnv(t, nil)
	e.imapPosts(3)
	pass := e.imapPassword(brunoAddr)

	if out := e.imapCurl(curl, brunoAddr, pass, ""); !strings.Contains(out, `"/" INBOX`) || !strings.Contains(out, `"/" "`+testGroup+`"`) {
		t.Fatalf("LIST:\n%s", out)
	}
	if out := e.imapCurl(curl, brunoAddr, pass, "", "-X", "EXAMINE "+testGroup); !strings.Contains(out, "* 3 EXISTS") {
		t.Fatalf("EXAMINE:\n%s", out)
	}
	raw, _, _ := e.srv.Store.ArchivedPost(testGroup, 2)
	if out := e.imapCurl(curl, brunoAddr, pass, testGroup+";UID=2"); out != string(raw) {
		t.Fatalf("FETCH UID 2 gave %d bytes, the archive holds %d", len(out), len(raw))
	}
	if out := e.imapCurl(curl, brunoAddr, pass, testGroup, "-X", `UID SEARCH SUBJECT "post 3"`); !regexp.MustCompile(`\* SEARCH 3\s*$`).MatchString(out) {
		t.Fatalf("SEARCH:\n%s", out)
	}
	e.imapCurl(curl, brunoAddr, pass, testGroup, "-X", `UID STORE 1 +FLAGS (\Flagged)`)
	// Each curl run is a new connection: the flags persisted.
	out := e.imapCurl(curl, brunoAddr, pass, testGroup, "-X", "UID FETCH 1:* FLAGS")
	for _, want := range []string{`UID 1 FLAGS (\Flagged)`, `UID 2 FLAGS (\Seen)`, `UID 3 FLAGS ()`} {
		if !strings.Contains(out, want) {
			t.Fatalf("FETCH FLAGS: want %q in\n%s", want, out)
		}
	}
}

// imaplibScript logs in, lists, selects, searches, fetches and stores in
// one connection, then checks the flags from a second one (EXAMINE), and
// prints what it saw as JSON.
const imaplibScript = `
import imaplib, json, os, sys
host, port = os.environ["HOST"], int(os.environ["PORT"])
user, pw, group = os.environ["USER"], os.environ["PASS"], os.environ["GROUP"]
out = {}
m = imaplib.IMAP4(host, port)
m.login(user, pw)
typ, boxes = m.list()
out["list"] = [b.decode() for b in boxes]
typ, data = m.select(group)
out["exists"] = int(data[0])
typ, data = m.uid("SEARCH", "FROM", "heron", "OR", "SUBJECT", '"post 1"', "SUBJECT", '"post 3"')
out["search"] = data[0].decode()
typ, data = m.uid("FETCH", "1:*", "(RFC822.SIZE BODY.PEEK[])")
out["sizes"] = [len(part[1]) for part in data if isinstance(part, tuple)]
typ, data = m.uid("STORE", "2", "+FLAGS", "(\\Flagged $Label1)")
out["store"] = typ
m.logout()
m = imaplib.IMAP4(host, port)
m.login(user, pw)
m.select(group, readonly=True)
typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
out["flags"] = [d.decode() for d in data]
m.logout()
json.dump(out, sys.stdout)
`

func TestIMAPPythonImaplib(t *testing.T) {
	python := imapNeedTool(t, "python3")
	e := imapEnv(t, nil)
	e.imapPosts(3)
	pass := e.imapPassword(carmenAddr)
	host, port, _ := strings.Cut(e.srv.IMAPAddr(), ":")
	cmd := exec.Command(python, "-c", imaplibScript)
	cmd.Env = append(os.Environ(), "HOST="+host, "PORT="+port, "USER="+carmenAddr, "PASS="+pass, "GROUP="+testGroup)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, stderr.String())
	}
	var got struct {
		List   []string `json:"list"`
		Exists int      `json:"exists"`
		Search string   `json:"search"`
		Sizes  []int    `json:"sizes"`
		Store  string   `json:"store"`
		Flags  []string `json:"flags"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if len(got.List) != 2 || !strings.HasSuffix(got.List[1], ` "/" "`+testGroup+`"`) || got.Exists != 3 {
		t.Fatalf("LIST %q, SELECT %d EXISTS", got.List, got.Exists)
	}
	// Every post is Alice's; whether "heron" is in her alias decides FROM.
	want := "1 3"
	if !strings.Contains(strings.ToLower(e.member(testGroup, aliceAddr).Alias), "heron") {
		want = ""
	}
	if got.Search != want {
		t.Fatalf("SEARCH: %q, want %q", got.Search, want)
	}
	for i, n := range got.Sizes {
		raw, _, _ := e.srv.Store.ArchivedPost(testGroup, uint64(i+1))
		if n != len(raw) {
			t.Fatalf("BODY[] of UID %d: %d bytes, archive %d", i+1, n, len(raw))
		}
	}
	if got.Store != "OK" || len(got.Flags) != 3 || !strings.Contains(got.Flags[1], `FLAGS (\Flagged $Label1)`) || strings.Contains(got.Flags[0], `\Seen`) {
		t.Fatalf("STORE %s, flags from a second connection: %q", got.Store, got.Flags)
	}
}

var xTUID = regexp.MustCompile(`(?m)^X-TUID: [^\n]*\n`)

func TestIMAPMbsync(t *testing.T) {
	mbsync := imapNeedTool(t, "mbsync")
	e := imapEnv(t, nil)
	e.imapPosts(12)
	pass := e.imapPassword(brunoAddr)
	host, port, _ := strings.Cut(e.srv.IMAPAddr(), ":")
	dir := t.TempDir()
	maildir := filepath.Join(dir, "mail") + "/"
	conf := fmt.Sprintf(`FSync no

IMAPAccount archive
Host %s
Port %s
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account archive

MaildirStore local
Path %s
Inbox %sINBOX

Channel archive
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
SyncState *
`, host, port, brunoAddr, pass, maildir, maildir)
	if err := os.MkdirAll(maildir, 0o700); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mbsync, "-c", rc, "-a")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mbsync: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(maildir, testGroup, "*", "*"))
	var got []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// mbsync stores LF line endings and adds its own X-TUID field.
		b = xTUID.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), nil)
		got = append(got, string(b))
	}
	var want []string
	for uid := uint64(1); uid <= 12; uid++ {
		raw, _, err := e.srv.Store.ArchivedPost(testGroup, uid)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, string(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))))
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("mbsync stored %d messages, the archive holds %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("a synced message differs from the archive:\n%s\n---\n%s", got[i], want[i])
		}
	}
}
