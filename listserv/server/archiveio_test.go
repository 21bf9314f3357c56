package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"listserv/internal/smtpsink"
	"listserv/listserv"
	"listserv/listserv/anon"
	"listserv/listserv/cli"
	"listserv/mailstore"
)

// archived is one post as the archive holds it.
type archived struct {
	uid                          uint64
	id, inReplyTo, subject, date string
	text                         string
	raw                          []byte
}

func readArchive(t *testing.T, e *env, group string) []archived {
	t.Helper()
	uids, err := e.srv.Store.ArchiveUIDs(group)
	if err != nil {
		t.Fatal(err)
	}
	var out []archived
	for _, uid := range uids {
		raw, _, err := e.srv.Store.ArchivedPost(group, uid)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, archived{
			uid: uid, id: m.Header.Get("Message-ID"), inReplyTo: m.Header.Get("In-Reply-To"),
			subject: m.Header.Get("Subject"), date: m.Header.Get("Date"),
			text: anon.PreviewText(raw), raw: raw,
		})
	}
	return out
}

// runCLI runs an admin command against the running server's service.
func runCLI(t *testing.T, e *env, args ...string) string {
	t.Helper()
	var out, errw bytes.Buffer
	if code := cli.Run(context.Background(), e.srv.Service, args, &out, &errw); code != 0 {
		t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, errw.String())
	}
	return out.String()
}

// An exported archive imported into a new group gives the same posts in
// the same order, with the same dates, texts and threads, and delivers
// nothing.
func TestArchiveExportImport(t *testing.T) {
	e := newEnv(t, setup{sink: true})
	e.fixture()
	post := func(from, subject, inReplyTo, text string) {
		irt := ""
		if inReplyTo != "" {
			irt = "In-Reply-To: " + inReplyTo + "\r\n"
		}
		e.post(from, []byte("From: <"+from+">\r\nTo: "+groupAddr+"\r\nSubject: "+subject+"\r\n"+irt+
			"Message-ID: <"+strings.ReplaceAll(subject, " ", ".")+"@example.net>\r\n\r\n"+text+"\r\n"))
	}
	post(aliceAddr, "First night", "", "The first night was the worst.")
	post(brunoAddr, "Re First night", "<First.night@example.net>", "It gets easier, I promise.")
	post(carmenAddr, "Other topic", "", "From now on I will bring biscuits.") // a body line starting "From "
	post(aliceAddr, "Re Re First night", "<Re.First.night@example.net>", "Thank you, that helps.")
	e.waitQueueEmpty()
	before := len(e.deliveries())
	src := readArchive(t, e, testGroup)

	file := filepath.Join(t.TempDir(), "recovery.mbox")
	if out := runCLI(t, e, "archive", "export", testGroup, file); !strings.Contains(out, "exported 4 posts") {
		t.Fatalf("export said %q", out)
	}
	if _, err := e.srv.Service.CreateGroup(context.Background(), listserv.GroupSpec{Name: "copy", JoinPolicy: "approve", PostPolicy: "members"}); err != nil {
		t.Fatal(err)
	}
	if out := runCLI(t, e, "archive", "import", "copy", file); !strings.Contains(out, "imported 4 posts (0 skipped, 3 former members added)") {
		t.Fatalf("import said %q", out)
	}
	dst := readArchive(t, e, "copy")
	if len(dst) != len(src) {
		t.Fatalf("imported %d posts, want %d", len(dst), len(src))
	}
	index := func(posts []archived) map[string]int {
		m := map[string]int{}
		for i, p := range posts {
			m[p.id] = i
		}
		return m
	}
	srcIdx, dstIdx := index(src), index(dst)
	for i := range src {
		s, d := src[i], dst[i]
		if s.subject != d.subject || s.date != d.date || s.text != d.text {
			t.Errorf("post %d differs:\n%q %q %q\n%q %q %q", i, s.subject, s.date, s.text, d.subject, d.date, d.text)
		}
		if s.id == d.id || !strings.HasSuffix(d.id, "@"+testDomain+">") {
			t.Errorf("post %d: Message-ID %s not renewed", i, d.id)
		}
		if (s.inReplyTo == "") != (d.inReplyTo == "") || s.inReplyTo != "" && srcIdx[s.inReplyTo] != dstIdx[d.inReplyTo] {
			t.Errorf("post %d: thread lost: %q → %q", i, s.inReplyTo, d.inReplyTo)
		}
		if bytes.Contains(d.raw, []byte("List-Id: <"+testGroup+".")) {
			t.Errorf("post %d still names the old group:\n%s", i, d.raw)
		}
	}
	if !strings.Contains(dst[2].text, "From now on I will bring biscuits.") {
		t.Errorf("a body line starting with From lost its text: %q", dst[2].text)
	}
	// The same author has the same alias in the copy; different authors
	// differ.
	from := func(p archived) string {
		m, _ := mail.ReadMessage(bytes.NewReader(p.raw))
		return m.Header.Get("From")
	}
	if from(dst[0]) != from(dst[3]) || from(dst[0]) == from(dst[1]) {
		t.Errorf("authors not kept apart: %s %s %s", from(dst[0]), from(dst[1]), from(dst[3]))
	}
	time.Sleep(50 * time.Millisecond)
	e.waitQueueEmpty()
	if n := len(e.deliveries()); n != before {
		t.Errorf("the import delivered %d messages", n-before)
	}
}

