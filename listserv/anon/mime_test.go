package anon

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-message"

	"listserv/internal/mailcheck"
)

// anonymizeString runs Parse and Anonymize on a message written with LF
// line ends.
func anonymizeString(t *testing.T, raw string) ([]byte, error) {
	t.Helper()
	m, err := Parse([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	p := testParams("mime")
	out, err := Anonymize(m, p)
	if err == nil {
		checkOutput(t, out, p)
	}
	return out, err
}

// partTypes lists the media types of out's leaves, read by go-message.
func partTypes(t *testing.T, out []byte) []string {
	var types []string
	first := true
	mailcheck.Walk(t, out, func(h message.Header, _ []byte) {
		if first {
			first = false
			return
		}
		mt, _, _ := h.ContentType()
		types = append(types, mt)
	})
	return types
}

func TestHTMLOnlyGetsPlainAlternative(t *testing.T) {
	out, err := anonymizeString(t, "From: Jane Doe <jane@example.com>\nContent-Type: text/html; charset=utf-8\n\n"+
		"<p>Hello, I am Jane Doe.</p><img src=\"https://t.example/p.gif\" width=1 height=1>\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(partTypes(t, out), " "); got != "text/plain text/html" {
		t.Fatalf("parts = %s, want a plain alternative first", got)
	}
	text := mailcheck.DecodedText(t, out)
	if !strings.Contains(text, "hello, i am quiet heron.") || strings.Contains(text, "t.example") || strings.Contains(text, "jane") {
		t.Errorf("copy:\n%s", out)
	}
}

func TestSignedContentLosesSignature(t *testing.T) {
	out, err := anonymizeString(t, `From: a@b.example
Content-Type: multipart/signed; protocol="application/pgp-signature"; micalg=pgp-sha256; boundary=sig

--sig
Content-Type: text/plain

Signed words.
--sig
Content-Type: application/pgp-signature

-----BEGIN PGP SIGNATURE-----
iQEzBAEBCAAdFiEEsecretkeyid
-----END PGP SIGNATURE-----
--sig--
`)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("secretkeyid")) || !bytes.Contains(out, []byte("Signed words.")) {
		t.Errorf("copy:\n%s", out)
	}
}

func TestIdentifyingPartsBecomeNotes(t *testing.T) {
	out, err := anonymizeString(t, `From: a@b.example
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

My card is attached.
--b
Content-Type: text/vcard; name=card.vcf

BEGIN:VCARD
FN:Ann Secretname
TEL:+44 7700 900999
END:VCARD
--b
Content-Type: application/pgp-keys

-----BEGIN PGP PUBLIC KEY BLOCK-----
mQINBsecretkey
-----END PGP PUBLIC KEY BLOCK-----
--b--
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Secretname", "900999", "secretkey", "card.vcf"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("%q survived:\n%s", s, out)
		}
	}
	for _, s := range []string{"A contact card was removed", "An OpenPGP key was removed", "My card is attached."} {
		if !bytes.Contains(out, []byte(s)) {
			t.Errorf("%q missing:\n%s", s, out)
		}
	}
}

func TestUnanonymizableRefused(t *testing.T) {
	for name, ct := range map[string]string{
		"s/mime":   "application/pkcs7-mime; smime-type=signed-data; name=smime.p7m",
		"tnef":     "application/ms-tnef; name=winmail.dat",
		"external": "message/external-body; access-type=URL; URL=\"http://x.example/\"",
		"pgp/mime": "multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=e",
	} {
		_, err := anonymizeString(t, "From: a@b.example\nContent-Type: "+ct+"\n\nAAAA\n")
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	// A broken JPEG cannot lose its metadata: refused, not relayed.
	_, err := anonymizeString(t, "From: a@b.example\nContent-Type: image/jpeg\nContent-Transfer-Encoding: base64\n\n/9j/4QAQRXhpZgAA\n")
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("broken JPEG: err = %v, want ErrMalformed", err)
	}
}

func TestAttachedMessageRewritten(t *testing.T) {
	out, err := anonymizeString(t, `From: Jane Doe <jane@example.com>
Content-Type: multipart/mixed; boundary=m

--m
Content-Type: text/plain

Forwarding what I sent my sister.
--m
Content-Type: message/rfc822

From: Jane Doe <jane@example.com>
To: Sis <sister@family.example>
Received: from janes-pc.example.com
X-Mailer: Something 1.0
Subject: how I feel
Date: Mon, 23 Nov 2026 21:14:00 +0100

Dear sis, it is Jane. Reach me at jane@example.com.
--m--
`)
	if err != nil {
		t.Fatal(err)
	}
	text := mailcheck.DecodedText(t, out)
	for _, s := range []string{"jane", "janes-pc", "x-mailer", "received"} {
		if strings.Contains(text, s) {
			t.Errorf("%q survived:\n%s", s, out)
		}
	}
	if !strings.Contains(text, "dear sis, it is quiet heron.") || !strings.Contains(text, "subject: how i feel") {
		t.Errorf("attached message lost its content:\n%s", out)
	}
}

func TestMIMELimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@b.example\nContent-Type: multipart/mixed; boundary=b0\n\n")
	for i := 1; i <= maxDepth+2; i++ {
		fmt.Fprintf(&b, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\n\ndeep\n", maxDepth+2)
	if _, err := anonymizeString(t, b.String()); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d levels: err = %v, want ErrMalformed", maxDepth+2, err)
	}
	var many strings.Builder
	many.WriteString("From: a@b.example\nContent-Type: multipart/mixed; boundary=b\n\n")
	for i := 0; i < maxParts+1; i++ {
		many.WriteString("--b\n\nx\n")
	}
	many.WriteString("--b--\n")
	if _, err := anonymizeString(t, many.String()); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d parts: err = %v, want ErrMalformed", maxParts+1, err)
	}
}

func TestBase64TextDecodedAndScrubbed(t *testing.T) {
	// "I am Jane Doe\n" with a bare LF, as some clients encode it.
	out, err := anonymizeString(t, "From: Jane Doe <jane@example.com>\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nSSBhbSBKYW5lIERvZQo=\n")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("\r\n\r\nI am Quiet Heron\r\n")) {
		t.Errorf("copy:\n%q", out)
	}
}

func TestPreviewText(t *testing.T) {
	out, err := anonymizeString(t, "From: Jane Doe <jane@example.com>\nContent-Type: text/html; charset=utf-8\n\n<p>Caf\u00e9 tonight, I am Jane.</p>\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := PreviewText(out); !strings.Contains(got, "Café tonight, I am Quiet Heron.") {
		t.Errorf("PreviewText = %q", got)
	}
	if got := PreviewText([]byte("no header")); got != "" {
		t.Errorf("PreviewText(junk) = %q", got)
	}
}

// Attached messages nested in attached messages are bounded like parts.
func TestNestedMessagesLimited(t *testing.T) {
	raw := "From: a@b.example\n" + strings.Repeat("Content-Type: message/rfc822\n\n", maxDepth+5) + "x\n"
	if _, err := anonymizeString(t, raw); !errors.Is(err, ErrMalformed) {
		t.Errorf("err = %v, want ErrMalformed", err)
	}
	// A few levels are fine.
	raw = "From: a@b.example\n" + strings.Repeat("Content-Type: message/rfc822\n\n", 3) + "Subject: inner\n\nx\n"
	if _, err := anonymizeString(t, raw); err != nil {
		t.Errorf("3 levels: %v", err)
	}
}

func TestReason(t *testing.T) {
	_, err := anonymizeString(t, "From: a@b.example\nContent-Type: application/ms-tnef\n\nAAAA\n")
	if r := Reason(err); !strings.HasPrefix(r, "Outlook rich text (winmail.dat) cannot be anonymized") {
		t.Errorf("Reason = %q", r)
	}
	if r := Reason(errors.New("disk full")); r != "" {
		t.Errorf("Reason of a store error = %q", r)
	}
}

// An attached message in base64 (against RFC 2046, but sent) and a
// delivery report are read and scrubbed, never carried as opaque bytes.
func TestEncodedAttachedMessageAndReports(t *testing.T) {
	inner := "From: Jane Doe <jane@example.com>\r\nReceived: from janes-pc.example.com\r\nSubject: hi\r\n\r\nIt is Jane.\r\n"
	enc := base64.StdEncoding.EncodeToString([]byte(inner))
	out, err := anonymizeString(t, "From: Jane Doe <jane@example.com>\nContent-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"+enc+
		"\n--m\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\nFinal-Recipient: rfc822; jane@example.com\nAction: failed\n--m--\n")
	if err != nil {
		t.Fatal(err)
	}
	text := mailcheck.DecodedText(t, out)
	for _, s := range []string{"jane", "janes-pc", "received"} {
		if strings.Contains(text, s) {
			t.Errorf("%q survived:\n%s", s, out)
		}
	}
	if !strings.Contains(text, "it is quiet heron.") || !strings.Contains(text, "final-recipient: rfc822; recovery+quiet-heron@lists.example.org") {
		t.Errorf("content lost:\n%s", out)
	}
}

// The header of an attached message names people by alias, keeps
// strangers' addresses whole, and gives its Date in UTC.
func TestAttachedMessageHeader(t *testing.T) {
	p := testParams("fwd")
	p.Member = testScrubber().member
	raw := "From: Jane Doe <jane.doe@example.com>\r\nContent-Type: message/rfc822\r\n\r\n" +
		"From: \"Doe, Jane\" <jane.doe@example.com>\r\nTo: Bob <bob@example.net>, \"Dr Ahmed\" <ahmed@clinic.example>\r\n" +
		"Date: Mon, 23 Nov 2026 21:14:00 -0800\r\nSubject: for Jane\r\n\r\nhello\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Anonymize(m, p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		`From: "Quiet Heron" <recovery+quiet-heron@lists.example.org>`,
		`To: "Gentle Otter" <recovery+gentle-otter@lists.example.org>,` + "\r\n" + ` "Dr Ahmed" <ahmed@clinic.example>`,
		"Date: Tue, 24 Nov 2026 05:14:00 +0000",
		"Subject: for Quiet Heron",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	if strings.Contains(s, "-0800") || strings.Contains(strings.ToLower(s), "jane") {
		t.Errorf("zone or author left:\n%s", s)
	}
}

// SVG can load from the network when shown inline: it travels as a
// plain attachment, its bytes unchanged.
func TestSVGBecomesAttachment(t *testing.T) {
	svg := `<svg xmlns="http://www.w3.org/2000/svg"><image href="http://evil.example/t.png"/></svg>`
	out, err := anonymizeString(t, "From: a@b.example\nContent-Type: image/svg+xml; name=map.svg\n\n"+svg+"\n")
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.Contains(s, "Content-Type: application/octet-stream; name=map.svg") || !strings.Contains(s, "Content-Disposition: attachment; filename=map.svg") {
		t.Errorf("SVG not turned into an attachment:\n%s", s)
	}
	if !strings.Contains(s, svg) {
		t.Errorf("SVG bytes changed:\n%s", s)
	}
}
