package config

import (
	"strings"
	"testing"
)

func TestTLSSettings(t *testing.T) {
	for text, wantErr := range map[string]string{
		"[tls]\ncert_file = \"c.pem\"\n":           "tls.cert_file and tls.key_file",
		"[imap]\ntls_listen = \"127.0.0.1:993\"\n": "imap.tls_listen needs",
	} {
		_, err := Load(write(t, text))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: error %v, want one mentioning %q", text, err, wantErr)
		}
	}
	if _, err := Load(write(t, "[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n[imap]\ntls_listen = \":993\"\n")); err != nil {
		t.Errorf("a complete TLS setting: %v", err)
	}
}