// An imported mbox from another list manager is anonymized, committed in
// date order, and its threads kept.
func TestArchiveImportAnonymizes(t *testing.T) {
	e := newEnv(t, setup{sink: true})
	e.fixture()
	e.secret("sam.secret@example.com", "Sam Secretson", "samhost.example.com")
	mbox := strings.Join([]string{
		"From sam.secret@example.com Tue Mar  3 10:00:00 2020",
		"Received: from samhost.example.com (samhost.example.com [192.0.2.9])",
		"From: Sam Secretson <sam.secret@example.com>",
		"Subject: Re: Starting out",
		"Date: Tue, 3 Mar 2020 10:00:00 +0000",
		"Message-ID: <reply@samhost.example.com>",
		"In-Reply-To: <start@old.example.org>",
		"",
		"Welcome. I am Sam Secretson, write to sam.secret@example.com.",
		">From the archive of the old list.",
		"",
		"From x Mon Mar  2 09:00:00 2020",
		"From: Pat <pat@old.example.org>",
		"Subject: Starting out",
		"Date: Mon, 2 Mar 2020 09:00:00 +0100",
		"Message-ID: <start@old.example.org>",
		"",
		"Day one.",
		"",
		"From x Wed Mar  4 09:00:00 2020",
		"From: Sam Secretson <SAM.SECRET@example.com>",
		"Subject: Later",
		"Date: Wed, 4 Mar 2020 09:00:00 +0000",
		"",
		"Still here.",
		"",
	}, "\n")
	file := filepath.Join(t.TempDir(), "old.mbox")
	if err := os.WriteFile(file, []byte(mbox), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := runCLI(t, e, "archive", "import", testGroup, file); !strings.Contains(out, "imported 3 posts (0 skipped, 2 former members added)") {
		t.Fatalf("import said %q", out)
	}
	posts := readArchive(t, e, testGroup)
	if len(posts) != 3 || posts[0].subject != "Starting out" || posts[1].subject != "Re: Starting out" || posts[2].subject != "Later" {
		t.Fatalf("not in date order: %+v", posts)
	}
	if posts[1].inReplyTo != posts[0].id {
		t.Errorf("thread lost: In-Reply-To %q, parent %q", posts[1].inReplyTo, posts[0].id)
	}
	if !strings.Contains(posts[1].text, "From the archive of the old list.") {
		t.Errorf(">From line not unquoted: %q", posts[1].text)
	}
	for _, p := range posts {
		low := strings.ToLower(string(p.raw))
		for _, s := range []string{"sam.secret", "secretson", "samhost", "192.0.2.9", "pat@old"} {
			if strings.Contains(low, s) {
				t.Errorf("%q survived the import:\n%s", s, p.raw)
			}
		}
	}
	m1, _ := mail.ReadMessage(bytes.NewReader(posts[1].raw))
	m2, _ := mail.ReadMessage(bytes.NewReader(posts[2].raw))
	if m1.Header.Get("From") != m2.Header.Get("From") {
		t.Errorf("one author, two aliases: %s / %s", m1.Header.Get("From"), m2.Header.Get("From"))
	}
	// Each outside author is one former member: receiving nothing, with
	// an alias of their own.
	ms, err := e.srv.Store.Members(testGroup)
	if err != nil {
		t.Fatal(err)
	}
	former := map[string]int{}
	for _, m := range ms {
		if m.State == mailstore.Removed {
			former[strings.ToLower(m.Addr)]++
		}
		if m.Receives() && (strings.Contains(m.Addr, "sam.secret") || strings.Contains(m.Addr, "pat@")) {
			t.Errorf("an imported author receives mail: %+v", m)
		}
	}
	if former["sam.secret@example.com"] != 1 || former["pat@old.example.org"] != 1 {
		t.Errorf("former members %v, want one each for Sam and Pat", former)
	}
}

// A backup taken while a fan-out is running opens as a database of its
// own and holds every post committed before it began, with the
// deliveries still queued.
func TestBackupDuringFanout(t *testing.T) {
	e := newEnv(t, setup{sink: true, faults: smtpsink.Faults{Delay: 20 * time.Millisecond}})
	var members []string
	for i := 0; i < 40; i++ {
		members = append(members, fmt.Sprintf("member%02d@example.net", i))
	}
	e.group(listserv.GroupSpec{Name: testGroup, JoinPolicy: "approve", PostPolicy: "members"}, members...)
	const posts = 10
	for i := 0; i < posts; i++ {
		e.post(members[i], []byte(fmt.Sprintf("From: <%s>\r\nSubject: post %d\r\n\r\nText %d.\r\n", members[i], i, i)))
	}
	queued, _, err := e.srv.Store.QueueStats()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "backup.db")
	runCLI(t, e, "backup", file)
	if queued == 0 {
		t.Fatal("the fan-out was over before the backup: the test proves nothing")
	}
	dir := t.TempDir()
	if err := os.Rename(file, filepath.Join(dir, mailstore.FileName)); err != nil {
		t.Fatal(err)
	}
	db, err := mailstore.Open(dir, mailstore.Options{})
	if err != nil {
		t.Fatalf("backup does not open: %v", err)
	}
	defer db.Close()
	if n, err := db.ArchiveCount(testGroup); err != nil || n != posts {
		t.Errorf("backup holds %d posts (%v), want %d", n, err, posts)
	}
	left, _, err := db.QueueStats()
	if err != nil || left == 0 {
		t.Errorf("backup's queue: %d jobs (%v), want the deliveries still pending", left, err)
	}
	for uid := uint64(1); uid <= posts; uid++ {
		if raw, _, err := db.ArchivedPost(testGroup, uid); err != nil || !bytes.Contains(raw, []byte(fmt.Sprintf("Text %d.", uid-1))) {
			t.Errorf("post %d in the backup: %v", uid, err)
		}
	}
	e.waitQueueEmpty()
}

