package htmlclean

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Text renders HTML (typically Clean's output) as readable plain text for a
// generated text/plain alternative. Block elements become line breaks
// (paragraph-like ones a blank line), blockquote lines are prefixed with
// "> ", list items with "- " (indented two spaces per nesting level),
// links become "text <url>" when the URL is http(s) or mailto and differs
// from the text, images become "[alt]". Head, script, style and other
// non-content elements are skipped, whitespace is collapsed outside <pre>,
// no-break spaces become plain spaces, trailing spaces are trimmed, at most
// one blank line appears in a row and lines are joined with "\n" (no final
// newline; the caller converts to CRLF).
func Text(src []byte) string {
	doc, err := html.ParseWithOptions(bytes.NewReader(src), html.ParseOptionEnableScripting(false))
	if err != nil {
		return ""
	}
	var w textWriter
	w.node(doc)
	w.endLine()
	return w.result()
}

// Break strengths requested by block boundaries.
const (
	lineBreak      = 1
	paragraphBreak = 2
)

var paragraphElements = map[atom.Atom]bool{
	atom.P: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true,
	atom.H5: true, atom.H6: true, atom.Blockquote: true, atom.Pre: true,
	atom.Table: true, atom.Dl: true, atom.Hr: true, atom.Figure: true,
	atom.Address: true, atom.Listing: true, atom.Xmp: true, atom.Plaintext: true,
}

var lineElements = map[atom.Atom]bool{
	atom.Article: true, atom.Aside: true, atom.Caption: true,
	atom.Center: true, atom.Dd: true, atom.Details: true, atom.Dialog: true,
	atom.Div: true, atom.Dt: true, atom.Fieldset: true,
	atom.Figcaption: true, atom.Footer: true, atom.Form: true,
	atom.Header: true, atom.Hgroup: true, atom.Legend: true, atom.Li: true,
	atom.Main: true, atom.Nav: true, atom.Section: true, atom.Summary: true,
	atom.Tr: true, atom.Tbody: true, atom.Thead: true, atom.Tfoot: true,
	atom.Search: true, atom.Body: true,
}

var skippedElements = map[atom.Atom]bool{
	atom.Head: true, atom.Script: true, atom.Style: true, atom.Template: true,
	atom.Title: true, atom.Iframe: true, atom.Object: true, atom.Svg: true,
	atom.Math: true, atom.Noembed: true, atom.Noframes: true,
	atom.Select: true, atom.Textarea: true, atom.Button: true,
	atom.Audio: true, atom.Video: true, atom.Canvas: true,
}

type textWriter struct {
	lines     []string
	line      strings.Builder
	started   bool // the current line exists (its prefix is written)
	content   bool // the current line has content after its prefix
	space     bool // a collapsible space is pending
	brk       int  // pending break strength
	quote     int  // blockquote depth
	lineQuote int  // quote depth of the current line
	lastQuote int  // quote depth of the last finished line
	bullet    string
	lists     int // list nesting depth
	pre       int // inside <pre>
}

func (w *textWriter) node(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		return
	case html.DocumentNode:
		w.children(n)
		return
	case html.ElementNode:
	default:
		return
	}
	if n.Namespace != "" || skippedElements[n.DataAtom] {
		return
	}
	switch n.DataAtom {
	case atom.Br:
		w.hardBreak()
		return
	case atom.Img:
		if alt, _ := firstAttr(n, "alt"); strings.TrimSpace(alt) != "" {
			w.word("[" + collapse(alt) + "]")
		}
		return
	case atom.Td, atom.Th:
		w.space = true
		w.children(n)
		w.space = true
		return
	case atom.A:
		w.link(n)
		return
	case atom.Ul, atom.Ol, atom.Menu, atom.Dir:
		strength := lineBreak
		if w.lists == 0 {
			strength = paragraphBreak
		}
		w.breakLine(strength)
		w.lists++
		w.children(n)
		w.lists--
		w.breakLine(strength)
		return
	case atom.Li:
		w.breakLine(lineBreak)
		indent := 0
		if w.lists > 1 {
			indent = 2 * (w.lists - 1)
		}
		w.bullet = strings.Repeat(" ", indent) + "- "
		w.children(n)
		w.bullet = ""
		w.breakLine(lineBreak)
		return
	case atom.Hr:
		w.breakLine(paragraphBreak)
		w.word("---")
		w.breakLine(paragraphBreak)
		return
	}
	strength := 0
	if paragraphElements[n.DataAtom] {
		strength = paragraphBreak
	} else if lineElements[n.DataAtom] {
		strength = lineBreak
	}
	if strength > 0 {
		w.breakLine(strength)
	}
	switch n.DataAtom {
	case atom.Blockquote:
		w.quote++
		defer func() { w.quote-- }()
	case atom.Pre, atom.Listing, atom.Xmp, atom.Plaintext:
		w.pre++
		defer func() { w.pre-- }()
	}
	w.children(n)
	if strength > 0 {
		w.breakLine(strength)
	}
}

