package senderauth

import "testing"

// A backslash that is itself escaped ends a quoted string's escape: a
// result cannot be smuggled out of a sender-controlled quoted value.
func TestAuthResultsQuotedBackslash(t *testing.T) {
	v := `mx.front.example; spf=pass smtp.mailfrom="x\\"@evil.example smtp.helo="\"; dmarc=pass header.from=victim.example; y=\""`
	_, rs, ok := parseAuthResults(v)
	if !ok {
		t.Fatal("not parsed")
	}
	for _, r := range rs {
		if r.method == "dmarc" {
			t.Errorf("a result injected from inside a quoted value: %+v", r)
		}
	}
}
