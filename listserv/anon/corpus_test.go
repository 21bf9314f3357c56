package anon

import (
	"bufio"
	"bytes"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"listserv/internal/mailcheck"
)

// The corpus (testdata/corpus, see its README) holds posts written in the
// style of real mail clients, each with the secrets it must lose and the
// text it must keep. These tests run each through Parse and Anonymize;
// listserv/server's corpus test sends the same files over SMTP.

const corpusDir = "testdata/corpus"

// corpusParams are the Params of a corpus message: the golden ones plus
// the corpus's members.
func corpusParams(name string) Params {
	p := testParams("corpus-" + name)
	p.Member = func(addr string) (Address, bool) {
		a, ok := mailcheck.Members[strings.ToLower(addr)]
		return Address{Name: a.Name, Addr: p.Group + "+" + a.Slug + "@" + p.Domain}, ok
	}
	return p
}

// TestCorpus anonymizes every corpus message and checks it against its
// golden output (testdata/corpus/out, -update rewrites them) and its
// declarations: no secret anywhere, members' aliases in place, kept text
// present, the original's text and attachments carried over.
func TestCorpus(t *testing.T) {
	for _, c := range mailcheck.Load(t, corpusDir) {
		t.Run(c.Name, func(t *testing.T) {
			m, err := Parse(c.Raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out, err := Anonymize(m, corpusParams(c.Name))
			if err != nil {
				t.Fatalf("Anonymize: %v", err)
			}
			path := filepath.Join(corpusDir, "out", c.Name+".eml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if want := mustRead(t, path); !bytes.Equal(out, want) {
				t.Errorf("output differs from %s (run go test -update and review the diff)", path)
			}
			checkOutput(t, out, corpusParams(c.Name))
			mailcheck.Check(t, c, out, func(real string) (string, string) {
				a := mailcheck.Members[strings.ToLower(real)]
				return a.Name, "recovery+" + a.Slug + "@lists.example.org"
			})
			checkRoundTrip(t, c.Raw, out, c.Secrets)
		})
	}
}

// leaf is a decoded non-multipart part.
type leaf struct {
	mediaType, filename string
	body                []byte
}

func leaves(t testing.TB, raw []byte) []leaf {
	var ls []leaf
	first := true
	mailcheck.Walk(t, raw, func(h message.Header, body []byte) {
		if first { // the message header alone
			first = false
			return
		}
		mt, _, _ := h.ContentType()
		if mt == "" {
			mt = "text/plain"
		}
		_, params, _ := h.ContentDisposition()
		ls = append(ls, leaf{mt, params["filename"], body})
	})
	return ls
}

// checkRoundTrip checks that the copy says what the original said:
//
//   - every line of the original's text/plain parts that holds no secret
//     and is not one the scrubber removes or rewrites (the signature block,
//     mobile footers, attribution lines) is a line of the copy's plain
//     text;
//   - every attachment comes through with the same bytes, except images,
//     whose pixels must be the same (only metadata was removed).
func checkRoundTrip(t testing.TB, orig, out []byte, secrets []string) {
	t.Helper()
	ol, cl := leaves(t, orig), leaves(t, out)
	var copyText strings.Builder
	for _, l := range cl {
		if l.mediaType == "text/plain" {
			copyText.WriteString(normalizeEOL(string(l.body)) + "\r\n")
		}
	}
	copyLines := map[string]bool{}
	for _, line := range strings.Split(copyText.String(), "\r\n") {
		copyLines[strings.TrimRight(line, " ")] = true
	}
	for _, l := range ol {
		switch {
		case l.mediaType == "text/plain":
			text := string(dropSignature([]byte(normalizeEOL(string(l.body)))))
			for _, line := range strings.Split(text, "\r\n") {
				line = strings.TrimRight(line, " ")
				if line == "" || isFooter(line) || strings.Contains(line, "@") || strings.HasSuffix(line, ":") ||
					hasSecret(line, secrets) {
					continue
				}
				if !copyLines[line] {
					t.Errorf("line of the original's text lost: %q", line)
				}
			}
		case strings.HasPrefix(l.mediaType, "text/") || strings.HasPrefix(l.mediaType, "multipart/") || strings.HasPrefix(l.mediaType, "message/"):
		default:
			checkAttachment(t, l, cl)
		}
	}
}

func hasSecret(line string, secrets []string) bool {
	low := strings.ToLower(line)
	for _, s := range secrets {
		if strings.Contains(low, strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// checkAttachment finds the original attachment l in the copy's parts by
// media type and content.
func checkAttachment(t testing.TB, l leaf, copies []leaf) {
	t.Helper()
	for _, c := range copies {
		if c.mediaType != l.mediaType {
			continue
		}
		if bytes.Equal(c.body, l.body) {
			return
		}
		if samePixels(l.body, c.body) {
			if len(c.body) > len(l.body)+64 {
				t.Errorf("%s %q grew when its metadata was removed", l.mediaType, l.filename)
			}
			return
		}
	}
	t.Errorf("attachment %s %q not carried over intact", l.mediaType, l.filename)
}

// samePixels reports whether a and b decode to the same image.
func samePixels(a, b []byte) bool {
	ia, _, err1 := image.Decode(bytes.NewReader(a))
	ib, _, err2 := image.Decode(bytes.NewReader(b))
	if err1 != nil || err2 != nil || ia.Bounds() != ib.Bounds() {
		return false
	}
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if ia.At(x, y) != ib.At(x, y) {
				return false
			}
		}
	}
	return true
}

// TestCorpusStructure checks the MIME rewrite on the corpus: every
// boundary and Content-ID of the copy is new, every cid: reference of the
// copy's HTML points at a part of the copy, and an HTML part always has a
// plain text alternative.
func TestCorpusStructure(t *testing.T) {
	for _, c := range mailcheck.Load(t, corpusDir) {
		t.Run(c.Name, func(t *testing.T) {
			m, err := Parse(c.Raw)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Anonymize(m, corpusParams(c.Name))
			if err != nil {
				t.Fatal(err)
			}
			origIDs := partIDs(t, c.Raw)
			copyIDs := partIDs(t, out)
			for id := range copyIDs {
				if origIDs[id] {
					t.Errorf("boundary or Content-ID %q kept from the original", id)
				}
			}
			ls := leaves(t, out)
			html, plain := false, false
			for _, l := range ls {
				switch l.mediaType {
				case "text/html":
					html = true
					for _, ref := range cidRefs(string(l.body)) {
						if !copyIDs[ref] {
							t.Errorf("cid:%s points at no part of the copy", ref)
						}
					}
				case "text/plain":
					plain = true
				}
			}
			if html && !plain {
				t.Errorf("HTML without a plain text alternative")
			}
		})
	}
}

// partIDs returns the boundaries and Content-IDs of raw's parts.
func partIDs(t testing.TB, raw []byte) map[string]bool {
	ids := map[string]bool{}
	var walk func(h textproto.Header, body []byte, depth int)
	walk = func(h textproto.Header, body []byte, depth int) {
		if cid := msgIDs(h.Get("Content-Id")); len(cid) > 0 {
			ids[cid[0]] = true
		}
		mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
		if err != nil || !strings.HasPrefix(mt, "multipart/") || depth > maxDepth {
			return
		}
		ids[params["boundary"]] = true
		for _, p := range splitMultipart(body, params["boundary"]) {
			ph, pb, err := splitPart(p)
			if err == nil {
				walk(ph, pb, depth+1)
			}
		}
	}
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw[:i+4])))
	if err != nil {
		t.Fatal(err)
	}
	walk(h, raw[i+4:], 0)
	return ids
}

// cidRefs returns the Content-IDs that "cid:" URLs of html name.
func cidRefs(html string) []string {
	var refs []string
	for {
		i := strings.Index(html, `"cid:`)
		if i < 0 {
			return refs
		}
		html = html[i+5:]
		j := strings.IndexByte(html, '"')
		if j < 0 {
			return refs
		}
		refs = append(refs, html[:j])
	}
}