func (w *textWriter) children(n *html.Node) {
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		w.node(ch)
	}
}

// link writes the link text and, when it says something the text does
// not, the target in angle brackets.
func (w *textWriter) link(n *html.Node) {
	w.children(n)
	href, _ := firstAttr(n, "href")
	href = strings.TrimSpace(href)
	l := strings.ToLower(href)
	if !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "mailto:") {
		return
	}
	text := collapse(textContent(n))
	if text == href || (strings.HasPrefix(l, "mailto:") && text == href[len("mailto:"):]) {
		return
	}
	if text != "" {
		w.space = true
	}
	w.word("<" + href + ">")
}

func textContent(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			if ch.Type == html.TextNode {
				b.WriteString(ch.Data)
			} else if ch.Type == html.ElementNode && !skippedElements[ch.DataAtom] {
				walk(ch)
			}
		}
	}
	walk(n)
	return b.String()
}

// collapse turns runs of HTML whitespace (and no-break spaces) into one
// space and trims the ends.
func collapse(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return isHTMLSpace(r) || r == '\u00a0'
	}), " ")
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r'
}

func (w *textWriter) breakLine(n int) {
	if n > w.brk {
		w.brk = n
	}
	w.space = false
}

// begin applies a pending break and starts a line if none is started.
func (w *textWriter) begin() {
	if w.brk > 0 {
		if w.started {
			w.endLine()
		}
		if w.brk == paragraphBreak && len(w.lines) > 0 {
			w.lines = append(w.lines, strings.TrimRight(quotePrefix(min(w.quote, w.lastQuote)), " "))
		}
		w.brk = 0
	}
	if !w.started {
		w.line.WriteString(quotePrefix(w.quote))
		w.lineQuote = w.quote
		w.line.WriteString(w.bullet)
		w.bullet = ""
		w.started = true
		w.content = false
		w.space = false
	}
}

func quotePrefix(depth int) string { return strings.Repeat("> ", depth) }

func (w *textWriter) endLine() {
	if !w.started {
		return
	}
	w.lines = append(w.lines, w.line.String())
	w.line.Reset()
	w.started = false
	w.lastQuote = w.lineQuote
}

// hardBreak ends the current line, producing an empty one if needed
// (<br><br> is a blank line).
func (w *textWriter) hardBreak() {
	w.begin()
	w.endLine()
	w.space = false
}

// word writes s as an inline unit, preceded by a pending space.
func (w *textWriter) word(s string) {
	w.begin()
	if w.space && w.content {
		w.line.WriteByte(' ')
	}
	w.space = false
	w.line.WriteString(s)
	w.content = true
}

func (w *textWriter) text(s string) {
	s = strings.ReplaceAll(s, "\u00a0", " ")
	if w.pre > 0 {
		for i, part := range strings.Split(s, "\n") {
			if i > 0 {
				w.hardBreak()
			}
			if part != "" {
				w.begin()
				w.line.WriteString(strings.TrimSuffix(part, "\r"))
				w.content = true
			}
		}
		return
	}
	start := -1
	for i, r := range s {
		if isHTMLSpace(r) {
			if start >= 0 {
				w.word(s[start:i])
				start = -1
			}
			w.space = true
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		w.word(s[start:])
	}
}

// result trims trailing spaces, squeezes blank lines (a line of only
// quote markers counts as blank) and drops leading and trailing ones.
func (w *textWriter) result() string {
	out := make([]string, 0, len(w.lines))
	for _, l := range w.lines {
		l = strings.TrimRight(l, " \t")
		if isBlank(l) && len(out) > 0 && isBlank(out[len(out)-1]) {
			if len(l) < len(out[len(out)-1]) {
				out[len(out)-1] = l
			}
			continue
		}
		out = append(out, l)
	}
	for len(out) > 0 && isBlank(out[0]) {
		out = out[1:]
	}
	for len(out) > 0 && isBlank(out[len(out)-1]) {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}

func isBlank(l string) bool { return strings.Trim(l, "> ") == "" }
