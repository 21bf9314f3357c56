package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedAndOverrides(t *testing.T) {
	dir := t.TempDir()
	data := map[string]any{"Group": "recovery", "Alias": "Quiet Heron", "AliasAddress": "a", "PostAddress": "p",
		"OwnerAddress": "o", "LeaveAddress": "l", "RequestAddress": "r", "IMAPHost": "h", "IMAPPort": "143", "Password": "pw"}
	s := New(dir)
	subj, body, err := s.Render("recovery", "welcome", data)
	if err != nil || subj != "Welcome to recovery" || !strings.Contains(body, "Quiet Heron") {
		t.Fatalf("embedded: %q %q %v", subj, body, err)
	}
	os.WriteFile(filepath.Join(dir, "welcome.tmpl"), []byte(`{{define "subject"}}Hi {{.Group}}{{end}}site-wide`), 0o600)
	os.MkdirAll(filepath.Join(dir, "grief"), 0o700)
	os.WriteFile(filepath.Join(dir, "grief", "welcome.tmpl"), []byte(`{{define "subject"}}Hello
  there{{end}}for grief`), 0o600)
	if subj, body, _ := s.Render("recovery", "welcome", data); subj != "Hi recovery" || body != "site-wide" {
		t.Fatalf("deployment override: %q %q", subj, body)
	}
	// A subject is one line whatever the template does.
	if subj, body, _ := s.Render("grief", "welcome", data); subj != "Hello there" || body != "for grief" {
		t.Fatalf("group override: %q %q", subj, body)
	}
	os.WriteFile(filepath.Join(dir, "welcome.tmpl"), []byte(`{{define "subject"}}x{{end}}{{.Missing}}`), 0o600)
	if _, _, err := s.Render("recovery", "welcome", data); err == nil {
		t.Fatal("a template naming a missing value rendered")
	}
	if _, _, err := s.Render("recovery", "no-such-template", data); err == nil {
		t.Fatal("a missing template rendered")
	}
}

func TestEveryEmbeddedTemplateHasASubject(t *testing.T) {
	for _, n := range Names() {
		b, err := embedded.ReadFile(n + ".tmpl")
		if err != nil || !strings.Contains(string(b), `{{define "subject"}}`) {
			t.Errorf("%s: no subject (%v)", n, err)
		}
	}
	if len(Names()) < 10 {
		t.Fatalf("only %d templates embedded", len(Names()))
	}
}
