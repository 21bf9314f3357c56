package htmlclean

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Sign-offs without a marked signature (Options.SignOff): a line the
// caller recognizes as the author signing (their name), that starts a
// block or follows a blank line or a line ending in a comma, followed by
// at most maxSigLines short lines and then a blank line, a quotation or
// the end of the document, is a signature: the lines after the name go
// (title, employer, phone); the name stays for Options.Text to rewrite.
// A line is what a reader sees as one: text between <br>s and block
// boundaries.
const (
	maxSigLines   = 6
	maxSigLineLen = 100
)

// line is one visual line of the document.
type line struct {
	nodes      []*html.Node // its text nodes and the <br> that ends it
	text       strings.Builder
	blockStart bool // it is the first line of a block element
	quote      bool // a quotation: no signature runs into it
}

func (l *line) blank() bool {
	return strings.TrimSpace(strings.ReplaceAll(l.text.String(), "\u00a0", " ")) == ""
}

type lineSplitter struct {
	lines      []*line
	cur        *line
	startBlock bool
}

func (s *lineSplitter) current() *line {
	if s.cur == nil {
		s.cur = &line{blockStart: s.startBlock}
		s.startBlock = false
	}
	return s.cur
}

// end closes the current line; force records a blank line too (a <br>
// on its own is a blank line, a block boundary is not).
func (s *lineSplitter) end(force bool) {
	if s.cur == nil && force {
		s.current()
	}
	if s.cur != nil {
		s.lines = append(s.lines, s.cur)
		s.cur = nil
	}
}

func (s *lineSplitter) walk(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch {
		case c.Type == html.TextNode:
			if s.cur == nil && strings.Trim(c.Data, " \t\r\n\f") == "" {
				continue // white space between blocks is not shown
			}
			l := s.current()
			l.nodes = append(l.nodes, c)
			l.text.WriteString(c.Data)
		case c.Type != html.ElementNode:
		case c.DataAtom == atom.Br:
			l := s.current()
			l.nodes = append(l.nodes, c)
			s.end(true)
		case c.DataAtom == atom.Blockquote:
			s.end(false)
			s.lines = append(s.lines, &line{quote: true})
		case blockElement(c.DataAtom):
			s.end(false)
			s.startBlock = true
			s.walk(c)
			s.end(false)
			s.startBlock = true
		default:
			s.walk(c)
		}
	}
}

func blockElement(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Li, atom.Ul, atom.Ol, atom.Dl, atom.Dt, atom.Dd,
		atom.Table, atom.Tbody, atom.Thead, atom.Tfoot, atom.Tr, atom.Td, atom.Th,
		atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Pre, atom.Hr,
		atom.Section, atom.Article, atom.Header, atom.Footer, atom.Address, atom.Center, atom.Body:
		return true
	}
	return false
}

// dropSignOffs removes the lines after each sign-off signOff recognizes.
func dropSignOffs(doc *html.Node, signOff func(string) bool) {
	s := &lineSplitter{}
	s.walk(doc)
	s.end(false)
	ls := s.lines
	for i := 0; i < len(ls); i++ {
		l := ls[i]
		if l.quote || !signOff(strings.TrimSpace(strings.ReplaceAll(l.text.String(), "\u00a0", " "))) {
			continue
		}
		if i > 0 && !l.blockStart && !ls[i-1].blank() && !strings.HasSuffix(strings.TrimSpace(ls[i-1].text.String()), ",") {
			continue
		}
		j := i + 1
		for j < len(ls) && j-i <= maxSigLines && !ls[j].quote && !ls[j].blank() && len(ls[j].text.String()) <= maxSigLineLen {
			j++
		}
		if j == i+1 || j-i > maxSigLines || j < len(ls) && !ls[j].quote && !ls[j].blank() {
			continue
		}
		for _, gone := range ls[i+1 : j] {
			for _, n := range gone.nodes {
				if n.Parent != nil {
					n.Parent.RemoveChild(n)
				}
			}
		}
		i = j - 1
	}
}
