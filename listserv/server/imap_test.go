package server_test

// End-to-end tests of the archive over IMAP (issue 3, SPEC §7, §10):
// go-imap's imapclient against the server started by server.Start, with
// posts sent over SMTP.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"listserv/listserv"
	"listserv/listserv/config"
	"listserv/listserv/server"
)

func TestIMAPClientReadsArchive(t *testing.T) {
	e := imapEnv(t, nil)
	e.imapPosts(3)
	pass := e.imapPassword(brunoAddr)
	c := e.imapLogin(brunoAddr, pass, nil)

	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range boxes {
		names = append(names, b.Mailbox)
	}
	if strings.Join(names, ",") != "INBOX,"+testGroup {
		t.Fatalf("LIST: %v", names)
	}
	sel, err := c.Select(testGroup, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	g, _ := e.srv.Store.Group(testGroup)
	if sel.NumMessages != 3 || sel.UIDValidity != g.UIDValidity || sel.UIDNext != 4 {
		t.Fatalf("SELECT: %+v", sel)
	}
	imapCheckFetch(t, e, c)
	imapCheckSearchAndStore(t, e, c)
	c.Logout().Wait()
	imapCheckFlagsKept(t, e, pass)
}

// imapCheckFetch fetches the three posts whole: the bytes are the
// archive's, the envelope names the author's alias.
func imapCheckFetch(t *testing.T, e *env, c *imapclient.Client) {
	t.Helper()
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{
		UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	alias := e.member(testGroup, aliceAddr)
	for i, m := range msgs {
		raw, _, err := e.srv.Store.ArchivedPost(testGroup, uint64(m.UID))
		if err != nil {
			t.Fatal(err)
		}
		body := m.FindBodySection(&imap.FetchItemBodySection{Peek: true})
		if !bytes.Equal(body, raw) || m.RFC822Size != int64(len(raw)) {
			t.Errorf("message %d: BODY[] (%d bytes, RFC822.SIZE %d) differs from the archive (%d bytes)", i+1, len(body), m.RFC822Size, len(raw))
		}
		if m.Envelope.Subject != "Post "+string(rune('1'+i)) || len(m.Envelope.From) != 1 ||
			m.Envelope.From[0].Name != alias.Alias || m.Envelope.From[0].Mailbox != testGroup+"+"+alias.Slug {
			t.Errorf("message %d: envelope %+v", i+1, m.Envelope)
		}
		if bs, ok := m.BodyStructure.(*imap.BodyStructureSinglePart); !ok || bs.MediaType() != "text/plain" {
			t.Errorf("message %d: BODYSTRUCTURE %#v", i+1, m.BodyStructure)
		}
		if len(m.Flags) != 0 || time.Since(m.InternalDate) > time.Minute {
			t.Errorf("message %d: flags %v, internal date %v", i+1, m.Flags, m.InternalDate)
		}
	}
}

// imapCheckSearchAndStore searches header, text and flag keys, stores
// flags, and has a non-PEEK fetch set \Seen.
func imapCheckSearchAndStore(t *testing.T, e *env, c *imapclient.Client) {
	t.Helper()
	alias := e.member(testGroup, aliceAddr)
	res, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "post 2"}}}, nil).Wait()
	if err != nil || !equalUIDs(res.AllUIDs(), 2) {
		t.Fatalf("SEARCH SUBJECT: %v %v", res.AllUIDs(), err)
	}
	res, err = c.UIDSearch(&imap.SearchCriteria{Text: []string{"THIS IS A TEST"}, Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: alias.Slug}}}, nil).Wait()
	if err != nil || !equalUIDs(res.AllUIDs(), 1, 2, 3) {
		t.Fatalf("SEARCH TEXT FROM: %v %v", res.AllUIDs(), err)
	}
	if _, err := c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "$Important"}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	seen, err := c.Fetch(imap.UIDSetNum(2), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText}}}).Collect()
	if err != nil || len(seen) != 1 || !hasFlag(seen[0].Flags, imap.FlagSeen) {
		t.Fatalf("FETCH BODY[TEXT] did not report \\Seen: %+v %v", seen, err)
	}
	res, err = c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	if err != nil || !equalUIDs(res.AllUIDs(), 1, 3) {
		t.Fatalf("SEARCH UNSEEN: %v %v", res.AllUIDs(), err)
	}
}

