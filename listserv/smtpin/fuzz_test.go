package smtpin

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"listserv/listserv"
	"listserv/mailstore"
)

const (
	fuzzGroup  = "circle"
	fuzzDomain = "lists.example.org"
	fuzzMember = "alice@example.org"
	// fuzzDeadline bounds one input's whole session: past it the server
	// is taken to hang.
	fuzzDeadline = 10 * time.Second
)

// fuzzFixture is one real service on a temporary store with a group of
// one member, served by one smtpin server on loopback, shared by every
// exec of a fuzzing process.
type fuzzFixture struct {
	db      *mailstore.DB
	svc     *listserv.Service
	addr    string
	member  mailstore.Member
	checked uint64 // archive UIDs up to here were checked
	err     error
	// panics counts the panics go-smtp recovered from (it logs them).
	panics *panicLog
}

// panicLog is a log writer that remembers the panic records.
type panicLog struct {
	mu   sync.Mutex
	last []byte
}

func (p *panicLog) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte("panic")) && !knownLibraryPanic(b) {
		p.mu.Lock()
		p.last = append([]byte(nil), b...)
		p.mu.Unlock()
	}
	return len(b), nil
}

// knownLibraryPanic tells go-smtp v0.25.1's own BDAT race, which no
// backend can prevent: the goroutine that calls Session().Data for a BDAT
// transfer may start after the connection ended and Conn.Close set the
// session to nil (testdata/fuzz/FuzzSMTPSession/7cd65525924e22b3).
// go-smtp recovers it; the connection is already gone. A panic with a
// frame of ours is never this one.
func knownLibraryPanic(rec []byte) bool {
	return bytes.Contains(rec, []byte("go-smtp.(*Conn).handleBdat.func1()")) &&
		bytes.Contains(rec, []byte("invalid memory address or nil pointer dereference")) &&
		!bytes.Contains(rec, []byte("listserv/listserv/"))
}

func (p *panicLog) take() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.last
	p.last = nil
	return b
}

var (
	fuzzOnce sync.Once
	fuzzFix  fuzzFixture
)

func sharedFuzzFixture(tb testing.TB) *fuzzFixture {
	fuzzOnce.Do(func() {
		f := &fuzzFix
		dir, err := os.MkdirTemp("", "smtpin-fuzz")
		if err != nil {
			f.err = err
			return
		}
		if f.db, f.err = mailstore.Open(dir, mailstore.Options{}); f.err != nil {
			return
		}
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		f.svc, f.err = listserv.New(listserv.Options{Store: f.db, Domain: fuzzDomain, PasswordCost: 4, Logger: quiet})
		if f.err != nil {
			return
		}
		ctx := context.Background()
		if _, f.err = f.svc.CreateGroup(ctx, listserv.GroupSpec{Name: fuzzGroup}); f.err != nil {
			return
		}
		if f.member, f.err = f.svc.AddMember(ctx, fuzzGroup, fuzzMember, false); f.err != nil {
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.err = err
			return
		}
		f.addr = ln.Addr().String()
		f.panics = &panicLog{}
		srv := New(Options{Service: f.svc, Hostname: "mx." + fuzzDomain, MaxMessageBytes: 64 << 10,
			DataTimeout: fuzzDeadline / 2, Logger: slog.New(slog.NewTextHandler(f.panics, nil)),
			// One client IP opens every session: no connection limits, and
			// a tarpit short enough for the session deadline.
			MaxConnectionsPerIP: -1, ConnectionsPerMinutePerIP: -1,
			TarpitDelay: time.Millisecond, TarpitMaxDelay: 10 * time.Millisecond})
		go srv.Serve(ln)
	})
	if fuzzFix.err != nil {
		tb.Fatalf("fuzz fixture: %v", fuzzFix.err)
	}
	return &fuzzFix
}

// session runs one client session: it writes in, half-closes, and reads
// the replies until the server closes. It fails when that takes longer
// than fuzzDeadline.
func (f *fuzzFixture) session(t *testing.T, in []byte) []byte {
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(fuzzDeadline))
	go func() {
		c.Write(in) // the server may close early: errors are expected
		c.(*net.TCPConn).CloseWrite()
	}()
	var out bytes.Buffer
	_, err = io.Copy(&out, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("session did not end within %v; replies so far:\n%s", fuzzDeadline, out.Bytes())
	}
	if p := f.panics.take(); p != nil {
		t.Fatalf("the session panicked: %s", p)
	}
	return out.Bytes()
}

// checkArchive fails unless every post archived since the last check was
// written by the member, under their alias.
func (f *fuzzFixture) checkArchive(t *testing.T) {
	n, err := f.db.ArchiveCount(fuzzGroup)
	if err != nil {
		t.Fatal(err)
	}
	for uint64(n) > f.checked {
		f.checked++
		raw, meta, err := f.db.ArchivedPost(fuzzGroup, f.checked)
		if err != nil {
			t.Fatalf("archived post %d: %v", f.checked, err)
		}
		if meta.AuthorID != f.member.ID {
			t.Fatalf("post %d archived with author %d, not the member %d:\n%s", f.checked, meta.AuthorID, f.member.ID, raw)
		}
		hdr, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
		if !bytes.Contains(hdr, []byte(f.member.Alias)) || bytes.Contains(bytes.ToLower(raw), []byte(fuzzMember)) {
			t.Fatalf("post %d is not from the member's alias %q, or names the member:\n%s", f.checked, f.member.Alias, raw)
		}
	}
}

