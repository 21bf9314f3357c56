package server_test

// Shared helpers of the end-to-end tests: a server started in-process on
// 127.0.0.1:0 over a temporary data directory, an SMTP client that tells at
// which step a transaction was refused, and readers for what the delivery
// transport (the outbox Maildirs or the smtpsink) received.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"listserv/internal/smtpsink"
	"listserv/listserv"
	"listserv/listserv/cli"
	"listserv/listserv/config"
	"listserv/listserv/delivery"
	"listserv/listserv/senderauth"
	"listserv/listserv/server"
	"listserv/mailstore"
)

const (
	testDomain = "lists.example.org"
	testGroup  = "recovery"
	groupAddr  = testGroup + "@" + testDomain
)

// The members of the fixture group. Alice is the author of most posts;
// her display name only ever appears in the From of what she sends.
const (
	aliceAddr  = "alice@example.org"
	aliceName  = "Alice Example"
	brunoAddr  = "bruno.quist@example.net"
	carmenAddr = "carmen.vale@example.com"
)

// lockedBuffer is an io.Writer safe for the concurrent writes of a
// logger and the reads of a test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// setup says how to start a test server.
type setup struct {
	// sink delivers through a smtpsink smarthost instead of the outbox.
	sink bool
	// faults are the sink's (a slow or failing receiver).
	faults smtpsink.Faults
	// config changes the configuration before the start.
	config func(*config.Config)
	// resolver answers sender authentication's DNS (server.Options.Resolver).
	resolver senderauth.Resolver
}

// env is one running server and what it delivered.
type env struct {
	t    *testing.T
	cfg  config.Config
	srv  *server.Server
	sink *smtpsink.Sink
	logs *lockedBuffer
	// secrets must never appear in the log (checked at cleanup).
	secrets []string
}

// newEnv starts a server on a temporary data directory with every log
// record (debug level) captured. At cleanup it stops the server and fails
// the test if the log names any registered secret.
func newEnv(t *testing.T, s setup) *env {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Domain = testDomain
	cfg.Hostname = "mx." + testDomain
	cfg.SMTP.Listen = "127.0.0.1:0"
	cfg.IMAP.Listen = ""
	cfg.Auth.PasswordCost = 4 // bcrypt's minimum: -race makes cost 10 take a second
	cfg.Delivery.Workers = 4
	if s.config != nil {
		s.config(&cfg)
	}
	e := &env{t: t, cfg: cfg, logs: &lockedBuffer{}}
	opts := server.Options{
		Logger:   slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Resolver: s.resolver,
	}
	if s.sink {
		sink, err := smtpsink.Start(s.faults)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sink.Close() })
		e.sink = sink
		opts.Transport = &delivery.Smarthost{Addr: sink.Addr(), Hostname: "x", TLS: "none", Timeout: 5 * time.Second}
	}
	srv, err := server.Start(cfg, opts)
	if err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	e.srv = srv
	t.Cleanup(func() {
		srv.Close()
		logs := strings.ToLower(e.logs.String())
		for _, s := range e.secrets {
			if strings.Contains(logs, strings.ToLower(s)) {
				t.Errorf("the log names %q:\n%s", s, e.logs.String())
			}
		}
	})
	return e
}

// secret registers strings the log must never contain.
func (e *env) secret(s ...string) { e.secrets = append(e.secrets, s...) }

// group creates a group with these members (no admins) and waits for
// their welcome messages to leave the queue, so that later checks of the
// queue concern posts only.
func (e *env) group(spec listserv.GroupSpec, members ...string) mailstore.Group {
	e.t.Helper()
	ctx := context.Background()
	g, err := e.srv.Service.CreateGroup(ctx, spec)
	if err != nil {
		e.t.Fatalf("CreateGroup(%s): %v", spec.Name, err)
	}
	e.secret(spec.Admins...)
	for _, m := range members {
		if _, err := e.srv.Service.AddMember(ctx, g.Name, m, false); err != nil {
			e.t.Fatalf("AddMember(%s): %v", m, err)
		}
		e.secret(m)
	}
	e.waitQueueEmpty()
	return g
}

