package htmlclean

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"listserv/listserv/anon/imgmeta"
)

// Options tunes Clean. The zero value removes every cid: image, rewrites no
// text and keeps signatures.
type Options struct {
	// CID maps a Content-ID referenced by a "cid:" URL (the part after
	// "cid:", percent-decoded, without angle brackets) to the new
	// Content-ID to write; ok=false means the reference is unknown and the
	// image is treated like a remote resource (removed). nil: every cid:
	// reference is unknown.
	CID func(old string) (newID string, ok bool)
	// Text, when not nil, rewrites text: applied to every text node's data
	// (style text excepted) and to the values of the kept attributes that
	// carry human text or addresses: href (mailto: included), title, alt,
	// abbr and summary. It receives and returns plain (unescaped) UTF-8.
	Text func(string) string
	// DropSignature removes the author's signature block; see the package
	// documentation for the exact rules.
	DropSignature bool
	// SignOff, when not nil, recognizes a line (trimmed text) where the
	// author signs with their name; the short block of lines after it is
	// removed as an unmarked signature (see signoff.go). It sees the text
	// before Text rewrites it.
	SignOff func(line string) bool
}

// maxPasses bounds the normalisation passes Clean runs on its own output;
// see Clean.
const maxPasses = 3

// Clean parses src (UTF-8 HTML; a fragment or a whole document) and returns
// a sanitized UTF-8 HTML document. It never fails: the HTML5 parser recovers
// from any input.
//
// The first pass applies the policy and o. html.Render does not promise that
// re-parsing its output gives back the same tree (the parse of src may be in
// quirks mode, the output is in standards mode; some trees are not
// reproducible by the parser), and a reader's client sees the re-parse, not
// our tree. So Clean re-parses and re-cleans its own output (with the
// options' side effects disabled) until it is a fixed point, at most
// maxPasses times. This makes the output what a client will parse.
func Clean(src []byte, o Options) []byte {
	out := cleanOnce(src, o, true)
	norm := Options{CID: keepCID}
	for i := 0; i < maxPasses; i++ {
		next := cleanOnce(out, norm, false)
		if bytes.Equal(next, out) {
			break
		}
		out = next
	}
	return out
}

// keepCID accepts every cid: reference. It is only used on Clean's own
// output, where every cid: left was already approved and rewritten by the
// caller's Options.CID.
func keepCID(id string) (string, bool) { return id, true }

func cleanOnce(src []byte, o Options, first bool) []byte {
	doc, err := html.ParseWithOptions(bytes.NewReader(src), html.ParseOptionEnableScripting(false))
	if err != nil {
		// The parser rejects markup nested deeper than 512 elements
		// (bytes.Reader has no read errors). Keep the words, drop all
		// markup.
		doc = textDocument(src)
	}
	if first && o.DropSignature {
		dropSignatures(doc)
	}
	c := cleaner{o: o}
	c.walk(doc)
	finishDocument(doc)
	mergeText(doc)
	if first && o.SignOff != nil {
		dropSignOffs(doc, o.SignOff)
	}
	if o.Text != nil {
		rewriteText(doc, o.Text)
	}
	var buf bytes.Buffer
	if err := html.Render(&buf, doc); err != nil {
		// Render fails only on trees the parser cannot produce (void
		// elements with children); never return a partial document.
		return []byte(emptyDocument)
	}
	return buf.Bytes()
}

const emptyDocument = `<!DOCTYPE html><html><head><meta charset="utf-8"/></head><body></body></html>`

type action int

const (
	unwrap action = iota // drop the element, keep its (cleaned) children
	keep                 // keep the element with cleaned attributes
	drop                 // drop the element and everything inside it
)

