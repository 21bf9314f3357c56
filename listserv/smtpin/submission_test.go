package smtpin

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func smtpCode(t *testing.T, err error) int {
	t.Helper()
	se, ok := err.(*smtp.SMTPError) // go-smtp type-asserts: no wrapping
	if !ok {
		t.Fatalf("error %v (%T) is not an unwrapped *smtp.SMTPError", err, err)
	}
	return se.Code
}

// TestSubmissionAuthAllowed checks where AUTH is offered: over TLS, or in
// plaintext from loopback only when no certificate is configured; never
// on port 25.
func TestSubmissionAuthAllowed(t *testing.T) {
	loop, remote := net.ParseIP("127.0.0.1"), net.ParseIP("192.0.2.7")
	noCert := New(Options{Submission: true})
	withCert := New(Options{Submission: true, TLS: &tls.Config{}})
	port25 := New(Options{})
	cases := []struct {
		name  string
		srv   *Server
		ip    net.IP
		tls   bool
		allow bool
	}{
		{"loopback, no certificate", noCert, loop, false, true},
		{"remote plaintext, no certificate", noCert, remote, false, false},
		{"loopback plaintext, certificate", withCert, loop, false, false},
		{"remote plaintext, certificate", withCert, remote, false, false},
		{"remote over TLS", withCert, remote, true, true},
		{"port 25", port25, loop, true, false},
	}
	for _, c := range cases {
		s := &session{srv: c.srv, ip: c.ip, tls: c.tls, id: "t"}
		mechs := s.AuthMechanisms()
		if got := slices.Contains(mechs, "PLAIN") && slices.Contains(mechs, "LOGIN"); got != c.allow {
			t.Errorf("%s: AUTH mechanisms %v, want offered=%v", c.name, mechs, c.allow)
		}
		_, err := s.Auth("PLAIN")
		if c.allow && err != nil {
			t.Errorf("%s: Auth: %v", c.name, err)
		}
		if !c.allow && err == nil {
			t.Errorf("%s: Auth allowed", c.name)
		}
		if !c.allow && c.srv.opts.Submission && smtpCode(t, err) != 523 {
			t.Errorf("%s: Auth refused with %v, want 523", c.name, err)
		}
	}
	s := &session{srv: noCert, ip: loop, id: "t"}
	if code := smtpCode(t, s.Mail("a@example.org", nil)); code != 530 {
		t.Errorf("MAIL without AUTH: %d, want 530", code)
	}
}

// TestSubmissionLimiter checks that failed AUTH attempts are slowed (past
// LoginFailures, one attempt per LoginDelay), then refused with a 4xx
// when the wait would pass LoginMaxWait, per address and per client IP.
func TestSubmissionLimiter(t *testing.T) {
	fx := sharedFuzzFixture(t)
	srv := New(Options{Service: fx.svc, Submission: true, LoginFailures: 2, LoginDelay: time.Hour, LoginMaxWait: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ip := func(s string) *session { return &session{srv: srv, ip: net.ParseIP(s), id: "t"} }
	for i := 0; i < 3; i++ { // the third takes the first slowed turn
		if code := smtpCode(t, ip("192.0.2.1").login(fuzzMember, "wrong")); code != 535 {
			t.Fatalf("failure %d: %d, want 535", i+1, code)
		}
	}
	if code := smtpCode(t, ip("192.0.2.2").login(fuzzMember, "wrong")); code != 454 {
		t.Errorf("same address, other IP: %d, want 454", code)
	}
	if code := smtpCode(t, ip("192.0.2.1").login("other@example.org", "wrong")); code != 454 {
		t.Errorf("same IP, other address: %d, want 454", code)
	}
	if code := smtpCode(t, ip("192.0.2.3").login("other@example.org", "wrong")); code != 535 {
		t.Errorf("fresh IP and address: %d, want 535", code)
	}
}

func TestLoginServer(t *testing.T) {
	var gotUser, gotPass string
	l := &loginServer{check: func(u, p string) error { gotUser, gotPass = u, p; return nil }}
	if ch, done, err := l.Next(nil); string(ch) != "Username:" || done || err != nil {
		t.Fatalf("first step: %q %v %v", ch, done, err)
	}
	if ch, done, err := l.Next([]byte("a@example.org")); string(ch) != "Password:" || done || err != nil {
		t.Fatalf("second step: %q %v %v", ch, done, err)
	}
	if _, done, err := l.Next([]byte("pw")); !done || err != nil || gotUser != "a@example.org" || gotPass != "pw" {
		t.Fatalf("last step: %v %v, checked %q %q", done, err, gotUser, gotPass)
	}
	// With the username as initial response.
	l = &loginServer{check: func(u, p string) error { gotUser = u; return nil }}
	if ch, _, _ := l.Next([]byte("b@example.org")); string(ch) != "Password:" {
		t.Fatalf("initial response: challenge %q", ch)
	}
	if _, done, err := l.Next([]byte("pw")); !done || err != nil || gotUser != "b@example.org" {
		t.Fatalf("initial response: %v %v %q", done, err, gotUser)
	}
}
