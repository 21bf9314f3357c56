package server_test

// End-to-end tests of membership by email and of moderation (issue 4;
// SPEC §2, §3, §5, §8, §10): join with confirmation and admin approval,
// leave, the -request commands, private replies through aliases, held
// posts, the -owner relay, robots and reply limits, and the templates.
// A real SMTP client talks to the server started by server.Start on
// 127.0.0.1:0, and what the outbox transport delivered is read back.
//
// Helpers here start with "mem" so that they cannot clash with the other
// tests of this package.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	bolt "go.etcd.io/bbolt"

	"listserv/listserv"
	"listserv/listserv/cli"
	"listserv/listserv/config"
	"listserv/listserv/server"
	"listserv/mailstore"
	"listserv/templates"
)

// People of these tests besides the fixture's Alice, Bruno and Carmen.
const (
	memAda        = "ada.admin@example.org"
	memBen        = "ben.admin@example.net"
	memDana       = "dana.newcomer@example.com"
	memDanaName   = "Dana Newcomer"
	memErin       = "erin.fairweather@example.com"
	memErinName   = "Erin Fairweather"
	memMallory    = "mallory@evil.example"
	memBrunoName  = "Bruno Quist"
	memCarmenName = "Carmen Vale"

	memJoinAddr    = testGroup + "-join@" + testDomain
	memLeaveAddr   = testGroup + "-leave@" + testDomain
	memRequestAddr = testGroup + "-request@" + testDomain
	memOwnerAddr   = testGroup + "-owner@" + testDomain

	// memByCLI is how a decision from the command line is named.
	memByCLI = "an admin, from the command line"
)

// memConfirmRE matches a confirmation address; the token is 128 bits in
// lower-case base32 (26 characters).
var memConfirmRE = regexp.MustCompile(`\b` + testGroup + `-confirm\+([a-z2-7]+)@` + regexp.QuoteMeta(testDomain))

// memMail is one delivered message.
type memMail struct {
	Rcpt    string
	EnvFrom string
	Data    []byte // as delivered, without the outbox's Return-Path
	Header  mail.Header
	Body    string // decoded, LF line endings
}

func (mm memMail) subject() string {
	s, err := new(mime.WordDecoder).DecodeHeader(mm.Header.Get("Subject"))
	if err != nil {
		return mm.Header.Get("Subject")
	}
	return s
}

// notice reports whether the service wrote this message itself.
func (mm memMail) notice() bool { return mm.Header.Get("Auto-Submitted") == "auto-generated" }

func (mm memMail) String() string {
	return fmt.Sprintf("to %s: %q", mm.Rcpt, mm.subject())
}

// addr parses an address header field.
func (mm memMail) addr(t *testing.T, field string) *mail.Address {
	t.Helper()
	a, err := mail.ParseAddress(mm.Header.Get(field))
	if err != nil {
		t.Fatalf("message %v: %s %q: %v", mm, field, mm.Header.Get(field), err)
	}
	return a
}

// token returns the -confirm+TOKEN address a plain reply to this notice
// goes to, and its token.
func (mm memMail) token(t *testing.T) (addr, tok string) {
	t.Helper()
	a := mm.addr(t, "Reply-To").Address
	m := memConfirmRE.FindStringSubmatch(a)
	if m == nil || m[0] != a {
		t.Fatalf("message %v: Reply-To %q is not a confirmation address", mm, a)
	}
	if len(m[1]) < 26 {
		t.Fatalf("token %q is shorter than 128 bits of base32", m[1])
	}
	return a, m[1]
}

// bodyConfirmAddrs lists the confirmation addresses the body names, in
// order, without repeats.
func (mm memMail) bodyConfirmAddrs() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range memConfirmRE.FindAllString(mm.Body, -1) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// memEnv is a test server and a cursor over what it delivered.
type memEnv struct {
	*env
	seen    map[string]bool
	history []memMail
	n       int
}

func newMemEnv(t *testing.T, cfg func(*config.Config)) *memEnv {
	t.Helper()
	e := newEnv(t, setup{config: cfg})
	e.secret(memAda, memBen, memDana, memDanaName, memErin, memErinName, memMallory, aliceAddr, aliceName,
		brunoAddr, memBrunoName, carmenAddr, memCarmenName)
	return &memEnv{env: e, seen: map[string]bool{}}
}

// fixture creates recovery with the admins Ada and Ben and the members
// Alice, Bruno and Carmen, and swallows their welcomes.
func (m *memEnv) fixture(join, post string) {
	m.t.Helper()
	m.group(listserv.GroupSpec{Name: testGroup, JoinPolicy: join, PostPolicy: post, Admins: []string{memAda, memBen}},
		aliceAddr, brunoAddr, carmenAddr)
	m.settle()
}

// everyone is the fixture's members, admins included.
var memEveryone = []string{memAda, memBen, aliceAddr, brunoAddr, carmenAddr}

// settle waits until the delivery queue is empty and returns what was
// delivered since the last call, sorted by recipient. Every notice the
// service wrote is checked for a sound header on the way.
func (m *memEnv) settle() []memMail {
	m.t.Helper()
	m.waitQueueEmpty()
	paths, _ := filepath.Glob(filepath.Join(m.cfg.DataDir, "outbox", "*", "new", "*"))
	sort.Slice(paths, func(i, j int) bool {
		di, dj := filepath.Dir(filepath.Dir(paths[i])), filepath.Dir(filepath.Dir(paths[j]))
		if di != dj {
			return di < dj
		}
		return filepath.Base(paths[i]) < filepath.Base(paths[j])
	})
	var out []memMail
	for _, p := range paths {
		if m.seen[p] {
			continue
		}
		m.seen[p] = true
		mm := m.read(p)
		out = append(out, mm)
	}
	m.history = append(m.history, out...)
	return out
}

func (m *memEnv) read(path string) memMail {
	m.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		m.t.Fatal(err)
	}
	line, rest, ok := bytes.Cut(b, []byte("\r\n"))
	rp, found := strings.CutPrefix(string(line), "Return-Path: ")
	if !ok || !found {
		m.t.Fatalf("%s: no Return-Path line first", path)
	}
	rcpt := filepath.Base(filepath.Dir(filepath.Dir(path)))
	msg, err := mail.ReadMessage(bytes.NewReader(rest))
	if err != nil {
		m.t.Fatalf("message to %s does not parse: %v\n%s", rcpt, err, rest)
	}
	raw, _ := io.ReadAll(msg.Body)
	body := raw
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		if body, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw))); err != nil {
			m.t.Fatalf("message to %s: bad quoted-printable: %v", rcpt, err)
		}
	}
	mm := memMail{Rcpt: rcpt, EnvFrom: strings.Trim(rp, "<>"), Data: rest, Header: msg.Header,
		Body: strings.ReplaceAll(string(body), "\r\n", "\n")}
	if mm.notice() {
		memCheckNoticeHeader(m.t, mm)
	}
	return mm
}

// memCheckNoticeHeader checks a service notice's header: one each of
// From, To, Reply-To, Subject, nothing that adds a recipient, To the
// recipient, From the group's owner address.
func memCheckNoticeHeader(t *testing.T, mm memMail) {
	t.Helper()
	head, _, _ := bytes.Cut(mm.Data, []byte("\r\n\r\n"))
	count := map[string]int{}
	for _, line := range strings.Split(string(head), "\r\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			t.Errorf("notice %v: header line without a colon: %q", mm, line)
			continue
		}
		count[strings.ToLower(name)]++
	}
	for _, f := range []string{"from", "to", "reply-to", "subject", "message-id", "date"} {
		if count[f] != 1 {
			t.Errorf("notice %v: %d %s fields, want 1:\n%s", mm, count[f], f, head)
		}
	}
	for _, f := range []string{"cc", "bcc", "x-injected"} {
		if count[f] != 0 {
			t.Errorf("notice %v: a %s field:\n%s", mm, f, head)
		}
	}
	if to := mm.addr(t, "To").Address; !strings.EqualFold(to, mm.Rcpt) {
		t.Errorf("notice %v: To %q is not its recipient", mm, to)
	}
	// The envelope sender is the group's VERP bounce address.
	if !regexp.MustCompile(`^[a-z0-9.-]+-bounces\+[a-z2-7]+@` + regexp.QuoteMeta(testDomain) + `$`).MatchString(mm.EnvFrom) {
		t.Errorf("notice %v: envelope sender %q, want a VERP bounce address", mm, mm.EnvFrom)
	}
	// From the owner address of the group the notice is about.
	group := strings.TrimSuffix(strings.Trim(mm.Header.Get("List-Id"), "<>"), "."+testDomain)
	if from := mm.addr(t, "From").Address; from != group+"-owner@"+testDomain {
		t.Errorf("notice %v: From %q, want %s-owner@%s", mm, from, group, testDomain)
	}
}

