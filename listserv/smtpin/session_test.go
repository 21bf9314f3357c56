package smtpin

import (
	"bytes"
	"errors"
	"testing"

	"github.com/emersion/go-smtp"

	"listserv/listserv"
)

func TestNormalizeCRLF(t *testing.T) {
	cases := map[string]string{
		"a\r\nb\r\n":       "a\r\nb\r\n",
		"a\nb\n":           "a\r\nb\r\n",
		"a\rb":             "a\r\nb",
		"a\n.\nMAIL FROM:": "a\r\n.\r\nMAIL FROM:",
		"\r\r\n\n":         "\r\n\r\n\r\n",
		"":                 "",
	}
	for in, want := range cases {
		if got := string(NormalizeCRLF([]byte(in))); got != want {
			t.Errorf("NormalizeCRLF(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzNormalizeCRLF(f *testing.F) {
	for _, s := range []string{"a\nb", "a\r\nb", "\r", "x\n.\n", "\r\n\r\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := NormalizeCRLF(in)
		// Every CR is followed by LF and every LF preceded by CR.
		for i, c := range out {
			if c == '\r' && (i+1 == len(out) || out[i+1] != '\n') || c == '\n' && (i == 0 || out[i-1] != '\r') {
				t.Fatalf("bare line ending at %d in %q", i, out)
			}
		}
		// Nothing but line endings changes.
		strip := func(b []byte) []byte {
			return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r"), nil), []byte("\n"), nil)
		}
		if !bytes.Equal(strip(in), strip(out)) {
			t.Fatalf("content changed: %q → %q", in, out)
		}
	})
}

// TestReply checks the one mapping from service errors to SMTP replies:
// each is an unwrapped *smtp.SMTPError (go-smtp type-asserts), and an
// untyped error is a temporary 451 that does not leak its text.
func TestReply(t *testing.T) {
	cases := []struct {
		err  error
		code int
		enh  smtp.EnhancedCode
	}{
		{&listserv.Error{Kind: listserv.NoSuchRecipient, Public: "x"}, 550, smtp.EnhancedCode{5, 1, 1}},
		{&listserv.Error{Kind: listserv.NotAllowed, Public: "x"}, 550, smtp.EnhancedCode{5, 7, 1}},
		{&listserv.Error{Kind: listserv.Malformed, Public: "x"}, 554, smtp.EnhancedCode{5, 6, 0}},
		{&listserv.Error{Kind: listserv.TooLarge, Public: "x"}, 552, smtp.EnhancedCode{5, 3, 4}},
		{&listserv.Error{Kind: listserv.RateLimited, Public: "x"}, 451, smtp.EnhancedCode{4, 7, 1}},
		{&listserv.Error{Kind: listserv.Unavailable, Public: "x"}, 451, smtp.EnhancedCode{4, 3, 0}},
		{errors.New("disk on fire at /var/secret"), 451, smtp.EnhancedCode{4, 3, 0}},
	}
	for _, c := range cases {
		got, ok := reply(c.err).(*smtp.SMTPError)
		if !ok || got.Code != c.code || got.EnhancedCode != c.enh {
			t.Errorf("reply(%v) = %#v, want %d %v", c.err, got, c.code, c.enh)
		}
		if bytes.Contains([]byte(got.Message), []byte("secret")) {
			t.Errorf("reply leaks the internal error: %q", got.Message)
		}
	}
	if reply(nil) != nil {
		t.Error("reply(nil) is not nil")
	}
}
