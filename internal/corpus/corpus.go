// Package corpus generates realistic archived posts, deterministically,
// for tests and benchmarks of the archive: the header an anonymized post
// carries (alias From, list fields, UTC Date, our Message-ID), and a mix
// of MIME shapes seen on real lists — plain UTF-8 text, quoted-printable
// Latin-1, multipart/alternative with HTML, base64 text, RFC 2047
// subjects, replies with threading fields, and attachments (base64
// binary). A 10,000-post archive is about 40 MB.
//
// Each post comes with what a test needs to compute expected search
// results without parsing the post: its author, subject, date and the
// decoded text of its body.
package corpus

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"
)

// Options say what to generate. Zero values are defaults.
type Options struct {
	Group  string // "recovery"
	Domain string // "lists.example.org"
	Seed   uint64
	// Authors is the number of distinct aliases (40).
	Authors int
	// Start is the first post's date (2024-01-01 UTC); posts are about
	// 100 minutes apart.
	Start time.Time
}

// Post is one generated post and what it says in plain terms.
type Post struct {
	Raw       []byte
	MessageID string // without brackets
	Date      time.Time
	Author    int    // index of the alias
	Alias     string // "Quiet Heron"
	Slug      string // "quiet-heron"
	Subject   string // decoded
	// Text is the decoded text of the body's text parts, as written.
	Text string
	Kind string // the MIME shape
	// InReplyTo is the cited Message-ID of a reply ("" for none).
	InReplyTo string
}

// Generator makes posts.
type Generator struct {
	opts  Options
	words []string
}

// New returns a generator.
func New(opts Options) *Generator {
	if opts.Group == "" {
		opts.Group = "recovery"
	}
	if opts.Domain == "" {
		opts.Domain = "lists.example.org"
	}
	if opts.Authors == 0 {
		opts.Authors = 40
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC)
	}
	return &Generator{opts: opts, words: vocabulary(opts.Seed)}
}

// Alias returns the display name and slug of author a.
func (g *Generator) Alias(a int) (name, slug string) {
	adj := adjectives[a%len(adjectives)]
	noun := nouns[(a/len(adjectives)+a*7)%len(nouns)]
	return adj + " " + noun, strings.ToLower(adj + "-" + noun)
}

// Post returns post number i (from 0); the same i always gives the same
// post.
func (g *Generator) Post(i int) Post {
	r := rand.New(rand.NewPCG(g.opts.Seed, uint64(i)*0x9e3779b97f4a7c15+1))
	p := Post{
		Author:    r.IntN(g.opts.Authors),
		Date:      g.opts.Start.Add(time.Duration(i)*100*time.Minute + time.Duration(r.IntN(3600))*time.Second),
		MessageID: fmt.Sprintf("%016x.%d@%s", r.Uint64(), i, g.opts.Domain),
	}
	p.Alias, p.Slug = g.Alias(p.Author)
	p.Subject = g.sentence(r, 3+r.IntN(5))
	p.Text = g.paragraphs(r, 1+r.IntN(6))
	var h bytes.Buffer
	g.header(&h, &p, r, i)
	body := g.body(&h, &p, r)
	p.Raw = append(h.Bytes(), body...)
	return p
}