// memRcpts lists the recipients of ms, sorted.
func memRcpts(ms []memMail) []string {
	var out []string
	for _, mm := range ms {
		out = append(out, mm.Rcpt)
	}
	sort.Strings(out)
	return out
}

// memWant checks that ms went to exactly want (a multiset).
func memWant(t *testing.T, what string, ms []memMail, want ...string) {
	t.Helper()
	w := append([]string(nil), want...)
	for i := range w {
		w[i] = strings.ToLower(w[i])
	}
	sort.Strings(w)
	if got := memRcpts(ms); strings.Join(got, ",") != strings.Join(w, ",") {
		t.Fatalf("%s: delivered %v, want messages to %v", what, ms, w)
	}
}

// memTo returns the one message of ms to rcpt.
func memTo(t *testing.T, ms []memMail, rcpt string) memMail {
	t.Helper()
	var found []memMail
	for _, mm := range ms {
		if strings.EqualFold(mm.Rcpt, rcpt) {
			found = append(found, mm)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d messages to %s among %v, want 1", len(found), rcpt, ms)
	}
	return found[0]
}

// memWantSubject checks a message's subject.
func memWantSubject(t *testing.T, mm memMail, want string) {
	t.Helper()
	if got := mm.subject(); got != want {
		t.Fatalf("message %v: subject %q, want %q\n%s", mm, got, want, mm.Body)
	}
}

// memNoLeak fails if any of ms contains one of leaks (case-insensitive).
func memNoLeak(t *testing.T, ms []memMail, leaks ...string) {
	t.Helper()
	for _, mm := range ms {
		low := bytes.ToLower(mm.Data)
		for _, l := range leaks {
			if bytes.Contains(low, bytes.ToLower([]byte(l))) {
				t.Errorf("message %v contains %q:\n%s", mm, l, mm.Data)
			}
		}
	}
}

// headers builds the header lines of a message from a person's client.
func (m *memEnv) headers(fromHdr, to, subject string, extra ...string) []string {
	m.n++
	return append([]string{
		"From: " + fromHdr,
		"To: " + to,
		"Subject: " + subject,
		"Date: Wed, 04 Mar 2026 10:00:00 +0100",
		fmt.Sprintf("Message-ID: <c%d.%d@client.example.net>", m.n, time.Now().UnixNano()),
	}, extra...)
}

// mail sends one message and fails the test unless it is accepted.
func (m *memEnv) mail(mailFrom, rcpt string, headers []string, body string) {
	m.t.Helper()
	if st, err := m.send(mailFrom, []string{rcpt}, message(headers, body)); st != stepOK {
		m.t.Fatalf("mail from %s to %s refused at %s: %v", mailFrom, rcpt, st, err)
	}
}

// write sends a plain message from addr (display name name) to rcpt.
func (m *memEnv) write(addr, name, rcpt, subject, body string, extra ...string) {
	m.t.Helper()
	from := "<" + addr + ">"
	if name != "" {
		from = name + " " + from
	}
	m.mail(addr, rcpt, m.headers(from, rcpt, subject, extra...), body)
}

// reply answers a notice as a mail program does: to its Reply-To, quoting
// it.
func (m *memEnv) reply(n memMail, addr, name string, extra ...string) {
	m.t.Helper()
	m.replyTo(n, n.addr(m.t, "Reply-To").Address, addr, name, extra...)
}

// replyTo answers a notice to rcpt.
func (m *memEnv) replyTo(n memMail, rcpt, addr, name string, extra ...string) {
	m.t.Helper()
	body := "Yes, please.\n\n> " + strings.ReplaceAll(strings.TrimSpace(n.Body), "\n", "\n> ") + "\n"
	m.write(addr, name, rcpt, "Re: "+n.subject(), body, append([]string{"In-Reply-To: " + n.Header.Get("Message-ID")}, extra...)...)
}

// command sends commands to -request@ in the body and returns the answer.
func (m *memEnv) command(addr, name string, lines ...string) memMail {
	m.t.Helper()
	m.write(addr, name, memRequestAddr, "commands", strings.Join(lines, "\n")+"\n\nThanks!\n")
	ms := m.settle()
	memWant(m.t, "answer to "+strings.Join(lines, "; "), ms, addr)
	memWantSubject(m.t, ms[0], "Your commands to "+testGroup)
	return ms[0]
}

// cli runs an admin command on the server's service, as the control
// socket does.
func (m *memEnv) cli(args ...string) (code int, stdout, stderr string) {
	var out, errw bytes.Buffer
	code = cli.Run(context.Background(), m.srv.Service, args, &out, &errw)
	return code, out.String(), errw.String()
}

func (m *memEnv) cliOK(args ...string) string {
	m.t.Helper()
	code, out, errout := m.cli(args...)
	if code != 0 || errout != "" {
		m.t.Fatalf("listserv %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errout)
	}
	return out
}

// state is addr's row in `member list` ("" when not listed).
func (m *memEnv) state(addr string) string {
	m.t.Helper()
	row := m.memberList(testGroup)[strings.ToLower(addr)]
	if len(row) < 2 {
		return ""
	}
	return row[1]
}

func (m *memEnv) wantState(addr, want string) {
	m.t.Helper()
	if got := m.state(addr); got != want {
		m.t.Fatalf("member list: %s is %q, want %q", addr, got, want)
	}
}

// aliasAddr is a member's alias address.
func (m *memEnv) aliasAddr(addr string) string {
	m.t.Helper()
	return testGroup + "+" + m.member(testGroup, addr).Slug + "@" + testDomain
}

// posts returns the copies of a post (not notices) among ms, checking
// that each comes from the alias of author.
func (m *memEnv) posts(ms []memMail, subject string) []memMail {
	m.t.Helper()
	var out []memMail
	for _, mm := range ms {
		if !mm.notice() && mm.subject() == subject {
			out = append(out, mm)
		}
	}
	return out
}

// wantRelayed checks that ms is exactly one copy of the post subject to
// each of rcpts, from author's alias.
func (m *memEnv) wantRelayed(ms []memMail, subject, author string, rcpts ...string) {
	m.t.Helper()
	memWant(m.t, "copies of "+subject, ms, rcpts...)
	a := m.member(testGroup, author)
	for _, mm := range ms {
		if mm.notice() || mm.subject() != subject {
			m.t.Fatalf("message %v is not a copy of the post %q", mm, subject)
		}
		from := mm.addr(m.t, "From")
		if from.Name != a.Alias || from.Address != m.aliasAddr(author) {
			m.t.Errorf("copy %v: From %q <%s>, want %q <%s>", mm, from.Name, from.Address, a.Alias, m.aliasAddr(author))
		}
	}
}

// pendingJoin is a join request that reached the admins.
type pendingJoin struct {
	approve, reject string             // the admins' confirmation addresses
	notices         map[string]memMail // the approval request, by admin
}

// joinUntilPending runs the requester's part of a join with join_policy
// approve: mail to -join@, the confirmation, the reply to its token, and
// the approval requests to the admins.
func (m *memEnv) joinUntilPending(addr, name, intro string) pendingJoin {
	m.t.Helper()
	t := m.t
	m.write(addr, name, memJoinAddr, "Joining", intro+"\n")
	ms := m.settle()
	memWant(t, "answer to a join request", ms, addr)
	confirm := ms[0]
	memWantSubject(t, confirm, "Please confirm: joining "+testGroup)
	caddr, tok := confirm.token(t)
	m.secret(tok)
	if !strings.Contains(confirm.Body, caddr) {
		t.Errorf("the confirmation does not name %s:\n%s", caddr, confirm.Body)
	}
	if st := m.state(addr); st != "" {
		t.Fatalf("before the confirmation, %s is already %q", addr, st)
	}
	// The token is stored hashed: once its notice is delivered, no record
	// of a copy of the database holds it.
	m.wantNotStored(tok)

	m.reply(confirm, addr, name)
	ms = m.settle()
	memWant(t, "after the confirmation", ms, addr, memAda, memBen)
	memWantSubject(t, memTo(t, ms, addr), "Your request to join "+testGroup+" is with the admins")
	m.wantState(addr, "pending")
	p := pendingJoin{notices: map[string]memMail{}}
	for _, admin := range []string{memAda, memBen} {
		n := memTo(t, ms, admin)
		memWantSubject(t, n, "Join request for "+testGroup)
		approve, tok := n.token(t)
		m.secret(tok)
		if !strings.Contains(n.Body, addr) {
			t.Errorf("the approval request does not name the requester:\n%s", n.Body)
		}
		for _, line := range strings.Split(intro, "\n") {
			if !strings.Contains(n.Body, line) {
				t.Errorf("the approval request lacks the introduction line %q:\n%s", line, n.Body)
			}
		}
		var reject string
		for _, a := range n.bodyConfirmAddrs() {
			if a != approve {
				reject = a
			}
		}
		if reject == "" {
			t.Fatalf("the approval request names no reject address:\n%s", n.Body)
		}
		m.secret(memConfirmRE.FindStringSubmatch(reject)[1])
		if p.approve != "" && (p.approve != approve || p.reject != reject) {
			t.Errorf("the admins got different tokens")
		}
		p.approve, p.reject = approve, reject
		p.notices[admin] = n
	}
	return p
}

// wantNotStored checks that no key or value of a backup of the database
// contains secret. (Pages freed by bbolt keep old bytes until reused, so
// the spooled notice that carried a token may linger in the file itself;
// the records are what a copy's reader gets.)
func (m *memEnv) wantNotStored(secret string) {
	m.t.Helper()
	if n := m.storedIn(aliceAddr); n == 0 {
		m.t.Fatalf("the database walk does not find a member's address")
	}
	if n := m.storedIn(secret); n != 0 {
		m.t.Errorf("%d records of the database hold %q in clear", n, secret)
	}
}

// storedIn counts the records (keys or values) of a backup of the
// database that contain needle.
func (m *memEnv) storedIn(needle string) int {
	m.t.Helper()
	path := filepath.Join(m.t.TempDir(), "copy.db")
	if _, err := m.srv.Store.BackupFile(path); err != nil {
		m.t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		m.t.Fatal(err)
	}
	defer db.Close()
	n := 0
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(b.Bucket(k))
			}
			if bytes.Contains(k, []byte(needle)) || bytes.Contains(v, []byte(needle)) {
				n++
			}
			return nil
		})
	}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
	}); err != nil {
		m.t.Fatal(err)
	}
	return n
}