// elements is the element policy. Anything not listed is unwrapped: the
// markup goes, its text stays. Listing an element as keep is a statement
// that, with the attribute policy below, it cannot make a client fetch or
// run anything.
var elements = map[string]action{
	// Document structure; head keeps only title and style (meta is
	// re-added by finishDocument).
	"html": keep, "head": keep, "body": keep, "title": keep, "style": keep,

	// Text and formatting.
	"a": keep, "abbr": keep, "acronym": keep, "address": keep, "area": keep,
	"article": keep, "aside": keep, "b": keep, "bdi": keep, "bdo": keep,
	"big": keep, "blockquote": keep, "br": keep, "caption": keep,
	"center": keep, "cite": keep, "code": keep, "col": keep,
	"colgroup": keep, "dd": keep, "del": keep, "details": keep, "dfn": keep,
	"dir": keep, "div": keep, "dl": keep, "dt": keep, "em": keep,
	"fieldset": keep, "figcaption": keep, "figure": keep, "font": keep,
	"footer": keep, "h1": keep, "h2": keep, "h3": keep, "h4": keep,
	"h5": keep, "h6": keep, "header": keep, "hgroup": keep, "hr": keep,
	"i": keep, "img": keep, "ins": keep, "kbd": keep, "legend": keep,
	"li": keep, "main": keep, "map": keep, "mark": keep, "menu": keep,
	"nav": keep, "ol": keep, "p": keep, "pre": keep, "q": keep, "rp": keep,
	"rt": keep, "rtc": keep, "ruby": keep, "s": keep, "samp": keep,
	"search": keep, "section": keep, "small": keep, "span": keep,
	"strike": keep, "strong": keep, "sub": keep, "summary": keep,
	"sup": keep, "table": keep, "tbody": keep, "td": keep, "tfoot": keep,
	"th": keep, "thead": keep, "time": keep, "tr": keep, "tt": keep,
	"u": keep, "ul": keep, "var": keep, "wbr": keep,
	// Raw-text or legacy pre-like elements become <pre> (see renamePre).
	"xmp": keep, "plaintext": keep, "listing": keep,

	// Scripting, embedding, frames: dropped with their content (their
	// "fallback" content is for clients that do not support them).
	"script": drop, "noembed": drop, "noframes": drop, "iframe": drop,
	"frame": drop, "frameset": drop, "object": drop, "embed": drop,
	"applet": drop, "param": drop, "portal": drop, "fencedframe": drop,
	"template": drop, "slot": unwrap,
	// Form controls: they submit, load images (input type=image) or carry
	// hidden data. The form element itself is unwrapped.
	"input": drop, "button": drop, "select": drop, "textarea": drop,
	"option": drop, "optgroup": drop, "datalist": drop, "keygen": drop,
	"isindex": drop,
	// Resource loaders and head metadata.
	"link": drop, "meta": drop, "base": drop, "basefont": drop,
	"bgsound": drop, "image": drop,
	// Media and foreign content: all can reference remote resources, and
	// SVG/MathML parse differently (namespace confusion).
	"svg": drop, "math": drop, "audio": drop, "video": drop,
	"source": drop, "track": drop, "canvas": drop,
}

type cleaner struct {
	o Options
}

// walk cleans the children of parent.
func (c *cleaner) walk(parent *html.Node) {
	for n := parent.FirstChild; n != nil; {
		n = c.node(n)
	}
}

// node cleans n and returns the next node to visit: the next sibling, or
// the first former child of an unwrapped element.
func (c *cleaner) node(n *html.Node) *html.Node {
	next := n.NextSibling
	switch n.Type {
	case html.TextNode:
		return next
	case html.ElementNode:
	default:
		// Comments (Outlook's conditional comments hold markup its
		// engine renders), doctypes (finishDocument adds one), raw nodes.
		n.Parent.RemoveChild(n)
		return next
	}
	if n.Namespace != "" {
		n.Parent.RemoveChild(n)
		return next
	}
	switch elements[n.Data] {
	case drop:
		n.Parent.RemoveChild(n)
		return next
	case unwrap:
		first := n.FirstChild
		unwrapNode(n)
		if first != nil {
			return first
		}
		return next
	}
	switch n.DataAtom {
	case atom.Style:
		c.style(n)
		return next
	case atom.Img:
		return c.img(n, next)
	case atom.Xmp, atom.Plaintext, atom.Listing:
		// xmp and plaintext are raw-text elements that html.Render
		// writes unescaped; as <pre> their text is escaped.
		n.Data, n.DataAtom = "pre", atom.Pre
	}
	c.attrs(n)
	c.walk(n)
	return next
}