// imapCheckFlagsKept: a second connection sees the flags; EXAMINE does
// not set \Seen; another member has flags of their own.
func imapCheckFlagsKept(t *testing.T, e *env, pass string) {
	t.Helper()
	c2 := e.imapLogin(brunoAddr, pass, nil)
	if _, err := c2.Select(testGroup, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	got, err := c2.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	want := map[imap.UID][]imap.Flag{1: {imap.FlagFlagged, "$Important"}, 2: {imap.FlagSeen}, 3: nil}
	for _, m := range got {
		if !sameFlags(m.Flags, want[m.UID]) {
			t.Errorf("UID %d after reconnect: flags %v, want %v", m.UID, m.Flags, want[m.UID])
		}
	}
	st, err := c2.Status(testGroup, &imap.StatusOptions{NumMessages: true, NumUnseen: true, UIDNext: true, Size: true}).Wait()
	if err != nil || *st.NumMessages != 3 || *st.NumUnseen != 2 || st.UIDNext != 4 || *st.Size <= 0 {
		t.Fatalf("STATUS: %+v %v", st, err)
	}
	c3 := e.imapLogin(carmenAddr, e.imapPassword(carmenAddr), nil)
	if _, err := c3.Select(testGroup, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	res, err := c3.Search(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged}}, nil).Wait()
	if err != nil || len(res.AllSeqNums()) != 0 {
		t.Fatalf("Carmen sees Bruno's flags: %v %v", res.AllSeqNums(), err)
	}
}

func equalUIDs(got []imap.UID, want ...imap.UID) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

func sameFlags(a, b []imap.Flag) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range b {
		if !hasFlag(a, f) {
			return false
		}
	}
	return true
}

func TestIMAPLogin(t *testing.T) {
	e := imapEnv(t, nil)
	pass := e.imapPassword(aliceAddr)

	c := e.imapDial(nil)
	wantIMAPRefused(t, "wrong password", c.Login(aliceAddr, pass+"x").Wait(), imap.ResponseCodeAuthenticationFailed)
	wantIMAPRefused(t, "unknown address", c.Login("nobody@example.org", pass).Wait(), imap.ResponseCodeAuthenticationFailed)
	if err := c.Authenticate(sasl.NewPlainClient("", aliceAddr, pass)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN: %v", err)
	}

	// An account without a current membership fails like a wrong password.
	dana := "dana@example.com"
	dp := e.imapPassword(dana)
	wantIMAPRefused(t, "no membership", e.imapDial(nil).Login(dana, dp).Wait(), imap.ResponseCodeAuthenticationFailed)
	e.secret(dana)
}

func TestIMAPLoginSlowedAfterFailures(t *testing.T) {
	e := imapEnv(t, nil)
	pass := e.imapPassword(aliceAddr)
	c := e.imapDial(nil)
	for i := 0; i < 10; i++ {
		wantIMAPRefused(t, "wrong password", c.Login(aliceAddr, "guess").Wait(), imap.ResponseCodeAuthenticationFailed)
	}
	// The 11th and 12th attempts from this IP take turns 2 s apart,
	// whatever the address and even with the right password.
	start := time.Now()
	wantIMAPRefused(t, "11th attempt", c.Login(carmenAddr, "guess").Wait(), imap.ResponseCodeAuthenticationFailed)
	if err := e.imapDial(nil).Login(aliceAddr, pass).Wait(); err != nil {
		t.Fatalf("right password after the failures: %v", err)
	}
	if d := time.Since(start); d < 1900*time.Millisecond {
		t.Fatalf("two attempts after 10 failures took %v, want them slowed (2 s apart)", d)
	}
}

