package htmlclean

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// signatureClasses are class tokens mail clients put on the signature
// block they insert: Gmail (gmail_signature, and gmail_signature_prefix on
// the "-- " before it), Thunderbird (moz-signature), Yahoo and several
// webmails (signature).
var signatureClasses = map[string]bool{
	"gmail_signature":        true,
	"gmail_signature_prefix": true,
	"moz-signature":          true,
	"signature":              true,
}

// signatureIDs are element ids used for the same purpose: Outlook
// (Signature, divRplySignature), Outlook mobile
// (ms-outlook-mobile-signature), Apple Mail on iOS (AppleMailSignature),
// Roundcube (_rc_sig).
var signatureIDs = map[string]bool{
	"Signature":                   true,
	"divRplySignature":            true,
	"ms-outlook-mobile-signature": true,
	"AppleMailSignature":          true,
	"_rc_sig":                     true,
}

// dropSignatures runs on the freshly parsed tree, before the policy, so
// that it sees the client's classes and ids.
func dropSignatures(doc *html.Node) {
	dropMarkedSignatures(doc)
	// Each cut removes its delimiter line, so this terminates.
	for {
		n, line := findDelimiter(doc)
		if n == nil {
			return
		}
		cutSignature(n, line)
	}
}

func dropMarkedSignatures(n *html.Node) {
	for ch := n.FirstChild; ch != nil; {
		next := ch.NextSibling
		if ch.Type == html.ElementNode && isSignatureElement(ch) {
			n.RemoveChild(ch)
		} else {
			dropMarkedSignatures(ch)
		}
		ch = next
	}
}

func isSignatureElement(n *html.Node) bool {
	for _, a := range n.Attr {
		if a.Namespace != "" {
			continue
		}
		switch a.Key {
		case "id":
			if signatureIDs[strings.TrimSpace(a.Val)] {
				return true
			}
		case "class":
			for _, c := range strings.Fields(a.Val) {
				if signatureClasses[c] {
					return true
				}
			}
		}
	}
	return false
}

// isDelimiter reports whether a line is the "-- " signature separator
// (RFC 3676 4.3); HTML editors often write its space as a no-break space.
func isDelimiter(line string) bool {
	line = strings.TrimSuffix(line, "\r")
	return line == "-- " || line == "--\u00a0"
}

// findDelimiter returns the first text node in document order that has a
// delimiter line, and the byte offset of that line.
func findDelimiter(n *html.Node) (*html.Node, int) {
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		switch ch.Type {
		case html.TextNode:
			off := 0
			for _, line := range strings.SplitAfter(ch.Data, "\n") {
				if isDelimiter(strings.TrimSuffix(line, "\n")) {
					return ch, off
				}
				off += len(line)
			}
		case html.ElementNode:
			switch ch.DataAtom {
			case atom.Script, atom.Style, atom.Template, atom.Head, atom.Title, atom.Textarea:
				continue
			}
			if t, off := findDelimiter(ch); t != nil {
				return t, off
			}
		}
	}
	return nil, 0
}

// hardContainers are never climbed out of: a signature inside a quote,
// a list item or a table cell ends there.
var hardContainers = map[atom.Atom]bool{
	atom.Body: true, atom.Html: true, atom.Blockquote: true,
	atom.Td: true, atom.Th: true, atom.Li: true,
}

// blockContainers delimit the "rest of the block" a signature runs to.
var blockContainers = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true,
	atom.Center: true, atom.Dd: true, atom.Details: true, atom.Div: true,
	atom.Dl: true, atom.Dt: true, atom.Fieldset: true,
	atom.Figure: true, atom.Footer: true, atom.Form: true,
	atom.Header: true, atom.Main: true, atom.Nav: true, atom.P: true,
	atom.Pre: true, atom.Section: true, atom.Table: true,
}

// cutSignature truncates text node t at its delimiter line and removes
// everything after it inside its nearest block container. When that
// leaves the container without visible content (the common "one <div>
// per line" editor output: <div>-- </div><div>Name</div>), the container
// goes too and the cut continues after it one level up, never leaving a
// blockquote, list item, table cell or the body.
func cutSignature(t *html.Node, off int) {
	t.Data = t.Data[:off]
	n := t
	for {
		container := n.Parent
		for container != nil && !(container.Type == html.ElementNode &&
			(blockContainers[container.DataAtom] || hardContainers[container.DataAtom])) {
			container = container.Parent
		}
		if container == nil {
			return
		}
		for cur := n; cur != nil && cur != container; cur = cur.Parent {
			for cur.NextSibling != nil {
				cur.Parent.RemoveChild(cur.NextSibling)
			}
		}
		if hardContainers[container.DataAtom] || hasContent(container) {
			return
		}
		n = container
	}
}

// hasContent reports whether n shows anything: non-space text or an image.
func hasContent(n *html.Node) bool {
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		switch ch.Type {
		case html.TextNode:
			if strings.TrimSpace(strings.ReplaceAll(ch.Data, "\u00a0", " ")) != "" {
				return true
			}
		case html.ElementNode:
			if ch.DataAtom == atom.Img || hasContent(ch) {
				return true
			}
		}
	}
	return false
}
