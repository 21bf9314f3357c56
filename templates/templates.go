// Package templates owns the texts of every message listserv writes on its
// own behalf (welcome, confirmations, notices, the footer). Each is a Go
// text/template file, NAME.tmpl, embedded in the binary; an operator
// overrides one for the whole deployment by putting a file of the same
// name in the override directory, or for one group in a subdirectory named
// after the group. A file defines its subject with
// {{define "subject"}}...{{end}}; the rest is the plain-text body.
//
// Rendering yields text only: the caller writes headers, encoding the
// subject, so a value can never add a header line.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

//go:embed *.tmpl
var embedded embed.FS

// Set finds and renders templates.
type Set struct {
	dir string // override directory; "" for the embedded texts only
}

// New returns a Set that looks in dir (may be "" or missing) before the
// embedded texts.
func New(dir string) *Set { return &Set{dir: dir} }

// Names lists the embedded templates' names (without .tmpl).
func Names() []string {
	ents, _ := fs.ReadDir(embedded, ".")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".tmpl"))
	}
	return out
}

// Render executes template name for group with data and returns the
// subject (one line) and body.
func (s *Set) Render(group, name string, data any) (subject, body string, err error) {
	src, err := s.source(group, name)
	if err != nil {
		return "", "", err
	}
	t, err := template.New(name).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return "", "", fmt.Errorf("template %s: %w", name, err)
	}
	var sb, bb bytes.Buffer
	if t.Lookup("subject") == nil {
		return "", "", fmt.Errorf("template %s: no subject defined", name)
	}
	if err := t.ExecuteTemplate(&sb, "subject", data); err != nil {
		return "", "", fmt.Errorf("template %s: %w", name, err)
	}
	if err := t.Execute(&bb, data); err != nil {
		return "", "", fmt.Errorf("template %s: %w", name, err)
	}
	subject = strings.Join(strings.Fields(sb.String()), " ")
	return subject, strings.TrimLeft(bb.String(), "\n"), nil
}

func (s *Set) source(group, name string) ([]byte, error) {
	file := name + ".tmpl"
	if s.dir != "" {
		paths := []string{filepath.Join(s.dir, file)}
		if group != "" {
			paths = append([]string{filepath.Join(s.dir, group, file)}, paths...)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err == nil {
				return b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
	}
	return embedded.ReadFile(file)
}