func (g *Generator) header(h *bytes.Buffer, p *Post, r *rand.Rand, i int) {
	list := g.opts.Group + "@" + g.opts.Domain
	subject := p.Subject
	if r.IntN(10) == 0 {
		p.Subject = "Café, naïve: " + p.Subject
		subject = mime.QEncoding.Encode("utf-8", p.Subject)
	}
	fmt.Fprintf(h, "MIME-Version: 1.0\r\n")
	fmt.Fprintf(h, "From: \"%s\" <%s+%s@%s>\r\n", p.Alias, g.opts.Group, p.Slug, g.opts.Domain)
	fmt.Fprintf(h, "Reply-To: <%s>\r\nTo: <%s>\r\n", list, list)
	fmt.Fprintf(h, "Subject: %s\r\n", subject)
	fmt.Fprintf(h, "Date: %s\r\n", p.Date.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	fmt.Fprintf(h, "Message-ID: <%s>\r\n", p.MessageID)
	if i > 0 && r.IntN(3) == 0 {
		p.InReplyTo = fmt.Sprintf("%016x.%d@%s", r.Uint64(), r.IntN(i), g.opts.Domain)
		fmt.Fprintf(h, "In-Reply-To: <%s>\r\nReferences: <%s>\r\n", p.InReplyTo, p.InReplyTo)
	}
	fmt.Fprintf(h, "List-Id: <%s.%s>\r\n", g.opts.Group, g.opts.Domain)
	fmt.Fprintf(h, "List-Post: <mailto:%s>\r\n", list)
	fmt.Fprintf(h, "List-Unsubscribe: <mailto:%s-leave@%s>\r\n", g.opts.Group, g.opts.Domain)
	fmt.Fprintf(h, "Precedence: list\r\n")
}

// body writes the content header fields into h and returns the body.
func (g *Generator) body(h *bytes.Buffer, p *Post, r *rand.Rand) []byte {
	switch n := r.IntN(20); {
	case n < 10:
		p.Kind = "plain"
		h.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		return crlf(p.Text)
	case n < 12:
		p.Kind = "latin1-qp"
		p.Text = "Grüße aus Köln. " + p.Text
		h.WriteString("Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		return qp(latin1(p.Text))
	case n < 17:
		p.Kind = "alternative"
		b := g.boundary(r)
		fmt.Fprintf(h, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", b)
		var out bytes.Buffer
		fmt.Fprintf(&out, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", b)
		out.Write(qp([]byte(p.Text)))
		fmt.Fprintf(&out, "\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", b)
		out.Write(qp([]byte(htmlOf(p.Text))))
		fmt.Fprintf(&out, "\r\n--%s--\r\n", b)
		return out.Bytes()
	case n < 18:
		p.Kind = "base64"
		h.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		return b64([]byte(p.Text))
	default:
		p.Kind = "attachment"
		b := g.boundary(r)
		fmt.Fprintf(h, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", b)
		var out bytes.Buffer
		fmt.Fprintf(&out, "This is a multi-part message in MIME format.\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", b)
		out.Write(crlf(p.Text))
		att := make([]byte, 4000+r.IntN(20000))
		for i := range att {
			att[i] = byte(r.Uint32())
		}
		name, ctype := "scan.pdf", "application/pdf"
		if r.IntN(2) == 0 {
			name, ctype = "photo.jpg", "image/jpeg"
		}
		fmt.Fprintf(&out, "\r\n--%s\r\nContent-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", b, ctype, name, name)
		out.Write(b64(att))
		fmt.Fprintf(&out, "--%s--\r\n", b)
		return out.Bytes()
	}
}

func (g *Generator) boundary(r *rand.Rand) string {
	return fmt.Sprintf("=_%016x%08x", r.Uint64(), r.Uint32())
}

func (g *Generator) sentence(r *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = g.word(r)
	}
	s := strings.Join(w, " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// word draws a word with a Zipf-like bias towards the common ones.
func (g *Generator) word(r *rand.Rand) string {
	x := r.Float64()
	return g.words[int(x*x*x*float64(len(g.words)))]
}

func (g *Generator) paragraphs(r *rand.Rand, n int) string {
	var b strings.Builder
	for p := 0; p < n; p++ {
		var line strings.Builder
		for s := 0; s < 3+r.IntN(6); s++ {
			for _, w := range strings.Fields(g.sentence(r, 5+r.IntN(12)) + ".") {
				if line.Len()+len(w) > 72 {
					b.WriteString(line.String() + "\n")
					line.Reset()
				}
				if line.Len() > 0 {
					line.WriteByte(' ')
				}
				line.WriteString(w)
			}
		}
		b.WriteString(line.String() + "\n\n")
	}
	return b.String()
}

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func qp(b []byte) []byte {
	var out bytes.Buffer
	w := quotedprintable.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func b64(b []byte) []byte {
	s := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s + "\r\n")
	return out.Bytes()
}

func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 256 {
			b = append(b, byte(r))
		} else {
			b = append(b, '?')
		}
	}
	return b
}

func htmlOf(text string) string {
	var b strings.Builder
	b.WriteString("<html><head><style>p { margin: 0 }</style></head><body>")
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		b.WriteString("<p>" + strings.ReplaceAll(para, "\n", "<br>\n") + "</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}