// welcomePassword checks a welcome for addr and returns the password it
// carries.
func (m *memEnv) welcomePassword(w memMail, addr string) string {
	m.t.Helper()
	memWantSubject(m.t, w, "Welcome to "+testGroup)
	mem := m.member(testGroup, addr)
	for _, want := range []string{mem.Alias, m.aliasAddr(addr), memLeaveAddr, groupAddr} {
		if !strings.Contains(w.Body, want) {
			m.t.Errorf("the welcome does not mention %q:\n%s", want, w.Body)
		}
	}
	pw := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(w.Body)
	if pw == nil {
		m.t.Fatalf("no password in the welcome:\n%s", w.Body)
	}
	m.secret(pw[1])
	return pw[1]
}

func (m *memEnv) wantPassword(addr, pw string, want bool) {
	m.t.Helper()
	ok, err := m.srv.Service.CheckPassword(addr, pw)
	if err != nil {
		m.t.Fatal(err)
	}
	if ok != want {
		m.t.Errorf("CheckPassword(%s, %q) = %v, want %v", addr, pw, ok, want)
	}
}

// TestJoinApproveByReply is the whole join flow of a join_policy approve
// group, decided by an admin's reply: the second admin is told who took
// it, and the new member's first post is relayed.
func TestJoinApproveByReply(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	ada := m.member(testGroup, memAda)

	p := m.joinUntilPending(memDana, memDanaName, "Hello, my sister told me about this group.\nI am three weeks sober.")
	m.reply(p.notices[memAda], memAda, "Ada Admin")
	ms := m.settle()
	memWant(t, "after Ada's approval", ms, memDana)
	pw := m.welcomePassword(ms[0], memDana)
	m.wantPassword(memDana, pw, true)
	m.wantPassword(memDana, pw+"x", false)
	memNoLeak(t, ms, memAda, memBen, aliceAddr, brunoAddr, carmenAddr)
	m.wantState(memDana, "active")

	// Ben acts on the same request, by the approve and by the reject
	// address: he is told that Ada (by alias) approved it, and nothing
	// changes twice.
	m.reply(p.notices[memBen], memBen, "Ben Admin")
	m.replyTo(p.notices[memBen], p.reject, memBen, "Ben Admin")
	ms = m.settle()
	memWant(t, "after Ben's late decisions", ms, memBen, memBen)
	for _, mm := range ms {
		memWantSubject(t, mm, "Already handled: The join request")
		if !strings.Contains(mm.Body, "approved by "+ada.Alias) {
			t.Errorf("the note to Ben does not say that %s approved it:\n%s", ada.Alias, mm.Body)
		}
	}
	memNoLeak(t, ms, memAda, memDana)
	m.wantState(memDana, "active")

	// The new member posts.
	m.write(memDana, memDanaName, groupAddr, "Hello from the new member", "Hello everyone, "+memDanaName+" here.\n")
	ms = m.settle()
	m.wantRelayed(ms, "Hello from the new member", memDana, append(memEveryone, memDana)...)
	memNoLeak(t, ms, memDana, memDanaName)
	if n := m.archiveCount(testGroup); n != 1 {
		t.Errorf("archive holds %d posts, want 1", n)
	}
}

// TestJoinApproveByCLI is the same flow decided with `member pending` and
// `member approve`; an admin's reply afterwards is told it was taken.
func TestJoinApproveByCLI(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")

	p := m.joinUntilPending(memDana, memDanaName, "Hi,\n\tI would like   to join.")
	out := m.cliOK("member", "pending", testGroup)
	f := strings.Split(strings.TrimSuffix(out, "\n"), "\t")
	if strings.Count(out, "\n") != 1 || len(f) != 3 || f[0] != memDana || f[2] != "Hi, I would like to join." {
		t.Fatalf("member pending printed %q, want one line: address, date, introduction", out)
	}
	if _, err := time.Parse(time.RFC3339, f[1]); err != nil {
		t.Errorf("member pending: date %q: %v", f[1], err)
	}
	if got := m.cliOK("member", "approve", "Recovery", strings.ToUpper(memDana)); got != strings.ToUpper(memDana)+": approved\n" {
		t.Errorf("member approve printed %q", got)
	}
	ms := m.settle()
	memWant(t, "after the approval from the command line", ms, memDana)
	m.wantPassword(memDana, m.welcomePassword(ms[0], memDana), true)
	m.wantState(memDana, "active")
	if out := m.cliOK("member", "pending", testGroup); out != "" {
		t.Errorf("member pending after the approval printed %q", out)
	}

	// Ada's reply comes late: she is told, and nothing changes twice.
	m.reply(p.notices[memAda], memAda, "")
	ms = m.settle()
	memWant(t, "after Ada's late approval", ms, memAda)
	if !strings.Contains(ms[0].Body, "approved by "+memByCLI) {
		t.Errorf("the note to Ada does not say it was approved from the command line:\n%s", ms[0].Body)
	}
	if code, _, errout := m.cli("member", "approve", testGroup, memDana); code != 1 || !strings.Contains(errout, "not waiting") {
		t.Errorf("a second member approve: exit %d, stderr %q, want exit 1", code, errout)
	}
	if len(m.settle()) != 0 {
		t.Errorf("a refused approval sent mail")
	}

	m.write(memDana, memDanaName, groupAddr, "Posting again", "Hello.\n")
	m.wantRelayed(m.settle(), "Posting again", memDana, append(memEveryone, memDana)...)
}

// TestJoinReject rejects a request by reply and, after a new request,
// from the command line: each time only the requester hears, kindly.
func TestJoinReject(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	ada := m.member(testGroup, memAda)

	p := m.joinUntilPending(memErin, memErinName, "Hello.")
	m.replyTo(p.notices[memAda], p.reject, memAda, "")
	ms := m.settle()
	memWant(t, "after the rejection", ms, memErin)
	memWantSubject(t, ms[0], "About your request to join "+testGroup)
	memNoLeak(t, ms, memAda, ada.Alias)
	m.wantState(memErin, "")

	// Ben's approval comes too late.
	m.reply(p.notices[memBen], memBen, "")
	ms = m.settle()
	memWant(t, "after Ben's late approval", ms, memBen)
	if !strings.Contains(ms[0].Body, "rejected by "+ada.Alias) {
		t.Errorf("the note to Ben does not say that %s rejected it:\n%s", ada.Alias, ms[0].Body)
	}
	m.wantState(memErin, "")

	// Erin may ask again; this time the command line says no.
	m.joinUntilPending(memErin, memErinName, "Me again.")
	if got := m.cliOK("member", "reject", testGroup, memErin); got != memErin+": rejected\n" {
		t.Errorf("member reject printed %q", got)
	}
	ms = m.settle()
	memWant(t, "after the rejection from the command line", ms, memErin)
	memWantSubject(t, ms[0], "About your request to join "+testGroup)
	m.wantState(memErin, "")
	if code, _, _ := m.cli("member", "reject", testGroup, memErin); code != 1 {
		t.Errorf("rejecting someone who is not waiting: exit %d, want 1", code)
	}
}

