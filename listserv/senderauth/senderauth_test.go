package senderauth_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"listserv/listserv"
	"listserv/listserv/anon"
	"listserv/listserv/senderauth"
)

// fakeDNS is an offline resolver: records by lower-case name, and names
// whose every lookup fails temporarily.
type fakeDNS struct {
	txt  map[string][]string
	mx   map[string][]*net.MX
	ip   map[string][]net.IPAddr
	temp map[string]bool
}

func newFakeDNS() *fakeDNS {
	return &fakeDNS{txt: map[string][]string{}, mx: map[string][]*net.MX{}, ip: map[string][]net.IPAddr{}, temp: map[string]bool{}}
}

func (f *fakeDNS) fail(name string) error {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if f.temp[name] {
		return &net.DNSError{Err: "server failure", Name: name, IsTemporary: true}
	}
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func key(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

func (f *fakeDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := f.txt[key(name)]; ok && !f.temp[key(name)] {
		return v, nil
	}
	return nil, f.fail(name)
}

func (f *fakeDNS) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	if v, ok := f.mx[key(name)]; ok && !f.temp[key(name)] {
		return v, nil
	}
	return nil, f.fail(name)
}

func (f *fakeDNS) LookupIPAddr(_ context.Context, name string) ([]net.IPAddr, error) {
	if v, ok := f.ip[key(name)]; ok && !f.temp[key(name)] {
		return v, nil
	}
	return nil, f.fail(name)
}

func (f *fakeDNS) LookupAddr(_ context.Context, addr string) ([]string, error) {
	return nil, f.fail(addr)
}

// signer is a DKIM key of one domain whose public half f serves.
type signer struct {
	domain string
	key    ed25519.PrivateKey
}

func newSigner(t *testing.T, f *fakeDNS, domain string) *signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.txt["sel._domainkey."+domain] = []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}
	return &signer{domain: domain, key: priv}
}