// unwrapNode replaces n by its children.
func unwrapNode(n *html.Node) {
	p := n.Parent
	for ch := n.FirstChild; ch != nil; ch = n.FirstChild {
		n.RemoveChild(ch)
		p.InsertBefore(ch, n)
	}
	p.RemoveChild(n)
}

// style keeps a <style> element with sanitized CSS, or removes it when no
// rule survives.
func (c *cleaner) style(n *html.Node) {
	var b strings.Builder
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		if ch.Type == html.TextNode {
			b.WriteString(ch.Data)
		}
	}
	css := sanitizeStylesheet(b.String())
	if css == "" {
		n.Parent.RemoveChild(n)
		return
	}
	for ch := n.FirstChild; ch != nil; ch = n.FirstChild {
		n.RemoveChild(ch)
	}
	n.Attr = nil
	n.AppendChild(&html.Node{Type: html.TextNode, Data: css})
}

// img keeps an image only when its source is embedded in the message; a
// dropped image leaves its alt text behind (a tracking pixel has none).
func (c *cleaner) img(n, next *html.Node) *html.Node {
	alt, _ := firstAttr(n, "alt")
	c.attrs(n)
	if _, ok := firstAttr(n, "src"); ok {
		return next
	}
	if strings.TrimSpace(alt) != "" {
		n.Parent.InsertBefore(&html.Node{Type: html.TextNode, Data: alt}, n)
	}
	n.Parent.RemoveChild(n)
	return next
}

func firstAttr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// attributes lists the attributes kept (after the value checks in attr)
// on any kept element. Everything else goes: event handlers, background,
// poster, ping, srcset, cite, action, xmlns:*, xlink:href, target, ...
var attributes = map[string]bool{
	"abbr": true, "align": true, "alink": true, "alt": true, "axis": true,
	"bgcolor": true, "border": true, "bordercolor": true,
	"cellpadding": true, "cellspacing": true, "char": true,
	"charoff": true, "class": true, "clear": true, "color": true,
	"colspan": true, "compact": true, "coords": true, "datetime": true,
	"dir": true, "face": true, "frame": true, "headers": true,
	"height": true, "hidden": true, "hspace": true, "id": true,
	"lang": true, "link": true, "name": true, "noshade": true,
	"nowrap": true, "open": true, "reversed": true, "rowspan": true,
	"rules": true, "scope": true, "shape": true, "size": true,
	"span": true, "start": true, "summary": true, "text": true,
	"title": true, "type": true, "valign": true, "value": true,
	"vlink": true, "vspace": true, "width": true,
	// Handled specially in attr.
	"style": true, "href": true, "src": true,
}

// attrs applies the attribute policy to n. Only the first occurrence of a
// name counts, as in browsers.
func (c *cleaner) attrs(n *html.Node) {
	seen := make(map[string]bool, len(n.Attr))
	// A fresh slice: the parser may share Attr arrays between clones.
	kept := make([]html.Attribute, 0, len(n.Attr))
	link := false
	for _, a := range n.Attr {
		if a.Namespace != "" || seen[a.Key] {
			continue
		}
		seen[a.Key] = true
		v, ok := c.attr(n, a.Key, a.Val)
		if !ok {
			continue
		}
		if a.Key == "href" {
			link = true
		}
		kept = append(kept, html.Attribute{Key: a.Key, Val: v})
	}
	if link {
		// The reader follows links by choice; do not tell the target
		// where they came from.
		kept = append(kept, html.Attribute{Key: "rel", Val: "noopener noreferrer"})
	}
	n.Attr = kept
}

