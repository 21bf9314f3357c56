package htmlclean

import "strings"

// The CSS sanitizer is a scanner, not a parser: it understands comments,
// strings, brackets and the ";" / "{...}" structure well enough to cut a
// style sheet into rules and a block into declarations, then keeps only
// the pieces that pass safePiece. Its output is rebuilt from kept pieces,
// each of which has balanced brackets, closed strings, no comments and no
// backslashes, so a browser tokenizes the output exactly as this scanner
// did; where the input is ambiguous the piece is dropped.

// maxMediaDepth bounds @media nesting (and the recursion it costs).
const maxMediaDepth = 4

// sanitizeDeclarations cleans a style attribute: "a: b; c: d".
func sanitizeDeclarations(s string) string {
	return strings.Join(declarations(stripComments(s)), "; ")
}

// sanitizeStylesheet cleans the text of a <style> element.
func sanitizeStylesheet(s string) string {
	var b strings.Builder
	rules(&b, stripComments(s), 0)
	return strings.TrimSpace(b.String())
}

// declarations returns the acceptable declarations of a block, trimmed.
func declarations(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		ch := scanChunk(s, i)
		i = ch.end
		d := strings.TrimSpace(ch.prelude)
		// A block inside a declaration list is a nested rule or junk.
		if ch.hasBlock || !ch.ok || d == "" || !safePiece(d) || !isDeclaration(d) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// rules writes the acceptable rules of a style sheet (or @media body) to b.
// Qualified rules keep their safe declarations; @media is recursed into;
// every other at-rule (@import, @font-face, @charset, @namespace,
// @keyframes, @supports, ...) is dropped.
func rules(b *strings.Builder, s string, depth int) {
	for i := 0; i < len(s); {
		ch := scanChunk(s, i)
		i = ch.end
		prelude := strings.TrimSpace(ch.prelude)
		if !ch.ok || !ch.hasBlock || prelude == "" || !safePiece(prelude) {
			continue
		}
		if strings.HasPrefix(prelude, "@") {
			name, rest := atName(prelude)
			if name != "media" || depth >= maxMediaDepth {
				continue
			}
			var inner strings.Builder
			rules(&inner, ch.block, depth+1)
			if inner.Len() == 0 {
				continue
			}
			b.WriteString("@media")
			if rest != "" {
				b.WriteString(" " + rest)
			}
			b.WriteString(" {\n")
			b.WriteString(inner.String())
			b.WriteString("}\n")
			continue
		}
		decls := declarations(ch.block)
		if len(decls) == 0 {
			continue
		}
		b.WriteString(prelude)
		b.WriteString(" { ")
		b.WriteString(strings.Join(decls, "; "))
		b.WriteString(" }\n")
	}
}

// atName splits "@media screen" into "media" and "screen".
func atName(prelude string) (name, rest string) {
	i := 1
	for i < len(prelude) && isIdentByte(prelude[i]) {
		i++
	}
	return strings.ToLower(prelude[1:i]), strings.TrimSpace(prelude[i:])
}

// chunk is one statement: text up to a top-level ";" (prelude only), or a
// prelude followed by a {...} block.
type chunk struct {
	prelude  string
	block    string // inside the braces
	hasBlock bool
	end      int  // index after the chunk
	ok       bool // brackets balanced, strings closed
}

// scanChunk reads the chunk starting at s[i]. Comments are already gone.
func scanChunk(s string, i int) chunk {
	c := chunk{ok: true}
	start := i
	var stack []byte // expected closing brackets
	blockStart := -1
	for i < len(s) {
		b := s[i]
		switch b {
		case '"', '\'':
			j, closed := skipString(s, i)
			if !closed {
				c.ok = false
			}
			i = j
			continue
		case '\\':
			// An escape: the next byte is literal. Pieces with a
			// backslash are dropped anyway; this keeps the cut where a
			// browser would make it.
			i += 2
			continue
		case '(':
			stack = append(stack, ')')
		case '[':
			stack = append(stack, ']')
		case '{':
			if len(stack) == 0 {
				blockStart = i
			}
			stack = append(stack, '}')
		case ')', ']', '}':
			if len(stack) == 0 {
				// A stray closer; invalid wherever it is.
				c.ok = false
				break
			}
			if stack[len(stack)-1] != b {
				c.ok = false
			}
			stack = stack[:len(stack)-1]
			if b == '}' && len(stack) == 0 && blockStart >= 0 {
				c.prelude = s[start:blockStart]
				c.block = s[blockStart+1 : i]
				c.hasBlock = true
				c.end = i + 1
				return c
			}
		case ';':
			if len(stack) == 0 {
				c.prelude = s[start:i]
				c.end = i + 1
				return c
			}
		}
		i++
	}
	if i > len(s) {
		i = len(s)
	}
	// End of input: browsers close what is open. A declaration cut off
	// by EOF inside brackets is dropped; an unclosed block is taken.
	c.end = len(s)
	if blockStart >= 0 {
		c.prelude = s[start:blockStart]
		c.block = s[blockStart+1:]
		c.hasBlock = true
		if len(stack) > 1 {
			c.ok = false
		}
		return c
	}
	c.prelude = s[start:]
	if len(stack) > 0 {
		c.ok = false
	}
	return c
}

// skipString returns the index after the string starting at s[i] and
// whether it was closed by its quote. Like a CSS tokenizer, a newline ends
// an unclosed string (a "bad string").
func skipString(s string, i int) (int, bool) {
	q := s[i]
	for i++; i < len(s); i++ {
		switch s[i] {
		case q:
			return i + 1, true
		case '\\':
			i++
		case '\n', '\r', '\f':
			return i, false
		}
	}
	return len(s), false
}

// stripComments replaces every /* ... */ outside strings by a space (a
// comment separates tokens; removing it outright could join "/" and "*"
// into a new comment or "ur" and "l(" into "url("). An unclosed comment
// runs to the end, as in browsers.
func stripComments(s string) string {
	if !strings.Contains(s, "/*") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case s[i] == '"' || s[i] == '\'':
			j, _ := skipString(s, i)
			b.WriteString(s[i:j])
			i = j
		case s[i] == '\\' && i+1 < len(s):
			b.WriteString(s[i : i+2])
			i += 2
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			b.WriteByte(' ')
			if end < 0 {
				return b.String()
			}
			i += 2 + end + 2
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// blocked are substrings (lower-cased) that make a piece unacceptable
// wherever they occur, strings included: they load resources, run code, or
// are old IE ways of doing either.
var blocked = []string{
	"url(", "image(", "image-set(", "src(", "@import", "@font-face",
	"expression", "behavior", "-moz-binding", "javascript", "vbscript",
	"progid", "</", "<!",
	// No CSS we keep needs "//"; without it no absolute URL can be
	// spelled, whatever future syntax would fetch it.
	"//",
}

// safePiece reports whether a selector, @media prelude or declaration may
// be kept.
func safePiece(p string) bool {
	for i := 0; i < len(p); i++ {
		b := p[i]
		// Backslash escapes can spell any word ("u\72l("); "<" could end
		// the <style> element; control bytes have no business here.
		if b == '\\' || b == '<' || b == '{' || b == '}' || b == 0x7f || (b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\f') {
			return false
		}
	}
	l := strings.ToLower(p)
	for _, w := range blocked {
		if strings.Contains(l, w) {
			return false
		}
	}
	// Any function call must be a known-harmless one; new CSS functions
	// that fetch keep appearing, so this is an allow list.
	for i := 0; i < len(l); i++ {
		if l[i] != '(' {
			continue
		}
		// Look through whitespace too: "url (x)" is not a URL to a
		// browser, but nothing good is spelled that way either.
		k := i
		for k > 0 && isCSSSpace(l[k-1]) {
			k--
		}
		j := k
		for j > 0 && isIdentByte(l[j-1]) {
			j--
		}
		if j == k {
			continue // a plain parenthesis, as in "screen, (max-width: 600px)"
		}
		name := l[j:k]
		if k < i && mediaKeywords[name] {
			continue // "screen and (max-width: 600px)"
		}
		if !cssFunctions[stripVendor(name)] {
			return false
		}
	}
	return true
}

// isDeclaration checks the "name: value" shape.
func isDeclaration(d string) bool {
	colon := strings.IndexByte(d, ':')
	if colon <= 0 {
		return false
	}
	name := strings.TrimSpace(d[:colon])
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isIdentByte(name[i]) {
			return false
		}
	}
	return strings.TrimSpace(d[colon+1:]) != ""
}

// mediaKeywords may precede a parenthesised media feature.
var mediaKeywords = map[string]bool{"and": true, "or": true, "not": true, "only": true}

func isCSSSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f'
}

func isIdentByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b >= 0x80
}

func stripVendor(name string) string {
	for _, p := range []string{"-webkit-", "-moz-", "-ms-", "-o-"} {
		if strings.HasPrefix(name, p) {
			return name[len(p):]
		}
	}
	return name
}

// cssFunctions are the functions (and functional pseudo-classes) kept:
// colours, maths, gradients, transforms, shapes, filters, grid helpers.
// None of them takes a URL.
var cssFunctions = map[string]bool{
	"rgb": true, "rgba": true, "hsl": true, "hsla": true, "hwb": true,
	"lab": true, "lch": true, "oklab": true, "oklch": true,
	"color": true, "color-mix": true,
	"calc": true, "min": true, "max": true, "clamp": true, "var": true,
	"linear-gradient": true, "radial-gradient": true,
	"conic-gradient": true, "repeating-linear-gradient": true,
	"repeating-radial-gradient": true, "repeating-conic-gradient": true,
	"translate": true, "translatex": true, "translatey": true,
	"translatez": true, "translate3d": true, "rotate": true,
	"rotatex": true, "rotatey": true, "rotatez": true, "rotate3d": true,
	"scale": true, "scalex": true, "scaley": true, "scalez": true,
	"scale3d": true, "skew": true, "skewx": true, "skewy": true,
	"matrix": true, "matrix3d": true, "perspective": true,
	"cubic-bezier": true, "steps": true,
	"rect": true, "inset": true, "circle": true, "ellipse": true,
	"polygon": true, "counter": true, "counters": true,
	"minmax": true, "repeat": true, "fit-content": true,
	"blur": true, "brightness": true, "contrast": true,
	"drop-shadow": true, "grayscale": true, "hue-rotate": true,
	"invert": true, "opacity": true, "saturate": true, "sepia": true,
	"not": true, "is": true, "where": true, "has": true,
	"nth-child": true, "nth-last-child": true, "nth-of-type": true,
	"nth-last-of-type": true, "lang": true, "dir": true,
}