func TestIMAPIsolation(t *testing.T) {
	e := imapEnv(t, nil)
	e.imapPosts(1)
	other := e.group(listserv.GroupSpec{Name: "grief", Admins: []string{aliceAddr}}, carmenAddr)
	pass := e.imapPassword(brunoAddr)
	c := e.imapLogin(brunoAddr, pass, nil)
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range boxes {
		if strings.HasPrefix(b.Mailbox, other.Name) {
			t.Fatalf("Bruno lists %s", b.Mailbox)
		}
	}
	for _, name := range []string{other.Name, other.Name + "/Held", testGroup + "/Held", "nosuchgroup"} {
		_, err := c.Select(name, nil).Wait()
		wantIMAPRefused(t, "SELECT "+name, err, imap.ResponseCodeNonExistent)
		_, err = c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait()
		wantIMAPRefused(t, "STATUS "+name, err, imap.ResponseCodeNonExistent)
	}
	// Alice administers grief: she sees it and its Held mailbox.
	a := e.imapLogin(aliceAddr, e.imapPassword(aliceAddr), nil)
	boxes, err = a.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range boxes {
		names = append(names, b.Mailbox)
	}
	if strings.Join(names, ",") != "INBOX,grief,grief/Held,"+testGroup {
		t.Fatalf("Alice's LIST: %v", names)
	}
	if sel, err := a.Select("grief/Held", nil).Wait(); err != nil || sel.NumMessages != 0 {
		t.Fatalf("SELECT grief/Held: %+v %v", sel, err)
	}
}

