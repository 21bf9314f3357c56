package anon

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/out/*.eml from the current output")

// testDate is 09:26:53 in UTC+1: the copy must say 08:26:53 +0000.
var testDate = time.Date(2025, 3, 14, 9, 26, 53, 0, time.FixedZone("CET", 3600))

// testRefs is the store's Message-ID map as the tests see it.
var testRefs = map[string]string{
	"8c1f6e2a-3b7d-4f0e-9a51-2d6c0e7b9f13@posteo.example":               "golden-01-thunderbird@lists.example.org",
	"CAF+pQ3mT8xZ1vN5kR2wL9yB4cD7eF0gH3iJ6kL9mN2oP5qR8s@mail.gmail.com": "golden-03-gmail@lists.example.org",
}

// testMapRef keeps our own IDs, maps known originals, drops the rest.
func testMapRef(id string) (string, bool) {
	if strings.HasSuffix(strings.ToLower(id), "@lists.example.org") {
		return id, true
	}
	mapped, ok := testRefs[id]
	return mapped, ok
}

// testParams returns the Params used for the golden file name (without
// extension). Names containing "private" get a private message.
func testParams(name string) Params {
	p := Params{
		Group:     "recovery",
		Domain:    "lists.example.org",
		Hostname:  "lists.example.org",
		AliasName: "Quiet Heron",
		AliasSlug: "quiet-heron",
		MessageID: "golden-" + name + "@lists.example.org",
		Date:      testDate,
		MapRef:    testMapRef,
	}
	if strings.Contains(name, "private") {
		p.Private = true
		p.PrivateTo = Address{Addr: "recovery+gentle-otter@lists.example.org", Name: "Gentle Otter"}
	}
	return p
}

type golden struct {
	name string // file name without .eml
	in   []byte
}

func goldenInputs(t testing.TB) []golden {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "in", "*.eml"))
	if err != nil || len(paths) < 8 {
		t.Fatalf("want at least 8 golden inputs, got %d (%v)", len(paths), err)
	}
	var gs []golden
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, golden{strings.TrimSuffix(filepath.Base(p), ".eml"), b})
	}
	return gs
}

// anonymizeGolden parses and anonymizes one golden input.
func anonymizeGolden(t *testing.T, g golden) (*Message, []byte) {
	t.Helper()
	m, err := Parse(g.in)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	out, err := Anonymize(m, testParams(g.name))
	if err != nil {
		t.Fatalf("Anonymize: %v", err)
	}
	return m, out
}

func TestGolden(t *testing.T) {
	for _, g := range goldenInputs(t) {
		t.Run(g.name, func(t *testing.T) {
			_, out := anonymizeGolden(t, g)
			path := filepath.Join("testdata", "out", g.name+".eml")
			if *update {
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("output differs from %s (run go test -update and review the diff)\n--- got:\n%s", path, out)
			}
			checkOutput(t, out, testParams(g.name))
		})
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