// attr returns the value to keep for attribute key on n, or ok=false.
func (c *cleaner) attr(n *html.Node, key, val string) (string, bool) {
	if !attributes[key] {
		return "", false
	}
	switch key {
	case "style":
		v := sanitizeDeclarations(val)
		if c.o.Text != nil {
			v = c.o.Text(v) // CSS strings carry text ("font-family: 'Jane'")
		}
		return v, v != ""
	case "href":
		if n.DataAtom != atom.A && n.DataAtom != atom.Area {
			return "", false
		}
		return c.href(val)
	case "src":
		if n.DataAtom != atom.Img {
			return "", false
		}
		return c.imgSrc(val)
	}
	if c.o.Text != nil {
		// Every kept value, not only the human-text ones: an id, a class
		// or a font name can carry a name or an address as well.
		val = c.o.Text(val)
	}
	if dangerousValue(val) {
		return "", false
	}
	return val, true
}

// href keeps http, https and mailto links and in-document fragments.
// Relative and protocol-relative URLs go: the message has no base URL, and
// "//host" would be resolved against whatever page shows the message.
func (c *cleaner) href(val string) (string, bool) {
	v := stripURLSpace(val)
	if c.o.Text != nil {
		v = c.rewriteURL(v)
	}
	if strings.HasPrefix(v, "#") {
		return v, true
	}
	l := strings.ToLower(v)
	for _, p := range []string{"http://", "https://", "mailto:"} {
		if strings.HasPrefix(l, p) && len(v) > len(p) {
			return v, true
		}
	}
	return "", false
}

// rewriteURL applies Options.Text to a URL, also to its percent-decoded
// form so that "mailto:alice%40example.org" cannot hide an address.
func (c *cleaner) rewriteURL(v string) string {
	v = stripURLSpace(c.o.Text(v))
	if !strings.Contains(v, "%") {
		return v
	}
	dec, err := url.PathUnescape(v)
	if err != nil || dec == v {
		return v
	}
	if t := c.o.Text(dec); t != dec {
		return escapeURL(t)
	}
	return v
}

// imgSrc accepts cid: references the caller knows and inline raster data:
// URLs; everything else would be fetched by the reader's client.
func (c *cleaner) imgSrc(val string) (string, bool) {
	v := stripURLSpace(val)
	l := strings.ToLower(v)
	if strings.HasPrefix(l, "cid:") {
		if c.o.CID == nil {
			return "", false
		}
		id, err := url.PathUnescape(v[len("cid:"):])
		if err != nil {
			return "", false
		}
		id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
		if id == "" {
			return "", false
		}
		nid, ok := c.o.CID(id)
		if !ok || nid == "" {
			return "", false
		}
		return "cid:" + escapeURL(nid), true
	}
	return dataImage(v)
}

// dataImage accepts data:image/{png,jpeg,gif,webp};base64,PAYLOAD whose
// bytes are an image of a format imgmeta reads, and returns it in
// canonical form (lower-case header) with the image's metadata (Exif GPS,
// camera serials...) removed, exactly as for an attached image. Anything
// else is refused: the image is dropped.
func dataImage(v string) (string, bool) {
	l := strings.ToLower(v)
	for _, t := range []string{"png", "jpeg", "gif", "webp"} {
		p := "data:image/" + t + ";base64,"
		if !strings.HasPrefix(l, p) {
			continue
		}
		payload := strings.TrimRight(v[len(p):], "=")
		img, err := base64.RawStdEncoding.DecodeString(payload)
		if err != nil || len(img) == 0 || imgmeta.Detect(img) == "" {
			return "", false
		}
		if img, _, err = imgmeta.Strip(img); err != nil {
			return "", false
		}
		return p + base64.StdEncoding.EncodeToString(img), true
	}
	return "", false
}

// stripURLSpace does what the WHATWG URL parser does before looking at a
// scheme: trim C0 controls and spaces at both ends, remove tabs and
// newlines anywhere ("java\nscript:" is "javascript:").
func stripURLSpace(v string) string {
	v = strings.TrimFunc(v, func(r rune) bool { return r <= 0x20 })
	if strings.ContainsAny(v, "\t\n\r") {
		v = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, v)
	}
	return v
}