// fixture is the usual group: recovery with Alice, Bruno and Carmen.
func (e *env) fixture() {
	e.group(listserv.GroupSpec{Name: testGroup, JoinPolicy: "approve", PostPolicy: "members"}, aliceAddr, brunoAddr, carmenAddr)
	e.secret(aliceName)
}

func (e *env) member(group, addr string) mailstore.Member {
	e.t.Helper()
	m, err := e.srv.Store.MemberByAddr(group, addr)
	if err != nil {
		e.t.Fatalf("MemberByAddr(%s): %v", addr, err)
	}
	return m
}

// waitQueueEmpty waits until every queued delivery has been worked off.
func (e *env) waitQueueEmpty() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _, err := e.srv.Store.QueueStats()
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d deliveries still queued after 10s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) archiveCount(group string) int {
	e.t.Helper()
	n, err := e.srv.Store.ArchiveCount(group)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// delivered is one message the transport received.
type delivered struct {
	EnvFrom string // envelope sender (Return-Path for the outbox)
	Rcpt    string
	Data    []byte // the message as sent, without the outbox's Return-Path
	Header  mail.Header
	Body    []byte
}

func (d delivered) welcome() bool {
	return d.Header.Get("Auto-Submitted") != "" || strings.HasPrefix(d.Header.Get("Subject"), "Welcome")
}

// deliveries lists what the transport received, welcomes included.
func (e *env) deliveries() []delivered {
	e.t.Helper()
	var out []delivered
	if e.sink != nil {
		for _, m := range e.sink.Messages() {
			out = append(out, parseDelivered(e.t, m.From, m.To, m.Data))
		}
		return out
	}
	boxes, _ := filepath.Glob(filepath.Join(e.cfg.DataDir, "outbox", "*", "new", "*"))
	sort.Strings(boxes)
	for _, p := range boxes {
		b, err := os.ReadFile(p)
		if err != nil {
			e.t.Fatal(err)
		}
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		rp, found := strings.CutPrefix(string(line), "Return-Path: ")
		if !ok || !found {
			e.t.Fatalf("%s: no Return-Path line first", p)
		}
		rcpt := filepath.Base(filepath.Dir(filepath.Dir(p)))
		out = append(out, parseDelivered(e.t, strings.Trim(rp, "<>"), rcpt, rest))
	}
	return out
}

func parseDelivered(t *testing.T, from, to string, data []byte) delivered {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("delivered message to %s does not parse: %v\n%s", to, err, data)
	}
	body, _ := io.ReadAll(m.Body)
	return delivered{EnvFrom: from, Rcpt: to, Data: data, Header: m.Header, Body: body}
}

// posts lists the delivered copies of posts (no service mail) whose
// Subject is subject.
func (e *env) posts(subject string) []delivered {
	var out []delivered
	for _, d := range e.deliveries() {
		if !d.welcome() && d.Header.Get("Subject") == subject {
			out = append(out, d)
		}
	}
	return out
}

// waitPosts waits for n copies of the post with this subject and for the
// queue to be empty, then returns them sorted by recipient.
func (e *env) waitPosts(subject string, n int) []delivered {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.posts(subject)
		if len(got) >= n {
			e.waitQueueEmpty()
			got = e.posts(subject)
			sort.Slice(got, func(i, j int) bool { return got[i].Rcpt < got[j].Rcpt })
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d copies of %q delivered after 10s, want %d", len(got), subject, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// memberList runs the `member list` admin command on the server's service
// and returns address → fields (alias, state[, admin]).
func (e *env) memberList(group string) map[string][]string {
	e.t.Helper()
	var out, errw bytes.Buffer
	if code := cli.Run(context.Background(), e.srv.Service, []string{"member", "list", group}, &out, &errw); code != 0 {
		e.t.Fatalf("member list: exit %d: %s", code, errw.String())
	}
	rows := make(map[string][]string)
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		f := strings.Split(line, "\t")
		rows[f[0]] = f[1:]
	}
	return rows
}

// step names where an SMTP transaction stopped.
type step string

const (
	stepDial step = "dial"
	stepMail step = "MAIL"
	stepRcpt step = "RCPT"
	stepData step = "DATA"
	stepEnd  step = "end of DATA"
	stepOK   step = "accepted"
)

// send runs one SMTP transaction on a new connection and reports the
// step that failed (stepOK when the message was accepted) and its error.
func (e *env) send(mailFrom string, rcpts []string, msg []byte) (step, error) {
	return e.sendOpts(mailFrom, nil, rcpts, msg)
}

func (e *env) sendOpts(mailFrom string, opts *smtp.MailOptions, rcpts []string, msg []byte) (step, error) {
	c, err := smtp.Dial(e.srv.SMTPAddr())
	if err != nil {
		return stepDial, err
	}
	defer c.Close()
	if err := c.Hello("client.example.net"); err != nil {
		return stepDial, err
	}
	st, err := transact(c, mailFrom, opts, rcpts, msg)
	if st == stepOK {
		c.Quit()
	}
	return st, err
}

// transact runs one MAIL/RCPT/DATA transaction on an open client and
// reports the step that failed (stepOK when the message was accepted).
func transact(c *smtp.Client, mailFrom string, opts *smtp.MailOptions, rcpts []string, msg []byte) (step, error) {
	if err := c.Mail(mailFrom, opts); err != nil {
		return stepMail, err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return stepRcpt, err
		}
	}
	w, err := c.Data()
	if err != nil {
		return stepData, err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return stepEnd, err
	}
	if err := w.Close(); err != nil {
		return stepEnd, err
	}
	return stepOK, nil
}

