package server_test

// The submission port (SPEC §5): members post with their archive
// credentials, the From must be their own address, and no DMARC check is
// made (the tests run with sender_auth = "dmarc" over a resolver that
// knows no record, so that port 25 refuses the same posts).

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"listserv/internal/testcert"
	"listserv/listserv/config"
)

const stepAuth step = "AUTH"

// submissionEnv starts a server with the submission port on 127.0.0.1
// (and a certificate when cert is set), the fixture group, and Alice's
// archive password, which it returns.
func submissionEnv(t *testing.T, cert *testcert.Cert) (*env, string) {
	e := newEnv(t, setup{
		config: func(c *config.Config) {
			c.Auth.SenderAuth = "dmarc"
			c.SMTP.SubmissionListen = "127.0.0.1:0"
			if cert != nil {
				c.TLS.CertFile, c.TLS.KeyFile = cert.CertFile, cert.KeyFile
			}
		},
		resolver: &fakeDNS{txt: map[string][]string{}},
	})
	e.fixture()
	pass, err := e.srv.Service.ResetPassword(aliceAddr)
	if err != nil {
		t.Fatal(err)
	}
	e.secret(pass)
	return e, pass
}

// submitClient connects to the submission port, with STARTTLS when
// tlsConf is set, and says EHLO.
func (e *env) submitClient(tlsConf *tls.Config) *smtp.Client {
	e.t.Helper()
	var c *smtp.Client
	var err error
	if tlsConf != nil {
		c, err = smtp.DialStartTLS(e.srv.SubmissionAddr(), tlsConf)
	} else {
		c, err = smtp.Dial(e.srv.SubmissionAddr())
	}
	if err != nil {
		e.t.Fatalf("dial submission: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example.net"); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// submitOn authenticates with auth (unless nil) and sends one message to
// the group, reporting where it stopped.
func submitOn(c *smtp.Client, auth sasl.Client, mailFrom string, msg []byte) (step, error) {
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return stepAuth, err
		}
	}
	return transact(c, mailFrom, nil, []string{groupAddr}, msg)
}

func TestSubmission(t *testing.T) {
	e, pass := submissionEnv(t, nil)

	t.Run("port 25 refuses what submission takes", func(t *testing.T) {
		st, err := e.send(aliceAddr, []string{groupAddr}, simple(aliceName+" <"+aliceAddr+">", "Unproven", "p25@example.org"))
		wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
	})

	t.Run("correct credentials post", func(t *testing.T) {
		// The envelope sender may differ from the From; the address is
		// matched whatever its case.
		c := e.submitClient(nil)
		if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") || !strings.Contains(mechs, "LOGIN") {
			t.Fatalf("loopback without a certificate: AUTH %v %q, want PLAIN and LOGIN offered", ok, mechs)
		}
		msg := simple(aliceName+" <Alice@Example.ORG>", "Submitted", "sub1@example.org")
		if st, err := submitOn(c, sasl.NewPlainClient("", aliceAddr, pass), "bounces@mail.example.org", msg); st != stepOK {
			t.Fatalf("submission refused at %s: %v", st, err)
		}
		alias := e.member(testGroup, aliceAddr).Alias
		for _, d := range e.waitPosts("Submitted", 3) {
			if from := d.Header.Get("From"); !strings.Contains(from, alias) || strings.Contains(strings.ToLower(string(d.Data)), "alice@example.org") {
				t.Errorf("copy to %s: From %q, want the alias %q and no address", d.Rcpt, from, alias)
			}
		}
	})

	t.Run("AUTH LOGIN", func(t *testing.T) {
		c := e.submitClient(nil)
		msg := simple("<"+aliceAddr+">", "Login", "sub2@example.org")
		if st, err := submitOn(c, sasl.NewLoginClient(aliceAddr, pass), aliceAddr, msg); st != stepOK {
			t.Fatalf("submission refused at %s: %v", st, err)
		}
		e.waitPosts("Login", 3)
	})

	t.Run("wrong password", func(t *testing.T) {
		e.secret("not-the-password")
		for _, auth := range []sasl.Client{
			sasl.NewPlainClient("", aliceAddr, "not-the-password"),
			sasl.NewPlainClient("", "nobody@example.org", pass),
			sasl.NewLoginClient(aliceAddr, "not-the-password"),
		} {
			st, err := submitOn(e.submitClient(nil), auth, aliceAddr, simple(aliceAddr, "Wrong", "sub3@example.org"))
			wantRefused(t, st, err, stepAuth, 535, smtp.EnhancedCode{5, 7, 8})
		}
	})

	t.Run("another member's From", func(t *testing.T) {
		before := e.archiveCount(testGroup)
		msg := simple("Bruno <"+brunoAddr+">", "Impersonated", "sub4@example.org")
		st, err := submitOn(e.submitClient(nil), sasl.NewPlainClient("", aliceAddr, pass), aliceAddr, msg)
		wantRefused(t, st, err, stepEnd, 550, smtp.EnhancedCode{5, 7, 1})
		if n := e.archiveCount(testGroup); n != before {
			t.Errorf("archive went from %d to %d posts", before, n)
		}
		e.waitQueueEmpty()
		if got := e.posts("Impersonated"); len(got) != 0 {
			t.Errorf("%d copies of the impersonation delivered", len(got))
		}
	})

	t.Run("MAIL without AUTH", func(t *testing.T) {
		st, err := submitOn(e.submitClient(nil), nil, aliceAddr, simple(aliceAddr, "Anonymous", "sub5@example.org"))
		wantRefused(t, st, err, stepMail, 530, smtp.EnhancedCode{5, 7, 0})
	})
}

func TestSubmissionTLS(t *testing.T) {
	cert := testcert.New(t)
	e, pass := submissionEnv(t, &cert)

	t.Run("no AUTH on plaintext", func(t *testing.T) {
		c := e.submitClient(nil)
		if ok, _ := c.Extension("STARTTLS"); !ok {
			t.Error("STARTTLS is not offered")
		}
		if ok, mechs := c.Extension("AUTH"); ok {
			t.Errorf("AUTH %q offered on plaintext with a certificate configured", mechs)
		}
		st, err := submitOn(c, sasl.NewPlainClient("", aliceAddr, pass), aliceAddr, simple(aliceAddr, "Plain", "tls1@example.org"))
		wantRefused(t, st, err, stepAuth, 523, smtp.EnhancedCode{5, 7, 10})
	})

	t.Run("AUTH over STARTTLS", func(t *testing.T) {
		c := e.submitClient(&tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1"})
		if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") {
			t.Fatalf("AUTH %v %q after STARTTLS, want PLAIN", ok, mechs)
		}
		msg := simple(aliceName+" <"+aliceAddr+">", "Encrypted", "tls2@example.org")
		if st, err := submitOn(c, sasl.NewPlainClient("", aliceAddr, pass), aliceAddr, msg); st != stepOK {
			t.Fatalf("submission refused at %s: %v", st, err)
		}
		e.waitPosts("Encrypted", 3)
	})
}