func TestIMAPRemovedMemberLosesAccess(t *testing.T) {
	e := imapEnv(t, nil)
	e.imapPosts(2)
	pass := e.imapPassword(brunoAddr)
	c := e.imapLogin(brunoAddr, pass, nil)
	if _, err := c.Select(testGroup, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Service.RemoveMember(context.Background(), testGroup, brunoAddr); err != nil {
		t.Fatal(err)
	}
	_, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect()
	wantIMAPRefused(t, "FETCH after removal", err, imap.ResponseCodeNoPerm)
	_, err = c.Search(&imap.SearchCriteria{}, nil).Wait()
	wantIMAPRefused(t, "SEARCH after removal", err, imap.ResponseCodeNoPerm)
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil || len(boxes) != 1 || boxes[0].Mailbox != "INBOX" {
		t.Fatalf("LIST after removal: %v %v", boxes, err)
	}
	_, err = c.Select(testGroup, nil).Wait()
	wantIMAPRefused(t, "SELECT after removal", err, imap.ResponseCodeNonExistent)
	// Without any membership the password no longer opens anything.
	wantIMAPRefused(t, "LOGIN after removal", e.imapDial(nil).Login(brunoAddr, pass).Wait(), imap.ResponseCodeAuthenticationFailed)
}

func TestIMAPReadOnly(t *testing.T) {
	e := imapEnv(t, nil)
	e.imapPosts(2)
	c := e.imapLogin(brunoAddr, e.imapPassword(brunoAddr), nil)
	if _, err := c.Select(testGroup, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	before := e.archiveCount(testGroup)
	msg := "Subject: x\r\n\r\nhello\r\n"
	app := c.Append(testGroup, int64(len(msg)), nil)
	app.Write([]byte(msg))
	app.Close()
	_, err := app.Wait()
	wantIMAPRefused(t, "APPEND", err, imap.ResponseCodeCannot)
	_, err = c.Copy(imap.SeqSetNum(1), "INBOX").Wait()
	wantIMAPRefused(t, "COPY", err, imap.ResponseCodeCannot)
	_, err = c.Move(imap.SeqSetNum(1), "INBOX").Wait()
	wantIMAPRefused(t, "MOVE", err, imap.ResponseCodeCannot)
	_, err = c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect()
	wantIMAPRefused(t, "STORE \\Deleted", err, imap.ResponseCodeCannot)
	wantIMAPRefused(t, "EXPUNGE", c.Expunge().Close(), imap.ResponseCodeCannot)
	wantIMAPRefused(t, "UID EXPUNGE", c.UIDExpunge(imap.UIDSetNum(1)).Close(), imap.ResponseCodeCannot)
	wantIMAPRefused(t, "CREATE", c.Create("mine", nil).Wait(), imap.ResponseCodeCannot)
	wantIMAPRefused(t, "DELETE", c.Delete(testGroup).Wait(), imap.ResponseCodeCannot)
	wantIMAPRefused(t, "RENAME", c.Rename(testGroup, "x", nil).Wait(), imap.ResponseCodeCannot)
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	// EXAMINE: STORE refused; CLOSE works and expunges nothing.
	if _, err := c.Select(testGroup, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Collect()
	wantIMAPRefused(t, "STORE after EXAMINE", err, imap.ResponseCodeCannot)
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Fatalf("CLOSE: %v", err)
	}
	if after := e.archiveCount(testGroup); after != before {
		t.Fatalf("archive went from %d to %d posts", before, after)
	}
	flags, _ := e.srv.Store.MemberFlags(testGroup, e.member(testGroup, brunoAddr).ID)
	if len(flags) != 0 {
		t.Fatalf("refused commands changed flags: %v", flags)
	}
	boxes, _ := c.List("", "*", nil).Collect()
	if len(boxes) != 2 {
		t.Fatalf("mailboxes after refused commands: %v", boxes)
	}
}

func TestIMAPIdleSeesNewPost(t *testing.T) {
	e := imapEnv(t, nil)
	e.imapPosts(1)
	exists := make(chan uint32, 8)
	c := e.imapLogin(brunoAddr, e.imapPassword(brunoAddr), &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		}},
	})
	if _, err := c.Select(testGroup, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let IDLE reach the server
	sent := time.Now()
	e.post(aliceAddr, simple(aliceName+" <"+aliceAddr+">", "Live", "live@example.org"))
	select {
	case n := <-exists:
		if n != 2 {
			t.Fatalf("EXISTS %d, want 2", n)
		}
		if d := time.Since(sent); d > time.Second {
			t.Fatalf("EXISTS came %v after the post", d)
		}
	case <-time.After(time.Second):
		t.Fatal("no EXISTS within a second of the post")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestIMAPTLS(t *testing.T) {
	certFile, keyFile := imapCert(t)
	e := imapEnv(t, func(c *config.Config) {
		c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile
		c.IMAP.TLSListen = "127.0.0.1:0"
	})
	pass := e.imapPassword(brunoAddr)
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pem)
	tlsConf := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	// With a certificate configured, no password travels in clear text,
	// not even on loopback.
	c := e.imapDial(nil)
	caps, err := c.Capability().Wait()
	if err != nil || !caps.Has(imap.CapStartTLS) || !caps.Has(imap.CapLoginDisabled) {
		t.Fatalf("plaintext CAPABILITY: %v %v", caps, err)
	}
	wantIMAPRefused(t, "plaintext LOGIN", c.Login(brunoAddr, pass).Wait(), imap.ResponseCodePrivacyRequired)

	st, err := imapclient.DialStartTLS(e.srv.IMAPAddr(), &imapclient.Options{TLSConfig: tlsConf})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Login(brunoAddr, pass).Wait(); err != nil {
		t.Fatalf("LOGIN after STARTTLS: %v", err)
	}
	if _, err := st.Select(testGroup, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	it, err := imapclient.DialTLS(e.srv.IMAPTLSAddr(), &imapclient.Options{TLSConfig: tlsConf})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if err := it.Login(brunoAddr, pass).Wait(); err != nil {
		t.Fatalf("LOGIN over implicit TLS: %v", err)
	}
}

func TestIMAPPlaintextLoginOnlyOnLoopback(t *testing.T) {
	// A non-loopback address of this machine, if it has one.
	addrs, _ := net.InterfaceAddrs()
	var ip net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			ip = n.IP
			break
		}
	}
	if ip == nil {
		t.Skip("no non-loopback IPv4 address on this machine")
	}
	e := imapEnv(t, func(c *config.Config) { c.IMAP.Listen = net.JoinHostPort(ip.String(), "0") })
	pass := e.imapPassword(brunoAddr)
	c := e.imapDial(nil)
	caps, err := c.Capability().Wait()
	if err != nil || !caps.Has(imap.CapLoginDisabled) || caps.Has(imap.CapStartTLS) {
		t.Fatalf("CAPABILITY from a non-loopback address without TLS: %v %v", caps, err)
	}
	wantIMAPRefused(t, "LOGIN", c.Login(brunoAddr, pass).Wait(), imap.ResponseCodePrivacyRequired)
}

// TestCloseRightAfterStart: a server closed at once after its start (as
// a test does when the start should have failed) stops, with and without
// IMAP: go-smtp's Shutdown used to miss a listener whose Serve had not
// begun, and imapserver's Close must not race its Serve.
func TestCloseRightAfterStart(t *testing.T) {
	for _, imapListen := range []string{"", "127.0.0.1:0"} {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.SMTP.Listen = "127.0.0.1:0"
		cfg.IMAP.Listen = imapListen
		cfg.Auth.PasswordCost = 4
		for i := 0; i < 10; i++ {
			srv, err := server.Start(cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { srv.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("imap %q: Close right after Start still running after 10s (round %d)", imapListen, i)
			}
		}
	}
}