// TestJoinOpen: with join_policy open, the confirmation makes a member at
// once; a second confirmation of an earlier request does nothing.
func TestJoinOpen(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("open", "members")

	m.write(memDana, memDanaName, memJoinAddr, "join", "")
	m.write(memDana, memDanaName, memRequestAddr, "join", "")
	ms := m.settle()
	memWant(t, "two join requests", ms, memDana, memDana, memDana)
	var confirms []memMail
	for _, mm := range ms {
		if mm.subject() == "Please confirm: joining "+testGroup {
			confirms = append(confirms, mm)
		}
	}
	if len(confirms) != 2 {
		t.Fatalf("%d confirmations for two requests: %v", len(confirms), ms)
	}
	_, t1 := confirms[0].token(t)
	_, t2 := confirms[1].token(t)
	m.secret(t1, t2)
	if t1 == t2 {
		t.Fatal("two requests got the same token")
	}

	// Tokens match case-insensitively.
	caddr, _ := confirms[0].token(t)
	local, domain, _ := strings.Cut(caddr, "@")
	m.replyTo(confirms[0], strings.ToUpper(local)+"@"+domain, memDana, memDanaName)
	ms = m.settle()
	memWant(t, "after the confirmation", ms, memDana)
	m.wantPassword(memDana, m.welcomePassword(ms[0], memDana), true)
	m.wantState(memDana, "active")

	m.reply(confirms[1], memDana, memDanaName)
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("confirming a second request of a member sent %v", ms)
	}
	m.wantState(memDana, "active")

	m.write(memDana, memDanaName, groupAddr, "Open door", "Hi.\n")
	m.wantRelayed(m.settle(), "Open door", memDana, append(memEveryone, memDana)...)
}

// TestCannotSubscribeSomeoneElse: the confirmation goes only to the From
// address, and without its token nothing happens.
func TestCannotSubscribeSomeoneElse(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("open", "members")

	// Mallory asks in Dana's name, hoping for the answer herself.
	m.mail(memMallory, memJoinAddr, m.headers(memDanaName+" <"+memDana+">", memJoinAddr, "join",
		"Reply-To: <"+memMallory+">", "Sender: <"+memMallory+">"), "Please add me.\n")
	m.mail(memMallory, memRequestAddr, m.headers("<"+memDana+">", memRequestAddr, "join",
		"Reply-To: <"+memMallory+">"), "join\n")
	ms := m.settle()
	memWant(t, "join requests in Dana's name", ms, memDana, memDana, memDana)
	m.wantState(memDana, "")
	confirms := 0
	for _, mm := range ms {
		if mm.subject() == "Please confirm: joining "+testGroup {
			_, tok := mm.token(t)
			m.secret(tok)
			confirms++
		}
	}
	if confirms != 2 {
		t.Errorf("%d confirmations for two requests (one with join in subject and body): %v", confirms, ms)
	}
	memNoLeak(t, ms, memMallory)

	// Guessing a token does nothing, answers nothing.
	guess := testGroup + "-confirm+" + strings.Repeat("a", 26) + "@" + testDomain
	m.write(memMallory, "", guess, "Re: Please confirm", "yes\n")
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("a guessed token got answers: %v", ms)
	}
	m.wantState(memDana, "")
	// There is no confirmation address without a token.
	st, err := m.send(memMallory, []string{testGroup + "-confirm@" + testDomain}, message(m.headers("<"+memMallory+">", "x", "yes"), "yes\n"))
	wantRefused(t, st, err, stepRcpt, 550, smtp.EnhancedCode{5, 1, 1})
	if roster := m.memberList(testGroup); len(roster) != len(memEveryone) {
		t.Errorf("the roster changed: %v", roster)
	}
}

// TestTokenReuseAndExpiry: a used or expired token changes nothing and
// brings a note to the address it was issued to, whoever uses it.
func TestTokenReuseAndExpiry(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")

	// Dana confirms twice; Mallory, who got hold of the token, once more.
	m.write(memDana, memDanaName, memJoinAddr, "join", "")
	confirm := m.settle()[0]
	caddr, _ := confirm.token(t)
	m.reply(confirm, memDana, memDanaName)
	memWant(t, "after the confirmation", m.settle(), memDana, memAda, memBen)
	m.reply(confirm, memDana, memDanaName)
	m.write(memMallory, "", caddr, "Re: confirm", "yes\n")
	ms := m.settle()
	memWant(t, "after reusing the token", ms, memDana, memDana)
	for _, mm := range ms {
		memWantSubject(t, mm, "Nothing was changed in "+testGroup)
		if !strings.Contains(mm.Body, "already used") {
			t.Errorf("the note does not say the confirmation was used:\n%s", mm.Body)
		}
	}
	memNoLeak(t, ms, memMallory)
	m.wantState(memDana, "pending")
	if out := m.cliOK("member", "pending", testGroup); strings.Count(out, "\n") != 1 {
		t.Errorf("member pending after reuse: %q", out)
	}

	// Erin's confirmation expires before she answers. The token's expiry
	// is rewritten in the store (the token is known to the test).
	m.write(memErin, memErinName, memJoinAddr, "join", "")
	confirm = m.settle()[0]
	caddr, tok := confirm.token(t)
	m.secret(tok)
	expire := func(tok string, kt mailstore.Token) {
		t.Helper()
		kt.Expires = time.Now().Add(-time.Minute)
		if err := m.srv.Store.PutTokens([]string{tok}, []mailstore.Token{kt}); err != nil {
			t.Fatal(err)
		}
	}
	expire(tok, mailstore.Token{Kind: mailstore.TokJoin, Group: testGroup, Addr: memErin})
	m.write(memMallory, "", caddr, "Re: confirm", "yes\n")
	m.reply(confirm, memErin, memErinName)
	ms = m.settle()
	memWant(t, "after using an expired token", ms, memErin, memErin)
	for _, mm := range ms {
		memWantSubject(t, mm, "Nothing was changed in "+testGroup)
		if !strings.Contains(mm.Body, "expired") {
			t.Errorf("the note does not say the confirmation expired:\n%s", mm.Body)
		}
	}
	m.wantState(memErin, "")

	// An admin's approval token expires too.
	p := m.joinUntilPending(memErin, memErinName, "Once more.")
	_, atok := p.notices[memAda].token(t)
	erin := m.member(testGroup, memErin)
	expire(atok, mailstore.Token{Kind: mailstore.TokApproveJoin, Group: testGroup, Addr: memErin, Item: erin.ID})
	m.reply(p.notices[memAda], memAda, "")
	ms = m.settle()
	memWant(t, "after an expired approval", ms, memAda)
	memWantSubject(t, ms[0], "Nothing was changed in "+testGroup)
	m.wantState(memErin, "pending")
}

// TestForgedApproval: approving needs the token and an admin's address;
// a non-admin who holds the token changes nothing, and neither does an
// admin without it.
func TestForgedApproval(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	p := m.joinUntilPending(memDana, memDanaName, "Hi.")

	// Dana (the requester) and Bruno (a member, not an admin) got hold of
	// the approval address; Mallory forges nothing but tries it too.
	for _, who := range []string{memDana, brunoAddr, memMallory} {
		m.replyTo(p.notices[memAda], p.approve, who, "")
	}
	// Ada without the token: a made-up token, a command, the owner
	// address.
	m.write(memAda, "", testGroup+"-confirm+"+strings.Repeat("b", 26)+"@"+testDomain, "approve", "approve\n")
	m.write(memAda, "", memRequestAddr, "approve "+memDana, "approve "+memDana+"\n")
	ms := m.settle()
	memWant(t, "after the forged approvals", ms, memAda)
	memWantSubject(t, ms[0], "Help for "+testGroup)
	m.wantState(memDana, "pending")

	// The token still works for an admin.
	m.reply(p.notices[memBen], memBen, "")
	ms = m.settle()
	memWant(t, "after Ben's approval", ms, memDana)
	memWantSubject(t, ms[0], "Welcome to "+testGroup)
	m.wantState(memDana, "active")
}