// crlf turns a readable session script ("\n" line ends) into the wire.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func fuzzSeeds() [][]byte {
	post := func(from, body string) string {
		return "From: " + from + "\nTo: " + fuzzGroup + "@" + fuzzDomain + "\nSubject: hello\nMessage-ID: <a1@example.org>\n\n" + body + "\n"
	}
	g := fuzzGroup + "@" + fuzzDomain
	member := post("Alice <"+fuzzMember+">", "a member's post")
	stranger := post("Mallory <mallory@example.net>", "a stranger's post")
	return [][]byte{
		crlf("EHLO c.example\nMAIL FROM:<" + fuzzMember + ">\nRCPT TO:<" + g + ">\nDATA\n" + member + ".\nQUIT\n"),
		crlf("EHLO c.example\nMAIL FROM:<mallory@example.net>\nRCPT TO:<" + g + ">\nDATA\n" + stranger + ".\nQUIT\n"),
		crlf("HELO c.example\nMAIL FROM:<x@example.net>\nRCPT TO:<junk@nowhere.example>\nRCPT TO:<nobody@" + fuzzDomain + ">\nRSET\nQUIT\n"),
		crlf("EHLO c.example\nMAIL FROM:<x@example.net>\nRCPT TO:<" + g + ">\nRCPT TO:<" + fuzzGroup + "-owner@" + fuzzDomain + ">\nQUIT\n"),
		// Bare-LF smuggling: a second transaction hidden in the body.
		[]byte("EHLO c.example\r\nMAIL FROM:<" + fuzzMember + ">\r\nRCPT TO:<" + g + ">\r\nDATA\r\n" +
			string(crlf(member)) + "\n.\nMAIL FROM:<mallory@example.net>\nRCPT TO:<" + g + ">\nDATA\n" +
			stranger + "\n.\n\r\n.\r\nQUIT\r\n"),
		[]byte("EHLO c.example\r\nMAIL FROM:<m@example.net>\r\nRCPT TO:<" + g + ">\r\nDATA\r\n" +
			string(crlf(stranger)) + "\r.\r" + string(crlf(member)) + "\r\n.\r\nQUIT\r\n"),
		// BDAT (CHUNKING is always on in go-smtp).
		append(append(crlf("EHLO c.example\nMAIL FROM:<"+fuzzMember+">\nRCPT TO:<"+g+">\nBDAT 20\n"),
			crlf(member)[:20]...), []byte("BDAT "+itoa(len(crlf(member))-20)+" LAST\r\n"+string(crlf(member)[20:])+"QUIT\r\n")...),
		crlf("EHLO c.example\nMAIL FROM:<x@example.net>\nRCPT TO:<" + g + ">\nBDAT 5\nabcdeBDAT 0 LAST\nQUIT\n"),
		crlf("EHLO c.example\nRSET\nNOOP\nVRFY " + fuzzMember + "\nAUTH PLAIN AGFsaWNlAHg=\nSTARTTLS\nQUIT\n"),
		crlf("EHLO c.example\nMAIL FROM:<" + fuzzMember + "> SIZE=99999999\nDATA\n.\nQUIT\n"),
		[]byte("\x00\xff\r\n\r\nEHLO\r\nMAIL\r\nRCPT\r\n"),
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// FuzzSMTPSession feeds arbitrary command and data streams to a real
// server over loopback. It checks that the server neither panics (go-smtp
// recovers and logs the panic, which the fixture's log catches) nor hangs, and that nothing but the
// member's own posts, under their alias, is ever archived.
func FuzzSMTPSession(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fx := sharedFuzzFixture(t)
		fx.session(t, in)
		fx.checkArchive(t)
	})
}

// TestFuzzSeedsPost checks that the seeds reach the interesting paths: the
// member's post is archived and the stranger's is not.
func TestFuzzSeedsPost(t *testing.T) {
	fx := sharedFuzzFixture(t)
	before, _ := fx.db.ArchiveCount(fuzzGroup)
	seeds := fuzzSeeds()
	if out := fx.session(t, seeds[0]); !bytes.Contains(out, []byte("250 2.0.0 OK: queued")) {
		t.Fatalf("the member's post was not taken:\n%s", out)
	}
	if out := fx.session(t, seeds[1]); !bytes.Contains(out, []byte("550 5.7.1")) {
		t.Fatalf("the stranger's post was not refused:\n%s", out)
	}
	if out := fx.session(t, seeds[6]); !bytes.Contains(out, []byte("250 2.0.0 OK: queued")) {
		t.Fatalf("the BDAT post was not taken:\n%s", out)
	}
	after, _ := fx.db.ArchiveCount(fuzzGroup)
	if after != before+2 {
		t.Errorf("archive grew by %d, want 2", after-before)
	}
	fx.checkArchive(t)
}