// dangerousValue reports whether an attribute value could be taken as a
// script or inline-resource URL by some client, whatever the attribute.
func dangerousValue(v string) bool {
	l := strings.ToLower(strings.TrimFunc(stripURLSpace(v), func(r rune) bool { return r <= 0x20 || r == 0x7f }))
	for _, p := range []string{"javascript:", "vbscript:", "livescript:", "data:"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// escapeURL percent-encodes the bytes that may not appear literally in a
// URL; url.PathUnescape undoes it exactly.
func escapeURL(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch <= 0x20 || ch >= 0x7f || strings.IndexByte("\"%<>\\^`{|}#?[]", ch) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hex[ch>>4])
			b.WriteByte(hex[ch&15])
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}

// finishDocument gives the cleaned tree a fixed frame: <!DOCTYPE html>,
// <html>, <head> starting with <meta charset="utf-8">, and <body>.
func finishDocument(doc *html.Node) {
	var root *html.Node
	for n := doc.FirstChild; n != nil; n = n.NextSibling {
		if n.Type == html.ElementNode && n.DataAtom == atom.Html {
			root = n
			break
		}
	}
	if root == nil {
		root = &html.Node{Type: html.ElementNode, Data: "html", DataAtom: atom.Html}
		doc.AppendChild(root)
	}
	doc.InsertBefore(&html.Node{Type: html.DoctypeNode, Data: "html"}, doc.FirstChild)
	var head, body *html.Node
	for n := root.FirstChild; n != nil; n = n.NextSibling {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.DataAtom {
		case atom.Head:
			if head == nil {
				head = n
			}
		case atom.Body:
			if body == nil {
				body = n
			}
		}
	}
	if head == nil {
		head = &html.Node{Type: html.ElementNode, Data: "head", DataAtom: atom.Head}
		root.InsertBefore(head, root.FirstChild)
	}
	if body == nil {
		// A <frameset> document has no body; its frameset was dropped.
		body = &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
		root.AppendChild(body)
	}
	head.InsertBefore(&html.Node{
		Type: html.ElementNode, Data: "meta", DataAtom: atom.Meta,
		Attr: []html.Attribute{{Key: "charset", Val: "utf-8"}},
	}, head.FirstChild)
}

// textDocument builds <html><head></head><body>TEXT</body></html> from
// the text a tokenizer finds in src, outside elements whose content is not
// shown. It is the fallback for input the parser refuses.
func textDocument(src []byte) *html.Node {
	var b strings.Builder
	z := html.NewTokenizer(bytes.NewReader(src))
	skip := ""
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			doc := &html.Node{Type: html.DocumentNode}
			root := &html.Node{Type: html.ElementNode, Data: "html", DataAtom: atom.Html}
			body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
			doc.AppendChild(root)
			root.AppendChild(&html.Node{Type: html.ElementNode, Data: "head", DataAtom: atom.Head})
			root.AppendChild(body)
			body.AppendChild(&html.Node{Type: html.TextNode, Data: b.String()})
			return doc
		case html.StartTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes", "template", "svg", "math":
				skip = string(name)
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if string(name) == skip {
				skip = ""
			}
			b.WriteByte(' ')
		case html.TextToken:
			if skip == "" {
				b.Write(z.Text())
			}
		}
	}
}

// mergeText joins adjacent text nodes and removes empty ones, so that
// Options.Text sees "Ali" + "ce" (left by a removed comment) as "Alice".
func mergeText(n *html.Node) {
	for ch := n.FirstChild; ch != nil; {
		next := ch.NextSibling
		if ch.Type != html.TextNode {
			mergeText(ch)
			ch = next
			continue
		}
		if next != nil && next.Type == html.TextNode {
			var b strings.Builder
			b.WriteString(ch.Data)
			for next != nil && next.Type == html.TextNode {
				b.WriteString(next.Data)
				after := next.NextSibling
				n.RemoveChild(next)
				next = after
			}
			ch.Data = b.String()
		}
		if ch.Data == "" {
			n.RemoveChild(ch)
		}
		ch = next
	}
}

// rewriteText applies f to every text node, the (already sanitized)
// style sheets included: a CSS string (content: "Jane Doe") is text too.
func rewriteText(n *html.Node, f func(string) string) {
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		switch ch.Type {
		case html.TextNode:
			ch.Data = f(ch.Data)
		case html.ElementNode:
			rewriteText(ch, f)
		}
	}
}