// TestLeave: leaving takes a confirmation; the posts stay in the archive
// under the alias.
func TestLeave(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	carmen := m.member(testGroup, carmenAddr)

	m.write(carmenAddr, memCarmenName, groupAddr, "My story", "It has been a long year.\n")
	ms := m.settle()
	m.wantRelayed(ms, "My story", carmenAddr, memEveryone...)
	unsub := ms[0].Header.Get("List-Unsubscribe")

	// A non-member asking to leave gets nothing.
	m.write(memMallory, "", memLeaveAddr, "leave", "")
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("a non-member's leave request was answered: %v", ms)
	}

	m.write(carmenAddr, memCarmenName, memLeaveAddr, "leave", "")
	ms = m.settle()
	memWant(t, "a leave request", ms, carmenAddr)
	memWantSubject(t, ms[0], "Please confirm: leaving "+testGroup)
	_, tok := ms[0].token(t)
	m.secret(tok)
	m.wantState(carmenAddr, "active")
	m.reply(ms[0], carmenAddr, memCarmenName)
	ms = m.settle()
	memWant(t, "after the confirmation", ms, carmenAddr)
	memWantSubject(t, ms[0], "You have left "+testGroup)
	m.wantState(carmenAddr, "")

	// Her post stays, under her alias.
	raw, meta, err := m.srv.Store.ArchivedPost(testGroup, 1)
	if err != nil || meta.AuthorID != carmen.ID || !bytes.Contains(raw, []byte(carmen.Alias)) {
		t.Errorf("archived post after leaving: author %d, err %v, want %d with alias %q", meta.AuthorID, err, carmen.ID, carmen.Alias)
	}
	// She gets no more posts, may not post, and her alias no longer
	// takes private mail.
	m.write(aliceAddr, aliceName, groupAddr, "After Carmen", "Hi.\n")
	m.wantRelayed(m.settle(), "After Carmen", aliceAddr, memAda, memBen, aliceAddr, brunoAddr)
	st, err := m.send(carmenAddr, []string{groupAddr}, simple("<"+carmenAddr+">", "Still here?", "c1@example.com"))
	wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
	st, err = m.send(aliceAddr, []string{testGroup + "+" + carmen.Slug + "@" + testDomain}, simple("<"+aliceAddr+">", "Miss you", "a1@example.org"))
	wantRefused(t, st, err, stepRcpt, 550, smtp.EnhancedCode{5, 1, 1})

	// Bruno uses the List-Unsubscribe target of a copy; without his reply
	// nothing changes.
	target, ok := strings.CutPrefix(strings.Trim(unsub, "<>"), "mailto:")
	if !ok || target != memLeaveAddr {
		t.Fatalf("List-Unsubscribe %q, want <mailto:%s>", unsub, memLeaveAddr)
	}
	m.write(brunoAddr, memBrunoName, target, "unsubscribe", "")
	ms = m.settle()
	memWant(t, "Bruno's unsubscribe", ms, brunoAddr)
	memWantSubject(t, ms[0], "Please confirm: leaving "+testGroup)
	m.wantState(brunoAddr, "active")
}

// TestNomailAndSelf: nomail stops and restarts deliveries; self off
// stops the author's own copy.
func TestNomailAndSelf(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")

	// In the subject.
	m.write(brunoAddr, memBrunoName, memRequestAddr, "nomail on", "")
	ms := m.settle()
	memWant(t, "nomail on", ms, brunoAddr)
	if !strings.Contains(ms[0].Body, "no longer sent") {
		t.Errorf("answer to nomail on:\n%s", ms[0].Body)
	}
	m.wantState(brunoAddr, "nomail")
	m.write(aliceAddr, aliceName, groupAddr, "While Bruno rests", "Hi.\n")
	m.wantRelayed(m.settle(), "While Bruno rests", aliceAddr, memAda, memBen, aliceAddr, carmenAddr)
	// He may still post.
	m.write(brunoAddr, memBrunoName, groupAddr, "A post while on nomail", "Hi.\n")
	m.wantRelayed(m.settle(), "A post while on nomail", brunoAddr, memAda, memBen, aliceAddr, carmenAddr)

	// In the body.
	if a := m.command(brunoAddr, memBrunoName, "nomail off"); !strings.Contains(a.Body, "sent to you again") {
		t.Errorf("answer to nomail off:\n%s", a.Body)
	}
	m.wantState(brunoAddr, "active")
	m.write(aliceAddr, aliceName, groupAddr, "Bruno is back", "Hi.\n")
	m.wantRelayed(m.settle(), "Bruno is back", aliceAddr, memEveryone...)

	// self off, then on; two commands in one message.
	a := m.command(aliceAddr, aliceName, "self off", "nomail off")
	if !strings.Contains(a.Body, "not get a copy of your own") || !strings.Contains(a.Body, "sent to you again") {
		t.Errorf("answer to self off + nomail off:\n%s", a.Body)
	}
	m.write(aliceAddr, aliceName, groupAddr, "No copy for me", "Hi.\n")
	m.wantRelayed(m.settle(), "No copy for me", aliceAddr, memAda, memBen, brunoAddr, carmenAddr)
	m.command(aliceAddr, aliceName, "self on")
	m.write(aliceAddr, aliceName, groupAddr, "A copy for me", "Hi.\n")
	m.wantRelayed(m.settle(), "A copy for me", aliceAddr, memEveryone...)
}

// TestPasswordCommand: password mails a new archive password and the old
// one stops working.
func TestPasswordCommand(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	var old string
	for _, mm := range m.history {
		if mm.Rcpt == aliceAddr && mm.subject() == "Welcome to "+testGroup {
			old = m.welcomePassword(mm, aliceAddr)
		}
	}
	if old == "" {
		t.Fatal("no welcome for Alice")
	}
	m.wantPassword(aliceAddr, old, true)

	a := m.command(aliceAddr, aliceName, "password")
	pw := regexp.MustCompile(`new archive password is: (\S+)`).FindStringSubmatch(a.Body)
	if pw == nil {
		t.Fatalf("no new password in the answer:\n%s", a.Body)
	}
	m.secret(pw[1])
	if pw[1] == old {
		t.Fatal("the new password is the old one")
	}
	m.wantPassword(aliceAddr, pw[1], true)
	m.wantPassword(aliceAddr, old, false)

	// A non-member gets no account.
	a = m.command(memMallory, "", "password")
	if !strings.Contains(a.Body, "Only members") {
		t.Errorf("a non-member's password command answered:\n%s", a.Body)
	}
	if _, err := m.srv.Store.Account(memMallory); !listserv.IsNotFound(err) {
		t.Errorf("a non-member got an account: %v", err)
	}
}

// TestAliasCommand: alias NAME refuses what would reveal the member or
// collide, and takes a good name; the old alias address still reaches
// the member.
func TestAliasCommand(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	aliceOld := m.member(testGroup, aliceAddr)
	bruno := m.member(testGroup, brunoAddr)

	refused := func(addr, name, alias, why string) {
		t.Helper()
		a := m.command(addr, name, "alias "+alias)
		if !strings.Contains(a.Body, why) {
			t.Errorf("alias %q for %s: answer does not say %q:\n%s", alias, addr, why, a.Body)
		}
	}
	const bad = "cannot be used"
	refused(aliceAddr, aliceName, memDana, bad)                // an address
	refused(aliceAddr, aliceName, "alice at example org", bad) // her address spelt out
	refused(aliceAddr, aliceName, "Alice Wonder", bad)         // her local part
	refused(aliceAddr, aliceName, "Example Heron", bad)        // her display name
	refused(brunoAddr, memBrunoName, "Bruno Quist", bad)       // his local part, bruno.quist
	refused(brunoAddr, memBrunoName, "Quiet Quist", bad)       // part of it
	refused(aliceAddr, aliceName, bruno.Alias, "taken")        // Bruno's alias
	refused(aliceAddr, aliceName, strings.ToUpper(bruno.Alias), "taken")
	if got := m.member(testGroup, aliceAddr); got.Alias != aliceOld.Alias {
		t.Fatalf("a refused alias changed Alice's to %q", got.Alias)
	}

	a := m.command(aliceAddr, aliceName, "alias Morning Walker")
	if !strings.Contains(a.Body, `You are now known as "Morning Walker"`) {
		t.Fatalf("a good alias was not taken:\n%s", a.Body)
	}
	// Bruno cannot take her old one.
	refused(brunoAddr, memBrunoName, aliceOld.Alias, "taken")

	m.write(aliceAddr, aliceName, groupAddr, "New name", "Hi.\n")
	ms := m.settle()
	m.wantRelayed(ms, "New name", aliceAddr, memEveryone...)
	if from := ms[0].addr(t, "From"); from.Name != "Morning Walker" || from.Address != testGroup+"+morning-walker@"+testDomain {
		t.Errorf("From after the alias change: %q <%s>", from.Name, from.Address)
	}
	// The old alias address still reaches her, privately.
	m.write(brunoAddr, memBrunoName, testGroup+"+"+aliceOld.Slug+"@"+testDomain, "To your old name", "Hi.\n")
	ms = m.settle()
	memWant(t, "a private message to the old alias", ms, aliceAddr)
	memNoLeak(t, ms, brunoAddr, memBrunoName)
}

