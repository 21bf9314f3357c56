package server_test

// Helpers of the IMAP archive tests (issue 3). They start with "imap" so
// that they cannot clash with the other tests of this package.

import (
	"listserv/internal/testcert"

	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"listserv/listserv/config"
)

// imapEnv starts a server with IMAP on 127.0.0.1:0 and the fixture group
// (Alice, Bruno, Carmen), with more configuration from cfg.
func imapEnv(t *testing.T, cfg func(*config.Config)) *env {
	t.Helper()
	e := newEnv(t, setup{config: func(c *config.Config) {
		c.IMAP.Listen = "127.0.0.1:0"
		c.Auth.PasswordCost = 4
		if cfg != nil {
			cfg(c)
		}
	}})
	e.fixture()
	return e
}

// imapPassword gives addr a fresh archive password (which the log must
// never show).
func (e *env) imapPassword(addr string) string {
	e.t.Helper()
	p, err := e.srv.Service.ResetPassword(addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.secret(p)
	return p
}

// imapDial connects an imapclient without logging in.
func (e *env) imapDial(opts *imapclient.Options) *imapclient.Client {
	e.t.Helper()
	c, err := imapclient.DialInsecure(e.srv.IMAPAddr(), opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// imapLogin connects and logs in as addr.
func (e *env) imapLogin(addr, pass string, opts *imapclient.Options) *imapclient.Client {
	e.t.Helper()
	c := e.imapDial(opts)
	if err := c.Login(addr, pass).Wait(); err != nil {
		e.t.Fatalf("LOGIN: %v", err)
	}
	return c
}

// imapPosts has Alice post n plain messages ("Post 1"...) over SMTP and
// waits until they are archived.
func (e *env) imapPosts(n int) {
	e.t.Helper()
	before := e.archiveCount(testGroup)
	for i := 1; i <= n; i++ {
		subject := fmt.Sprintf("Post %d", i)
		e.post(aliceAddr, simple(aliceName+" <"+aliceAddr+">", subject, fmt.Sprintf("p%d.%d@example.org", i, time.Now().UnixNano())))
	}
	if got := e.archiveCount(testGroup); got != before+n {
		e.t.Fatalf("archive holds %d posts, want %d", got, before+n)
	}
}

// imapCode returns the response code of a NO or BAD ("" for none).
func imapCode(err error) imap.ResponseCode {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie.Code
	}
	return ""
}

// wantIMAPRefused checks that err is a NO with the given code.
func wantIMAPRefused(t *testing.T, what string, err error, code imap.ResponseCode) {
	t.Helper()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo {
		t.Fatalf("%s: got %v, want NO [%s]", what, err, code)
	}
	if ie.Code != code {
		t.Fatalf("%s: got NO [%s] %s, want NO [%s]", what, ie.Code, ie.Text, code)
	}
}

// imapNeedTool finds an external client, or skips the test (fails it
// under CI=true, where .ci/run installs the tools).
func imapNeedTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (CI=true: .ci/run installs it)", name)
	}
	t.Skipf("%s is not installed; skipping (install it to run this test)", name)
	return ""
}

// imapCert writes a self-signed certificate for 127.0.0.1 and returns
// the cert and key paths.
func imapCert(t *testing.T) (certFile, keyFile string) {
	c := testcert.New(t)
	return c.CertFile, c.KeyFile
}