func (s *signer) sign(t *testing.T, raw string) string {
	t.Helper()
	var b bytes.Buffer
	err := dkim.Sign(&b, strings.NewReader(raw), &dkim.SignOptions{Domain: s.domain, Selector: "sel", Signer: s.key})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func message(from string) string {
	return "From: Alice <" + from + ">\r\nTo: recovery@lists.example.net\r\nSubject: hello\r\n" +
		"Message-ID: <1@example.org>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nToday was hard.\r\n"
}

// check runs a Checker over f for raw sent from ip with envelope sender
// mailFrom, and returns the error's Kind (-1 for nil).
func check(t *testing.T, f *fakeDNS, raw, mailFrom, ip string) (listserv.Kind, error) {
	t.Helper()
	msg, err := anon.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	env := &listserv.Envelope{MailFrom: mailFrom, RemoteIP: net.ParseIP(ip)}
	err = senderauth.New(f).Check(context.Background(), env, []byte(raw), msg)
	if err == nil {
		return -1, nil
	}
	var le *listserv.Error
	if !errors.As(err, &le) {
		t.Fatalf("Check returned %T %v, want *listserv.Error", err, err)
	}
	for _, s := range []string{"alice", "example", "192.0.2"} {
		if strings.Contains(strings.ToLower(le.Error()), s) {
			t.Errorf("the error %q names %q", le.Error(), s)
		}
	}
	return le.Kind, err
}

const notAllowed, unavailable, accepted = listserv.NotAllowed, listserv.Unavailable, listserv.Kind(-1)

func TestDKIM(t *testing.T) {
	f := newFakeDNS()
	org := newSigner(t, f, "example.org")
	sub := newSigner(t, f, "mail.example.org")
	evil := newSigner(t, f, "evil.example")
	signed := org.sign(t, message("alice@example.org"))
	tests := []struct {
		name string
		raw  string
		want listserv.Kind
	}{
		{"signed by the From domain", signed, accepted},
		{"body changed after signing", strings.Replace(signed, "Today was hard.", "Send me money.", 1), notAllowed},
		{"From changed after signing", strings.Replace(signed, "alice@example.org>", "bob@example.org>", 1), notAllowed},
		{"signed by another domain", evil.sign(t, message("alice@example.org")), notAllowed},
		{"unsigned", message("alice@example.org"), notAllowed},
		{"subdomain signs for the organizational domain", sub.sign(t, message("alice@example.org")), accepted},
		{"organizational domain signs for a subdomain", org.sign(t, message("alice@mail.example.org")), accepted},
		{"a second From above the signed one", "From: victim@example.org\r\n" + org.sign(t, message("attacker@example.org")), notAllowed},
		{"two mailboxes in the From", org.sign(t, strings.Replace(message("alice@example.org"), "From: Alice <alice@example.org>", "From: alice@example.org, bob@example.org", 1)), notAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The envelope sender's domain has no SPF record: only DKIM counts.
			if got, err := check(t, f, tc.raw, "bounce@example.org", "192.0.2.1"); got != tc.want {
				t.Errorf("kind %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

func TestSPF(t *testing.T) {
	f := newFakeDNS()
	f.txt["example.org"] = []string{"some-verification=abc", "v=spf1 mx ip4:192.0.2.10 -all"}
	f.mx["example.org"] = []*net.MX{{Host: "mx.example.org.", Pref: 10}}
	f.ip["mx.example.org"] = []net.IPAddr{{IP: net.ParseIP("192.0.2.25")}}
	f.txt["soft.example"] = []string{"v=spf1 ip4:192.0.2.10 ~all"}
	f.txt["other.example"] = []string{"v=spf1 +all"}
	f.txt["bounces.example.org"] = []string{"v=spf1 ip4:198.51.100.7 -all"}
	f.txt["temp.example"] = []string{"v=spf1 -all"}
	f.temp["temp.example"] = true
	tests := []struct {
		name, from, mailFrom, ip string
		want                     listserv.Kind
	}{
		{"ip4 pass, same domain", "alice@example.org", "alice@example.org", "192.0.2.10", accepted},
		{"mx pass", "alice@example.org", "alice@example.org", "192.0.2.25", accepted},
		{"pass for an aligned subdomain", "alice@example.org", "b+x@bounces.example.org", "198.51.100.7", accepted},
		{"fail", "alice@example.org", "alice@example.org", "203.0.113.9", notAllowed},
		{"softfail", "alice@soft.example", "alice@soft.example", "203.0.113.9", notAllowed},
		{"pass for an unaligned envelope domain", "alice@example.org", "x@other.example", "203.0.113.9", notAllowed},
		{"no SPF record", "alice@nospf.example", "alice@nospf.example", "203.0.113.9", notAllowed},
		{"temporary DNS failure", "alice@temp.example", "alice@temp.example", "203.0.113.9", unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := check(t, f, message(tc.from), tc.mailFrom, tc.ip); got != tc.want {
				t.Errorf("kind %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

func TestTemporaryDKIMKey(t *testing.T) {
	f := newFakeDNS()
	raw := newSigner(t, f, "example.org").sign(t, message("alice@example.org"))
	f.temp["sel._domainkey.example.org"] = true
	if got, err := check(t, f, raw, "alice@example.org", "192.0.2.1"); got != unavailable {
		t.Errorf("kind %v (%v), want Unavailable", got, err)
	}
	// An unaligned signature whose key is unavailable does not delay a
	// message that fails anyway.
	f = newFakeDNS()
	raw = newSigner(t, f, "evil.example").sign(t, message("alice@example.org"))
	f.temp["sel._domainkey.evil.example"] = true
	if got, err := check(t, f, raw, "alice@example.org", "192.0.2.1"); got != notAllowed {
		t.Errorf("kind %v (%v), want NotAllowed", got, err)
	}
}

func TestResultLogText(t *testing.T) {
	f := newFakeDNS()
	f.txt["example.org"] = []string{"v=spf1 ~all"}
	raw := newSigner(t, f, "evil.example").sign(t, message("alice@example.org"))
	_, err := check(t, f, raw, "alice@example.org", "192.0.2.1")
	var le *listserv.Error
	if !errors.As(err, &le) || le.Err == nil || le.Err.Error() != "dkim=pass-unaligned spf=softfail aligned=false" {
		t.Errorf("log text %v, want dkim=pass-unaligned spf=softfail aligned=false", err)
	}
	if le.Public != senderauth.PublicFail {
		t.Errorf("public text %q", le.Public)
	}
}

func TestAligned(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"example.org", "example.org", true},
		{"Example.ORG.", "example.org", true},
		{"mail.example.org", "example.org", true},
		{"a.example.co.uk", "b.example.co.uk", true},
		{"example.co.uk", "other.co.uk", false},
		{"co.uk", "co.uk", true},
		{"evil.example", "example.org", false},
		{"example.org.evil.example", "example.org", false},
		{"", "", false},
		{"", "example.org", false},
	}
	for _, tc := range tests {
		if got := senderauth.Aligned(tc.a, tc.b); got != tc.want {
			t.Errorf("Aligned(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestStrictAlignment(t *testing.T) {
	f := newFakeDNS()
	sub := newSigner(t, f, "mail.example.org")
	org := newSigner(t, f, "example.org")
	f.txt["_dmarc.example.org"] = []string{"v=DMARC1; p=none; adkim=s; aspf=s"}
	f.txt["bounces.example.org"] = []string{"v=spf1 ip4:198.51.100.7 -all"}
	f.txt["relaxed.example"] = []string{"v=spf1 -all"}
	f.temp["_dmarc.relaxed.example"] = true
	subRelaxed := newSigner(t, f, "mail.relaxed.example")
	exactRelaxed := newSigner(t, f, "relaxed.example")
	tests := []struct {
		name, raw, mailFrom, ip string
		want                    listserv.Kind
	}{
		{"adkim=s refuses a subdomain's signature", sub.sign(t, message("alice@example.org")), "a@example.org", "192.0.2.1", notAllowed},
		{"adkim=s of the organizational domain applies to its subdomains", org.sign(t, message("alice@mail.example.org")), "a@example.org", "192.0.2.1", notAllowed},
		{"adkim=s takes the exact domain", org.sign(t, message("alice@example.org")), "a@example.org", "192.0.2.1", accepted},
		{"aspf=s refuses a subdomain's SPF pass", message("alice@example.org"), "b@bounces.example.org", "198.51.100.7", notAllowed},
		{"the record is unavailable for a relaxed pass", subRelaxed.sign(t, message("alice@relaxed.example")), "a@relaxed.example", "192.0.2.1", unavailable},
		{"an exact pass needs no record", exactRelaxed.sign(t, message("alice@relaxed.example")), "a@relaxed.example", "192.0.2.1", accepted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := check(t, f, tc.raw, tc.mailFrom, tc.ip); got != tc.want {
				t.Errorf("kind %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

func TestPNoneStillRequiresAlignment(t *testing.T) {
	f := newFakeDNS()
	f.txt["_dmarc.example.org"] = []string{"v=DMARC1; p=none"}
	f.txt["example.org"] = []string{"v=spf1 ~all"}
	raw := newSigner(t, f, "evil.example").sign(t, message("alice@example.org"))
	if got, err := check(t, f, raw, "alice@example.org", "192.0.2.1"); got != notAllowed {
		t.Errorf("kind %v (%v), want NotAllowed", got, err)
	}
}