// TestPrivateReply: a message to group+alias reaches that member alone,
// anonymized both ways, and is not archived.
func TestPrivateReply(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	alice, bruno := m.member(testGroup, aliceAddr), m.member(testGroup, brunoAddr)
	aliceAlias, brunoAlias := m.aliasAddr(aliceAddr), m.aliasAddr(brunoAddr)

	m.write(brunoAddr, memBrunoName, aliceAlias, "Just to you",
		"Hi, I did not want to say this on the list.\nWrite me at "+brunoAddr+" any time.\n\n-- \n"+memBrunoName+"\n")
	ms := m.settle()
	memWant(t, "a private message", ms, aliceAddr)
	pm := ms[0]
	if pm.notice() || pm.subject() != "Just to you" {
		t.Fatalf("private message: %v", pm)
	}
	if from := pm.addr(t, "From"); from.Name != bruno.Alias || from.Address != brunoAlias {
		t.Errorf("From %q <%s>, want %q <%s>", from.Name, from.Address, bruno.Alias, brunoAlias)
	}
	if rt := pm.addr(t, "Reply-To"); rt.Address != brunoAlias {
		t.Errorf("Reply-To %s, want %s", rt.Address, brunoAlias)
	}
	if to := pm.addr(t, "To"); to.Address != aliceAlias {
		t.Errorf("To %s, want %s", to.Address, aliceAlias)
	}
	if !strings.Contains(pm.Body, "did not want to say this") {
		t.Errorf("the text is lost:\n%s", pm.Body)
	}
	memNoLeak(t, ms, brunoAddr, "bruno.quist", memBrunoName, "example.net", aliceAddr, aliceName)
	if n := m.archiveCount(testGroup); n != 0 {
		t.Errorf("a private message was archived (%d posts)", n)
	}

	// Alice answers through the Reply-To.
	m.mail(aliceAddr, brunoAlias, m.headers(aliceName+" <"+aliceAddr+">", brunoAlias, "Re: Just to you",
		"In-Reply-To: "+pm.Header.Get("Message-ID")), "Thank you. "+aliceName+" here, "+aliceAddr+".\n")
	ms = m.settle()
	memWant(t, "the private answer", ms, brunoAddr)
	if from := ms[0].addr(t, "From"); from.Name != alice.Alias || from.Address != aliceAlias {
		t.Errorf("answer From %q <%s>", from.Name, from.Address)
	}
	memNoLeak(t, ms, aliceAddr, aliceName, "alice@", brunoAddr, memBrunoName)

	// Non-members are refused after DATA, unknown or pending aliases at
	// RCPT; nothing is delivered.
	st, err := m.send(memMallory, []string{aliceAlias}, simple("<"+memMallory+">", "hi", "m1@evil.example"))
	wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
	st, err = m.send(brunoAddr, []string{testGroup + "+no-such-heron@" + testDomain}, simple("<"+brunoAddr+">", "hi", "b1@example.net"))
	wantRefused(t, st, err, stepRcpt, 550, smtp.EnhancedCode{5, 1, 1})
	m.joinUntilPending(memDana, memDanaName, "Hi.")
	st, err = m.send(brunoAddr, []string{m.aliasAddr(memDana)}, simple("<"+brunoAddr+">", "hi", "b2@example.net"))
	wantRefused(t, st, err, stepRcpt, 550, smtp.EnhancedCode{5, 1, 1})
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("refused private messages delivered %v", ms)
	}
}

// heldNotices checks the notices of a held post: one to each admin (with
// the alias, never the address) and one to the author. It returns the
// admins' notices.
func (m *memEnv) heldNotices(ms []memMail, author, authorName, subject string) map[string]memMail {
	m.t.Helper()
	t := m.t
	memWant(t, "holding "+subject, ms, memAda, memBen, author)
	memWantSubject(t, memTo(t, ms, author), "Your post to "+testGroup+" is waiting for approval")
	alias := m.member(testGroup, author).Alias
	out := map[string]memMail{}
	for _, admin := range []string{memAda, memBen} {
		n := memTo(t, ms, admin)
		memWantSubject(t, n, "Post held for approval in "+testGroup+": "+subject)
		_, tok := n.token(t)
		m.secret(tok)
		if !strings.Contains(n.Body, alias) {
			t.Errorf("the held notice does not name the alias %q:\n%s", alias, n.Body)
		}
		if addrs := n.bodyConfirmAddrs(); len(addrs) != 3 {
			t.Errorf("the held notice names %d confirmation addresses, want approve, reject, discard:\n%s", len(addrs), n.Body)
		} else {
			for _, a := range addrs {
				m.secret(memConfirmRE.FindStringSubmatch(a)[1])
			}
		}
		out[admin] = n
	}
	for _, n := range out {
		memNoLeak(t, []memMail{n}, author, authorName)
	}
	return out
}

// heldAddr returns a held notice's n-th confirmation address (0 approve,
// 1 reject, 2 discard).
func heldAddr(t *testing.T, n memMail, i int) string {
	t.Helper()
	addrs := n.bodyConfirmAddrs()
	if len(addrs) != 3 {
		t.Fatalf("held notice with %d confirmation addresses", len(addrs))
	}
	return addrs[i]
}