// post sends msg to the group from its From address and fails the test
// unless it is accepted.
func (e *env) post(from string, msg []byte) {
	e.t.Helper()
	if st, err := e.send(from, []string{groupAddr}, msg); st != stepOK {
		e.t.Fatalf("post refused at %s: %v", st, err)
	}
}

// wantRefused checks that a transaction stopped at step want with the
// given reply code and enhanced code.
func wantRefused(t *testing.T, gotStep step, err error, want step, code int, enh smtp.EnhancedCode) {
	t.Helper()
	if gotStep != want {
		t.Fatalf("transaction stopped at %s (err %v), want a refusal at %s", gotStep, err, want)
	}
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("at %s: error %v (%T) is not an SMTP reply", gotStep, err, err)
	}
	if se.Code != code || se.EnhancedCode != enh {
		t.Fatalf("at %s: reply %d %v %q, want %d %v", gotStep, se.Code, se.EnhancedCode, se.Message, code, enh)
	}
}

// message builds a CRLF message from header lines and a body.
func message(headers []string, body string) []byte {
	var b strings.Builder
	for _, h := range headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return []byte(b.String())
}

// simple is a plain post from addr with a subject and a Message-ID.
func simple(fromHeader, subject, msgID string, extra ...string) []byte {
	h := []string{
		"From: " + fromHeader,
		"To: " + groupAddr,
		"Subject: " + subject,
		"Date: Tue, 03 Mar 2026 09:15:00 -0800",
		"Message-ID: <" + msgID + ">",
	}
	return message(append(h, extra...), "Hello everyone,\nthis is a test post.\n")
}

// rawSMTP is a hand-driven SMTP connection for what a client library
// would refuse to send.
type rawSMTP struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (e *env) raw() *rawSMTP {
	e.t.Helper()
	c, err := net.DialTimeout("tcp", e.srv.SMTPAddr(), 5*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	e.t.Cleanup(func() { c.Close() })
	s := &rawSMTP{t: e.t, conn: c, r: bufio.NewReader(c)}
	s.expect(220)
	return s
}

// reply reads one (possibly multi-line) reply and returns its code and
// last line.
func (s *rawSMTP) reply() (int, string) {
	s.t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading reply: %v (got %q)", err, line)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 {
			s.t.Fatalf("short reply line %q", line)
		}
		if line[3] == '-' {
			continue
		}
		var code int
		fmt.Sscanf(line[:3], "%d", &code)
		return code, line
	}
}

func (s *rawSMTP) write(p string) {
	s.t.Helper()
	if _, err := io.WriteString(s.conn, p); err != nil {
		s.t.Fatal(err)
	}
}

func (s *rawSMTP) expect(code int) string {
	s.t.Helper()
	got, line := s.reply()
	if got != code {
		s.t.Fatalf("reply %q, want %d", line, code)
	}
	return line
}

func (s *rawSMTP) cmd(line string, code int) string {
	s.t.Helper()
	s.write(line + "\r\n")
	return s.expect(code)
}
