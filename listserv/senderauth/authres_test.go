package senderauth_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"listserv/listserv"
	"listserv/listserv/anon"
	"listserv/listserv/senderauth"
)

// checkLMTP runs a Checker that trusts the front MTA "mx.front.example"
// over raw as if it came over LMTP (lmtp) or port 25 from 192.0.2.1.
func checkLMTP(t *testing.T, f *fakeDNS, raw, mailFrom string, lmtp bool) (listserv.Kind, error) {
	t.Helper()
	msg, err := anon.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	env := &listserv.Envelope{MailFrom: mailFrom, RemoteIP: net.ParseIP("192.0.2.1"), LMTP: lmtp}
	c := senderauth.New(f)
	c.TrustedAuthservID = "mx.front.example"
	err = c.Check(context.Background(), env, []byte(raw), msg)
	if err == nil {
		return -1, nil
	}
	var le *listserv.Error
	if !errors.As(err, &le) {
		t.Fatalf("Check returned %T %v, want *listserv.Error", err, err)
	}
	return le.Kind, err
}

func TestTrustedAuthenticationResults(t *testing.T) {
	f := newFakeDNS()
	// SPF would pass for the client's address: over LMTP it is the front
	// MTA's, and must not count.
	f.txt["example.org"] = []string{"v=spf1 ip4:192.0.2.1 -all"}
	f.txt["_dmarc.strict.example"] = []string{"v=DMARC1; p=reject; adkim=s; aspf=s"}
	f.temp["_dmarc.flaky.example"] = true
	alice := newSigner(t, f, "example.org")
	plain := message("alice@example.org")
	with := func(fields ...string) string {
		s := ""
		for _, h := range fields {
			s += "Authentication-Results: " + h + "\r\n"
		}
		return s + plain
	}
	tests := []struct {
		name string
		raw  string
		lmtp bool
		want listserv.Kind
	}{
		{"LMTP: SPF is not judged", plain, true, notAllowed},
		{"port 25: SPF passes", plain, false, accepted},
		{"LMTP: our own DKIM check still counts", alice.sign(t, plain), true, accepted},
		{"dmarc=pass from the front MTA", with("mx.front.example; dmarc=pass header.from=example.org"), true, accepted},
		{"authserv-id is case-insensitive, comments and version ignored",
			with("MX.Front.Example 1; dmarc=pass (p=none dis=none)\r\n\theader.from=Example.ORG"), true, accepted},
		{"dkim=pass aligned (relaxed)", with("mx.front.example; dkim=pass header.d=mail.example.org header.s=s1"), true, accepted},
		{"dkim=pass by header.i", with("mx.front.example; dkim=pass header.i=@example.org"), true, accepted},
		{"spf=pass aligned", with("mx.front.example; spf=pass smtp.mailfrom=bounce@example.org"), true, accepted},
		{"several results, one aligned pass", with("mx.front.example; spf=fail smtp.mailfrom=x@evil.example; dkim = pass reason=\"good; sig\" header.d=example.org"), true, accepted},
		{"dmarc=pass for another domain", with("mx.front.example; dmarc=pass header.from=evil.example"), true, notAllowed},
		{"dkim=pass unaligned", with("mx.front.example; dkim=pass header.d=evil.example"), true, notAllowed},
		{"dmarc=fail", with("mx.front.example; dmarc=fail header.from=example.org"), true, notAllowed},
		{"another authserv-id", with("mx.other.example; dmarc=pass header.from=example.org"), true, notAllowed},
		{"a trusted field below the topmost one is ignored",
			with("mx.front.example; dmarc=fail header.from=example.org", "mx.front.example; dmarc=pass header.from=example.org"), true, notAllowed},
		{"a forged field below another MTA's is ignored",
			with("mx.other.example; none", "mx.front.example; dmarc=pass header.from=example.org"), true, notAllowed},
		{"no result", with("mx.front.example; none"), true, notAllowed},
		{"a longer authserv-id is another one", with("mx.front.example.evil; dmarc=pass header.from=example.org"), true, notAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := checkLMTP(t, f, tc.raw, "bounce@example.org", tc.lmtp); got != tc.want {
				t.Errorf("kind %v (%v), want %v", got, err, tc.want)
			}
		})
	}

	t.Run("port 25 with a failing SPF ignores the field", func(t *testing.T) {
		raw := "Authentication-Results: mx.front.example; dmarc=pass header.from=strict.example\r\n" + message("alice@strict.example")
		if got, err := checkLMTP(t, f, raw, "bounce@strict.example", false); got != notAllowed {
			t.Errorf("kind %v (%v), want NotAllowed", got, err)
		}
	})
	t.Run("strict alignment refuses a subdomain's dkim=pass", func(t *testing.T) {
		raw := "Authentication-Results: mx.front.example; dkim=pass header.d=mail.strict.example\r\n" + message("alice@strict.example")
		if got, err := checkLMTP(t, f, raw, "bounce@strict.example", true); got != notAllowed {
			t.Errorf("kind %v (%v), want NotAllowed", got, err)
		}
	})
	t.Run("the alignment mode cannot be read: try later", func(t *testing.T) {
		raw := "Authentication-Results: mx.front.example; dkim=pass header.d=mail.flaky.example\r\n" + message("alice@flaky.example")
		if got, err := checkLMTP(t, f, raw, "bounce@flaky.example", true); got != unavailable {
			t.Errorf("kind %v (%v), want Unavailable", got, err)
		}
	})
	t.Run("the log says what the field said", func(t *testing.T) {
		_, err := checkLMTP(t, f, with("mx.other.example; dmarc=pass header.from=example.org"), "bounce@example.org", true)
		if err == nil || !strings.Contains(err.Error(), "authres=untrusted") {
			t.Errorf("error %v does not say authres=untrusted", err)
		}
	})
}
