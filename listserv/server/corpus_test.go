package server_test

import (
	"net/mail"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"listserv/internal/mailcheck"
	"listserv/listserv"
)

// TestCorpusOverSMTP posts every message of the anonymization corpus
// (listserv/anon/testdata/corpus: the styles of Gmail, Outlook, Apple
// Mail, Thunderbird, K-9, mutt, webmail; tracking pixels, a JPEG with GPS
// Exif, quoted replies, signatures) over SMTP from its author, a member,
// and checks every delivered copy and the archived one: no declared
// secret anywhere in the bytes or any decoded header or part, the other
// members named in it replaced by their aliases, the kept text present.
// The server's log must not hold any secret either.
func TestCorpusOverSMTP(t *testing.T) {
	cases := mailcheck.Load(t, filepath.Join("..", "anon", "testdata", "corpus"))
	e := newEnv(t, setup{sink: true})
	members := []string{}
	for real := range mailcheck.Members {
		members = append(members, real)
	}
	authors := map[string]string{}
	for _, c := range cases {
		a, err := mail.ParseAddress(c.From)
		if err != nil {
			t.Fatalf("%s: from %q: %v", c.Name, c.From, err)
		}
		authors[c.Name] = a.Address
		members = append(members, a.Address)
		e.secret(c.Secrets...)
	}
	e.group(listserv.GroupSpec{Name: testGroup, JoinPolicy: "approve", PostPolicy: "members"}, members...)
	alias := func(real string) (string, string) {
		m := e.member(testGroup, real)
		return m.Alias, listserv.Address(testGroup, listserv.RolePrivate, m.Slug, testDomain)
	}

	seen := len(e.deliveries())
	for _, c := range cases {
		e.post(authors[c.Name], c.Raw)
		e.waitQueueEmpty()
		all := e.deliveries()
		copies := all[seen:]
		seen = len(all)
		if len(copies) == 0 {
			t.Fatalf("%s: no copy delivered", c.Name)
		}
		for _, d := range copies {
			if d.welcome() {
				t.Fatalf("%s: unexpected service mail to a member", c.Name)
			}
			mailcheck.Check(t, c, d.Data, alias)
		}
		if want := copies[0].Data; !strings.Contains(string(want), "Message-ID: <") {
			t.Fatalf("%s: copy without a Message-ID", c.Name)
		}
	}
	n := e.archiveCount(testGroup)
	if n != len(cases) {
		t.Fatalf("archive holds %d posts, want %d", n, len(cases))
	}
	for uid := uint64(1); uid <= uint64(n); uid++ {
		raw, _, err := e.srv.Store.ArchivedPost(testGroup, uid)
		if err != nil {
			t.Fatalf("archived post %d: %v", uid, err)
		}
		mailcheck.Check(t, cases[uid-1], raw, alias)
	}
}

// A post the anonymizer cannot make safe is refused in the session with
// the reason, and nothing is stored.
func TestUnanonymizablePostRefusedWithReason(t *testing.T) {
	e := newEnv(t, setup{sink: true})
	e.fixture()
	msg := "From: <" + aliceAddr + ">\r\nSubject: rich text\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\neJ8+IhIAAQaQCAAEAAAAAAABAAEAAQeQBgAIAAAA5AQAAAAAAADo\r\n"
	st, err := e.send(aliceAddr, []string{groupAddr}, []byte(msg))
	wantRefused(t, st, err, stepEnd, 554, smtp.EnhancedCode{5, 6, 0})
	if se, ok := err.(*smtp.SMTPError); !ok || !strings.Contains(se.Message, "winmail.dat") {
		t.Errorf("reply %v does not say why", err)
	}
	if n := e.archiveCount(testGroup); n != 0 {
		t.Errorf("archive holds %d posts", n)
	}
}

// A member's display name is remembered from their posts: a later post
// from a client that sends none still loses the name in its text.
func TestKnownNameScrubbedWithoutDisplayName(t *testing.T) {
	e := newEnv(t, setup{sink: true})
	e.fixture()
	e.post(aliceAddr, []byte("From: "+aliceName+" <"+aliceAddr+">\r\nSubject: first\r\n\r\nHello.\r\n"))
	e.waitPosts("first", 3)
	e.post(aliceAddr, []byte("From: <"+aliceAddr+">\r\nSubject: second\r\n\r\nFrom my phone today.\r\n\r\nThanks,\r\n"+aliceName+"\r\n"))
	for _, c := range e.waitPosts("second", 3) {
		if strings.Contains(string(c.Data), aliceName) || strings.Contains(string(c.Data), "Alice") {
			t.Errorf("copy to %s names the author:\n%s", c.Rcpt, c.Data)
		}
	}
}