// TestFirstPost: with post_policy first-post a new member's first post is
// held; approval relays it (by reply or from the command line),
// rejection tells the author only, discarding tells nobody.
func TestFirstPost(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "first-post")
	ada := m.member(testGroup, memAda)
	ctx := context.Background()
	add := func(addr string) {
		t.Helper()
		if _, err := m.srv.Service.AddMember(ctx, testGroup, addr, false); err != nil {
			t.Fatal(err)
		}
		m.settle()
	}
	add(memDana)
	all := append(memEveryone, memDana)

	m.write(memDana, memDanaName, groupAddr, "First words", "Hello, "+memDanaName+" here.\n")
	ms := m.settle()
	held := m.heldNotices(ms, memDana, memDanaName, "First words")
	if !strings.Contains(held[memAda].Body, "Hello,") {
		t.Errorf("the held notice does not show the post:\n%s", held[memAda].Body)
	}
	if n := m.archiveCount(testGroup); n != 0 {
		t.Fatalf("a held post was archived")
	}

	// Ada approves by reply: the post goes to every member.
	m.reply(held[memAda], memAda, "")
	m.wantRelayed(m.settle(), "First words", memDana, all...)
	if n := m.archiveCount(testGroup); n != 1 {
		t.Errorf("archive holds %d posts after the approval, want 1", n)
	}
	// Ben's late rejection is refused, naming Ada's alias.
	m.replyTo(held[memBen], heldAddr(t, held[memBen], 1), memBen, "")
	ms = m.settle()
	memWant(t, "Ben's late rejection", ms, memBen)
	memWantSubject(t, ms[0], "Already handled: The held post")
	if !strings.Contains(ms[0].Body, "approved by "+ada.Alias) {
		t.Errorf("the note to Ben does not name Ada's alias:\n%s", ms[0].Body)
	}
	memNoLeak(t, ms, memAda)
	// Dana's second post is not held.
	m.write(memDana, memDanaName, groupAddr, "Second words", "Hi.\n")
	m.wantRelayed(m.settle(), "Second words", memDana, all...)

	// Erin's first post is approved from the command line.
	add(memErin)
	all = append(all, memErin)
	m.write(memErin, memErinName, groupAddr, "A first post", "Hi.\n")
	held = m.heldNotices(m.settle(), memErin, memErinName, "A first post")
	erin := m.member(testGroup, memErin)
	list := m.cliOK("held", "list", testGroup)
	rows := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	if len(rows) != 2 {
		t.Fatalf("held list printed %q, want 2 rows", list)
	}
	wantRow := regexp.MustCompile(`^2\t` + regexp.QuoteMeta(erin.Alias) + `\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\twaiting\tA first post$`)
	if !wantRow.MatchString(rows[1]) {
		t.Errorf("held list row %q, want id 2, Erin's alias, date, waiting, subject", rows[1])
	}
	if !strings.Contains(rows[0], "\tapproved by "+ada.Alias+"\t") {
		t.Errorf("held list row %q does not say Ada approved it", rows[0])
	}
	if got := m.cliOK("held", "approve", testGroup, "2"); got != "held post 2: approved\n" {
		t.Errorf("held approve printed %q", got)
	}
	m.wantRelayed(m.settle(), "A first post", memErin, all...)
	m.reply(held[memAda], memAda, "")
	ms = m.settle()
	memWant(t, "Ada's late approval", ms, memAda)
	if !strings.Contains(ms[0].Body, "approved by "+memByCLI) {
		t.Errorf("the note to Ada:\n%s", ms[0].Body)
	}
	if code, _, errout := m.cli("held", "approve", testGroup, "2"); code != 1 || !strings.Contains(errout, "already approved") {
		t.Errorf("approving twice: exit %d, stderr %q", code, errout)
	}

	// Bruno has not posted yet either: rejected, he alone hears; he is
	// held again next time.
	m.write(brunoAddr, memBrunoName, groupAddr, "Bruno's first", "Hi.\n")
	held = m.heldNotices(m.settle(), brunoAddr, memBrunoName, "Bruno's first")
	m.replyTo(held[memBen], heldAddr(t, held[memBen], 1), memBen, "")
	ms = m.settle()
	memWant(t, "a rejection", ms, brunoAddr)
	memWantSubject(t, ms[0], "About your post to "+testGroup)
	memNoLeak(t, ms, memBen)
	m.write(brunoAddr, memBrunoName, groupAddr, "Bruno tries again", "Hi.\n")
	held = m.heldNotices(m.settle(), brunoAddr, memBrunoName, "Bruno tries again")

	// Discarded: nobody hears.
	m.replyTo(held[memAda], heldAddr(t, held[memAda], 2), memAda, "")
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("discarding sent %v", ms)
	}
	// Rejecting from the command line, after the discard: refused.
	if code, _, errout := m.cli("held", "reject", testGroup, "4"); code != 1 || !strings.Contains(errout, "already discarded by "+ada.Alias) {
		t.Errorf("rejecting a discarded post: exit %d, stderr %q", code, errout)
	}
	if n := m.archiveCount(testGroup); n != 3 {
		t.Errorf("archive holds %d posts, want 3", n)
	}
}

