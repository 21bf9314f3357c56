package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestExampleMatchesDefaults keeps deploy/listserv.toml true: it lists
// every key with the value serve uses without a file.
func TestExampleMatchesDefaults(t *testing.T) {
	got, err := Load(filepath.Join("..", "..", "deploy", "listserv.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Fatalf("deploy/listserv.toml differs from the defaults:\n got %+v\nwant %+v", got, want)
	}
	b, _ := os.ReadFile(filepath.Join("..", "..", "deploy", "listserv.toml"))
	for _, key := range tomlKeys(reflect.TypeOf(Config{}), "") {
		if !strings.Contains(string(b), key) {
			t.Errorf("deploy/listserv.toml does not document %s", key)
		}
	}
}

func tomlKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration{}) {
			out = append(out, "["+tag+"]")
			out = append(out, tomlKeys(f.Type, tag+".")...)
			continue
		}
		out = append(out, tag+" ")
	}
	return out
}

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	c, err := Load(write(t, "domain = \"Lists.Example.ORG\"\n[delivery]\nretry_initial = \"30s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Domain != "lists.example.org" || c.Delivery.RetryInitial.Duration != 30*time.Second || c.SMTP.Listen != "127.0.0.1:2525" {
		t.Fatalf("loaded %+v", c)
	}
	for text, wantErr := range map[string]string{
		"domian = \"x\"\n":                         "unknown key domian",
		"[smtp]\nlisten_addr = \"x\"\n":            "unknown key smtp.listen_addr",
		"[delivery]\ntransport = \"pigeon\"\n":     "delivery.transport",
		"[delivery]\ntransport = \"smarthost\"\n":  "delivery.smarthost is required",
		"domain = \"a b\"\n":                       "not a mail domain",
		"[delivery]\nretry_initial = \"soon\"\n":   "soon",
		"[auth]\nsender_auth = \"trust-me\"\n":     "sender_auth",
		"domain = 5\n":                             "domain",
		"[smtp]\nmax_connections_per_ip = 0\n":     "smtp.max_connections_per_ip",
		"[smtp]\nmax_errors_per_connection = -1\n": "smtp.max_errors_per_connection",
	} {
		_, err := Load(write(t, text))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: error %v, want one mentioning %q", text, err, wantErr)
		}
	}
}
