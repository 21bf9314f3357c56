package imapview_test

// A store with a generated archive, an imapview.Server over it on
// 127.0.0.1:0 and a member who reads it. The 10,000-post archive is built
// once per test binary and shared by the tests and benchmarks that need
// it.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"listserv/internal/corpus"
	"listserv/listserv"
	"listserv/listserv/imapview"
	"listserv/listserv/msgindex"
	"listserv/mailstore"
)

const (
	group  = "recovery"
	reader = "reader@example.org"
)

type fixture struct {
	db    *mailstore.DB
	svc   *listserv.Service
	srv   *imapview.Server
	addr  string
	pass  string
	gen   *corpus.Generator
	byUID map[uint64]int
	posts []corpus.Post // by post number
}

var (
	tmpRoot string
	bigOnce sync.Once
	bigFix  *fixture
	bigErr  error
)

func TestMain(m *testing.M) {
	var err error
	if tmpRoot, err = os.MkdirTemp("", "imapview-test"); err != nil {
		panic(err)
	}
	code := m.Run()
	if bigFix != nil {
		bigFix.close()
	}
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

// newFixture builds a store in dir with n generated posts and serves it.
func newFixture(dir string, n int, opts imapview.Options) (*fixture, error) {
	db, err := mailstore.Open(dir, mailstore.Options{})
	if err != nil {
		return nil, err
	}
	f := &fixture{db: db, gen: corpus.New(corpus.Options{Seed: 1})}
	fail := func(err error) (*fixture, error) { f.close(); return nil, err }
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.svc, err = listserv.New(listserv.Options{Store: db, Domain: "lists.example.org", PasswordCost: 4, Logger: quiet})
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	if _, err := f.svc.CreateGroup(ctx, listserv.GroupSpec{Name: group}); err != nil {
		return fail(err)
	}
	if _, err := f.svc.AddMember(ctx, group, reader, false); err != nil {
		return fail(err)
	}
	// nomail: reads the archive, gets no deliveries queued.
	if _, err := db.UpdateMember(group, reader, func(m *mailstore.Member) error { m.State = mailstore.NoMail; return nil }); err != nil {
		return fail(err)
	}
	if f.pass, err = f.svc.ResetPassword(reader); err != nil {
		return fail(err)
	}
	if f.byUID, err = corpus.Fill(db, group, f.gen, n, msgindex.Build); err != nil {
		return fail(err)
	}
	for {
		k, err := msgindex.IndexTerms(db, group, 1000)
		if err != nil {
			return fail(err)
		}
		if k == 0 {
			break
		}
	}
	f.posts = make([]corpus.Post, n)
	for i := range f.posts {
		f.posts[i] = f.gen.Post(i)
	}
	opts.Service = f.svc
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if f.srv, err = imapview.New(opts); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	f.addr = ln.Addr().String()
	go f.srv.Serve(ln)
	return f, nil
}

func (f *fixture) close() {
	if f.srv != nil {
		f.srv.Close()
	}
	f.db.Close()
}

// big returns the shared 10,000-post fixture.
func big(tb testing.TB) *fixture {
	tb.Helper()
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp(tmpRoot, "big")
		if err != nil {
			bigErr = err
			return
		}
		bigFix, bigErr = newFixture(dir, 10000, imapview.Options{})
	})
	if bigErr != nil {
		tb.Fatal(bigErr)
	}
	return bigFix
}

// small returns a fixture of its own with n posts.
func small(tb testing.TB, n int, opts imapview.Options) *fixture {
	tb.Helper()
	f, err := newFixture(tb.TempDir(), n, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(f.close)
	return f
}

// login connects as the reader and selects the group.
func (f *fixture) login(tb testing.TB, opts *imapclient.Options) *imapclient.Client {
	tb.Helper()
	c, err := imapclient.DialInsecure(f.addr, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if err := c.Login(reader, f.pass).Wait(); err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Select(group, nil).Wait(); err != nil {
		tb.Fatal(err)
	}
	return c
}