// TestHeldExpiry: a held post nobody decides expires with a note to its
// author only (the clock of a second Service over the same store has
// moved on).
func TestHeldExpiry(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "moderated")
	m.write(aliceAddr, aliceName, groupAddr, "Nobody looks", "Hi.\n")
	held := m.heldNotices(m.settle(), aliceAddr, aliceName, "Nobody looks")
	// A join request nobody answers expires too.
	m.joinUntilPending(memDana, memDanaName, "Anyone there?")

	later, err := listserv.New(listserv.Options{
		Store:        m.srv.Store,
		Domain:       testDomain,
		Hostname:     m.cfg.Hostname,
		PasswordCost: 4,
		Templates:    templates.New(filepath.Join(m.cfg.DataDir, "templates")),
		Wake:         m.srv.Queue.Wake,
		Logger:       slog.New(slog.NewTextHandler(m.logs, nil)),
		Now:          func() time.Time { return time.Now().Add(listserv.DefaultHoldDays*24*time.Hour + time.Hour) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.srv.Service.ExpireHeld(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ms := m.settle(); len(ms) != 0 {
		t.Fatalf("expiring on time sent %v", ms)
	}
	if err := later.ExpireHeld(context.Background()); err != nil {
		t.Fatal(err)
	}
	ms := m.settle()
	memWant(t, "expiry", ms, aliceAddr, memDana)
	note := memTo(t, ms, aliceAddr)
	memWantSubject(t, note, "Your post to "+testGroup+" was not sent")
	if !strings.Contains(note.Body, "Nobody looks") {
		t.Errorf("the expiry note does not name the post:\n%s", note.Body)
	}
	memWantSubject(t, memTo(t, ms, memDana), "About your request to join "+testGroup)
	m.wantState(memDana, "")
	if out := m.cliOK("held", "list", testGroup); !strings.Contains(out, "\texpired by the service\t") {
		t.Errorf("held list after the expiry: %q", out)
	}
	// Dana may ask again.
	m.write(memDana, memDanaName, memJoinAddr, "join", "")
	memWant(t, "a new join request", m.settle(), memDana)
	// An admin's approval after the expiry changes nothing.
	m.reply(held[memAda], memAda, "")
	ms = m.settle()
	memWant(t, "an approval after the expiry", ms, memAda)
	if n := m.archiveCount(testGroup); n != 0 {
		t.Errorf("an expired post was archived")
	}
}

// TestModerated: every non-admin post is held, admins' posts are not;
// the policy is changed with `group set`.
func TestModerated(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	m.write(aliceAddr, aliceName, groupAddr, "Before", "Hi.\n")
	m.wantRelayed(m.settle(), "Before", aliceAddr, memEveryone...)

	if got := m.cliOK("group", "set", testGroup, "post_policy", "moderated"); got != testGroup+": post_policy = moderated\n" {
		t.Errorf("group set printed %q", got)
	}
	m.write(aliceAddr, aliceName, groupAddr, "After", "Hi.\n")
	held := m.heldNotices(m.settle(), aliceAddr, aliceName, "After")
	m.write(memAda, "", groupAddr, "From an admin", "Hi.\n")
	m.wantRelayed(m.settle(), "From an admin", memAda, memEveryone...)
	m.reply(held[memBen], memBen, "")
	m.wantRelayed(m.settle(), "After", aliceAddr, memEveryone...)
	// Moderated means every post, not only the first.
	m.write(aliceAddr, aliceName, groupAddr, "Again", "Hi.\n")
	m.heldNotices(m.settle(), aliceAddr, aliceName, "Again")
}

// TestOwnerRelay: -owner reaches the admins; a member appears under the
// alias, a non-member with the address (the admins must answer them).
func TestOwnerRelay(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	bruno := m.member(testGroup, brunoAddr)

	m.write(brunoAddr, memBrunoName, memOwnerAddr, "A worry", "Someone is posting too much.\n"+memBrunoName+"\n")
	ms := m.settle()
	memWant(t, "a member to the admins", ms, memAda, memBen)
	for _, mm := range ms {
		if from := mm.addr(t, "From"); from.Name != bruno.Alias || from.Address != m.aliasAddr(brunoAddr) {
			t.Errorf("From %q <%s>, want Bruno's alias", from.Name, from.Address)
		}
		if !strings.Contains(mm.Body, "posting too much") {
			t.Errorf("the text is lost:\n%s", mm.Body)
		}
	}
	memNoLeak(t, ms, brunoAddr, memBrunoName, "bruno.quist")

	// A member who may not post (suspended) still appears by alias.
	if _, err := m.srv.Store.UpdateMember(testGroup, carmenAddr, func(mb *mailstore.Member) error {
		mb.State = mailstore.Suspended
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m.write(carmenAddr, memCarmenName, memOwnerAddr, "Why suspended?", "Hello?\n")
	ms = m.settle()
	memWant(t, "a suspended member to the admins", ms, memAda, memBen)
	memNoLeak(t, ms, carmenAddr, memCarmenName, "carmen.vale")

	m.write(memMallory, "Mal", memOwnerAddr, "Question", "How do I join?\n")
	ms = m.settle()
	memWant(t, "a non-member to the admins", ms, memAda, memBen)
	for _, mm := range ms {
		if !strings.Contains(mm.Body, memMallory) || !strings.Contains(mm.Body, "How do I join?") {
			t.Errorf("the relay does not show the sender's address and text:\n%s", mm.Body)
		}
		if rt := mm.addr(t, "Reply-To"); rt.Address != memMallory {
			t.Errorf("Reply-To %s, want the sender", rt.Address)
		}
	}
	memNoLeak(t, ms, aliceAddr, brunoAddr, carmenAddr)
}

// TestRobotsGetNoAnswer: an auto-responder answering a confirmation, or
// writing to -request, gets nothing back (no loop), and its reply
// confirms nothing.
func TestRobotsGetNoAnswer(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	m.write(memDana, memDanaName, memJoinAddr, "join", "")
	confirm := m.settle()[0]
	caddr, tok := confirm.token(t)
	m.secret(tok)
	robot := func(mailFrom string, rcpt string, extra ...string) {
		t.Helper()
		m.mail(mailFrom, rcpt, m.headers(memDanaName+" <"+memDana+">", rcpt, "Out of office", extra...), "I am away until Monday.\n")
	}
	for _, rcpt := range []string{caddr, memRequestAddr, memJoinAddr, memLeaveAddr, memOwnerAddr, m.aliasAddr(aliceAddr)} {
		robot(memDana, rcpt, "Auto-Submitted: auto-replied")
		robot(memDana, rcpt, "Precedence: bulk")
		robot(memDana, rcpt, "X-Autoreply: yes")
		robot(memDana, rcpt, "List-Id: <"+testGroup+"."+testDomain+">")
		robot("", rcpt)
	}
	if ms := m.settle(); len(ms) != 0 {
		t.Fatalf("robots got answers: %v", ms)
	}
	m.wantState(memDana, "")
	// The token still works for the person.
	m.reply(confirm, memDana, memDanaName)
	memWant(t, "the person's confirmation", m.settle(), memDana, memAda, memBen)
}

// TestReplyLimit: one address gets at most RepliesPerDay automated
// answers a day; past that, a request changes nothing either.
func TestReplyLimit(t *testing.T) {
	m := newMemEnv(t, nil)
	m.fixture("approve", "members")
	for i := 0; i < listserv.RepliesPerDay+3; i++ {
		m.write(memMallory, "", memRequestAddr, "help", "")
	}
	ms := m.settle()
	if len(ms) != listserv.RepliesPerDay {
		t.Fatalf("%d answers to %d requests, want %d", len(ms), listserv.RepliesPerDay+3, listserv.RepliesPerDay)
	}
	memWant(t, "help answers", ms[:1], memMallory)
	m.write(memMallory, "", memJoinAddr, "join", "")
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("over the limit, a join request was answered: %v", ms)
	}
	// Other addresses are not affected.
	m.command(aliceAddr, aliceName, "self on")

	// A member over the limit: password must not change without the
	// answer that carries the new one.
	for i := 0; i < listserv.RepliesPerDay; i++ {
		m.write(brunoAddr, memBrunoName, memRequestAddr, "help", "")
	}
	m.settle()
	m.write(brunoAddr, memBrunoName, memRequestAddr, "password", "")
	if ms := m.settle(); len(ms) != 0 {
		t.Errorf("over the limit, a password command was answered: %v", ms)
	}
	var welcome string
	for _, mm := range m.history {
		if mm.Rcpt == brunoAddr && mm.subject() == "Welcome to "+testGroup {
			welcome = m.welcomePassword(mm, brunoAddr)
		}
	}
	m.wantPassword(brunoAddr, welcome, true)
}

// memWriteTemplate writes an override template under dataDir/templates.
func memWriteTemplate(t *testing.T, dataDir, rel, text string) {
	t.Helper()
	p := filepath.Join(dataDir, "templates", rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTemplateOverride: a deployment's override directory changes the
// welcome for every group, a group's subdirectory for that group.
func TestTemplateOverride(t *testing.T) {
	m := newMemEnv(t, func(c *config.Config) {
		memWriteTemplate(t, c.DataDir, "welcome.tmpl",
			"{{define \"subject\"}}Glad you are here, {{.Alias}}{{end}}\nDeployment welcome to {{.Group}}. Password: {{.Password}}\n")
		memWriteTemplate(t, c.DataDir, testGroup+"/welcome.tmpl",
			"{{define \"subject\"}}Recovery welcome{{end}}\nThe recovery group's own welcome, {{.Alias}}.\n")
	})
	ctx := context.Background()
	for _, g := range []string{testGroup, "grief"} {
		if _, err := m.srv.Service.CreateGroup(ctx, listserv.GroupSpec{Name: g}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.srv.Service.AddMember(ctx, g, aliceAddr, false); err != nil {
			t.Fatal(err)
		}
	}
	ms := m.settle()
	memWant(t, "two welcomes", ms, aliceAddr, aliceAddr)
	rec, err := m.srv.Store.MemberByAddr(testGroup, aliceAddr)
	if err != nil {
		t.Fatal(err)
	}
	grief, err := m.srv.Store.MemberByAddr("grief", aliceAddr)
	if err != nil {
		t.Fatal(err)
	}
	var sawRec, sawGrief bool
	for _, mm := range ms {
		switch mm.subject() {
		case "Recovery welcome":
			sawRec = true
			if want := "The recovery group's own welcome, " + rec.Alias + "."; !strings.Contains(mm.Body, want) {
				t.Errorf("group welcome body %q, want %q", mm.Body, want)
			}
		case "Glad you are here, " + grief.Alias:
			sawGrief = true
			if !strings.Contains(mm.Body, "Deployment welcome to grief. Password: ") {
				t.Errorf("deployment welcome body %q", mm.Body)
			}
		default:
			t.Errorf("unexpected welcome %v:\n%s", mm, mm.Body)
		}
	}
	if !sawRec || !sawGrief {
		t.Errorf("welcomes: group override %v, deployment override %v", sawRec, sawGrief)
	}
}

// TestTemplateHeaderInjection: neither a template nor a value it
// inserts can add a header line.
func TestTemplateHeaderInjection(t *testing.T) {
	m := newMemEnv(t, func(c *config.Config) {
		memWriteTemplate(t, c.DataDir, "help.tmpl",
			"{{define \"subject\"}}Help{{\"\\r\\n\"}}Bcc: evil@attacker.example{{\"\\n\"}}X-Injected: yes{{end}}\nHelp text.\n")
	})
	m.fixture("approve", "moderated")
	m.write(aliceAddr, aliceName, memRequestAddr, "help", "")
	ms := m.settle()
	memWant(t, "help", ms, aliceAddr)
	if got := ms[0].subject(); got != "Help Bcc: evil@attacker.example X-Injected: yes" {
		t.Errorf("subject %q, want the text on one line", got)
	}
	// A value: a held post's subject that decodes to CR LF.
	m.mail(aliceAddr, groupAddr, m.headers(aliceName+" <"+aliceAddr+">", groupAddr,
		"=?utf-8?q?Hi=0D=0ABcc:_evil@attacker.example=0D=0AX-Injected:_yes?="), "Hi.\n")
	ms = m.settle()
	memWant(t, "held notices", ms, memAda, memBen, aliceAddr)
	for _, mm := range ms {
		if strings.ContainsAny(mm.subject(), "\r\n") {
			t.Errorf("subject %q has a line break", mm.subject())
		}
	}
	if _, err := os.Stat(filepath.Join(m.cfg.DataDir, "outbox", "evil@attacker.example")); err == nil {
		t.Errorf("mail went to the injected Bcc")
	}
}

// TestBrokenTemplateFailsStart: a broken override stops the start, with
// an error naming the template (and the group for a group's override).
func TestBrokenTemplateFailsStart(t *testing.T) {
	base := config.Default()
	base.Domain = testDomain
	base.Hostname = "mx." + testDomain
	base.SMTP.Listen = "127.0.0.1:0"
	base.IMAP.Listen = ""
	base.Auth.PasswordCost = 4
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name, rel, text string
		want            []string
	}{
		{"unknown field", "welcome.tmpl", "{{define \"subject\"}}Hi{{end}}{{.NoSuchField}}\n", []string{"welcome", "NoSuchField"}},
		{"syntax", "goodbye.tmpl", "{{define \"subject\"}}Bye{{end}}{{if}}\n", []string{"goodbye"}},
		{"no subject", "help.tmpl", "Just a body.\n", []string{"help", "subject"}},
		{"value of another notice", "welcome.tmpl", "{{define \"subject\"}}Hi{{end}}{{.Requester}}\n", []string{"welcome", "Requester"}},
		{"group override", "grief/welcome.tmpl", "{{define \"subject\"}}{{.Nope}}{{end}}\n", []string{"welcome", "grief"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.DataDir = t.TempDir()
			srv, err := server.Start(cfg, server.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Service.CreateGroup(context.Background(), listserv.GroupSpec{Name: "grief"}); err != nil {
				t.Fatal(err)
			}
			srv.Close()
			memWriteTemplate(t, cfg.DataDir, tc.rel, tc.text)
			srv, err = server.Start(cfg, server.Options{Logger: log})
			if err == nil {
				defer srv.Close()
				t.Fatalf("server started with a broken %s", tc.rel)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("start error %q does not name %q", err, w)
				}
			}
		})
	}
}