// An export imported back into its own group stays with its authors (so
// an erasure finds every copy), and importing the same mbox twice adds no
// second former member.
func TestArchiveReimportKeepsAuthors(t *testing.T) {
	e := newEnv(t, setup{sink: true})
	e.fixture()
	e.post(aliceAddr, []byte("From: <"+aliceAddr+">\r\nSubject: mine\r\n\r\nAlice's words.\r\n"))
	e.post(brunoAddr, []byte("From: <"+brunoAddr+">\r\nSubject: his\r\n\r\nBruno's words.\r\n"))
	e.waitQueueEmpty()
	file := filepath.Join(t.TempDir(), "x.mbox")
	runCLI(t, e, "archive", "export", testGroup, file)
	for i := 0; i < 2; i++ {
		if out := runCLI(t, e, "archive", "import", testGroup, file); !strings.Contains(out, "imported 2 posts (0 skipped, 0 former members added)") {
			t.Fatalf("import %d said %q", i+1, out)
		}
	}
	if out := runCLI(t, e, "member", "erase", testGroup, aliceAddr); out != "erased 3 posts\n" {
		t.Errorf("erase said %q, want all 3 of Alice's posts", out)
	}
	for _, p := range readArchive(t, e, testGroup) {
		if strings.Contains(p.text, "Alice's words") {
			t.Errorf("a copy of Alice's post escaped the erasure: UID %d", p.uid)
		}
	}
}
