package server_test

// End-to-end tests of membership by email and of moderation (issue 4;
// SPEC §2, §3, §5, §8, §10): join with confirmation and admin approval,
// leave, the -request commands, private replies through aliases, held
// posts, the -owner relay, robots and reply limits, and the templates.
// A real SMTP client talks to the server started by server.Start on
// 127.0.0.1:0, and what the outbox transport delivered is read back.
//
// This file holds their helpers, which start with "mem" so that they
// cannot clash with the other tests of this package; the tests are in
// membership_join_test.go, membership_commands_test.go,
// moderation_test.go and notices_test.go.

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

	bolt "go.etcd.io/bbolt"

	"listserv/listserv"
	"listserv/listserv/cli"
	"listserv/listserv/config"
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
