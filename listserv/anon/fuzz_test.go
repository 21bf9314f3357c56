package anon

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"listserv/internal/mailcheck"
)

// FuzzAnonymize feeds arbitrary bytes to Parse and Anonymize. Neither may
// panic; Parse fails only with ErrMalformed; Anonymize fails only with
// ErrMalformed (the Params are valid); every output passes checkOutput:
// CRLF only, parses again, only allowlisted fields, each once, the fresh
// fields exactly as expected, and our own copy is seen as a loop.
func FuzzAnonymize(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "in", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// The corpus seeds carry declared secrets: when the fuzzer runs a
	// seed as it is, its copy must hold none of them.
	secrets := map[string][]string{}
	for _, c := range mailcheck.Load(f, corpusDir) {
		f.Add(c.Raw)
		secrets[string(c.Raw)] = c.Secrets
	}
	f.Add([]byte("\r\n"))
	f.Add([]byte("From: a@b\r\nSubject: =?utf-8?q?a=0D=0AB:_c?=\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nA\r\n--x--\r\n"))
	f.Add([]byte("From: Jane Doe <jane@b>\r\nContent-Type: text/plain\r\n\r\nJane Doe jane@b\r\n-- \r\nJane\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := fuzzOne(t, raw)
		for _, s := range secrets[string(raw)] {
			if out != nil && strings.Contains(strings.ToLower(mailcheck.DecodedText(t, out)), strings.ToLower(s)) {
				t.Fatalf("secret %q survived", s)
			}
		}
		// Most mutations break a line ending and stop at Parse: try the
		// input again as a caller that normalizes would pass it.
		if n := fuzzNormalize(raw); !bytes.Equal(n, raw) {
			fuzzOne(t, n)
		}
	})
}

// fuzzNormalize turns bare CR and LF into CRLF and drops NUL bytes.
func fuzzNormalize(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte{0}, nil)
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// fuzzOne checks one input; see FuzzAnonymize. It returns the public
// copy, nil when the input was refused.
func fuzzOne(t *testing.T, raw []byte) []byte {
	m, err := Parse(raw)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("Parse error %v is not ErrMalformed", err)
		}
		return nil
	}
	m.Robot(ListID("recovery", "lists.example.org"))
	var public []byte
	for _, private := range []bool{false, true} {
		p := corpusParams("fuzz")
		if private {
			p.Private = true
			p.PrivateTo = Address{Addr: "recovery+gentle-otter@lists.example.org", Name: "Gentle Otter"}
		}
		out, err := Anonymize(m, p)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Anonymize error %v is not ErrMalformed", err)
			}
			continue
		}
		checkOutput(t, out, p)
		if !private {
			public = out
		}
	}
	return public
}
