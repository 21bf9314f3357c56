package htmlclean

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzCID knows the IDs starting with "a" and keeps them, so that Clean's
// output, cleaned again with the same options, keeps its images.
func fuzzCID(old string) (string, bool) {
	return old, strings.HasPrefix(old, "a")
}

var fuzzSeeds = []string{
	``,
	`<p>Hello <b>world</b></p>`,
	`<img src="http://x/p.gif" width=1 height=1><img src="cid:a1@x" alt="a"><img src="data:image/png;base64,iVBORw0KGgo=">`,
	`<picture><source srcset="http://x/a"><img src="http://x/b" alt="B"></picture>`,
	`<style>@import url(http://x/a.css); @font-face{src:url(x)} p{color:red;background:u\72l(x)} @media (max-width:1px){a{b:c}}</style>`,
	`<div style="background:url(http://x);color:red">x</div>`,
	`<p style="background:u/**/rl(x)">x</p>`,
	`<link rel=stylesheet href=http://x><base href=http://x><meta http-equiv=refresh content="0;url=http://x">`,
	`<body background=http://x><table background=http://x><tr><td>c</td></tr></table>`,
	`<video poster=http://x></video><audio src=http://x></audio><iframe src=http://x></iframe><object data=http://x></object><embed src=http://x>`,
	`<svg><image href=http://x /></svg><math><mi xlink:href=http://x>m</mi></math>`,
	`<form action=http://x><input type=image src=http://x><button formaction=http://x>b</button></form>`,
	`<a href="javascript:alert(1)" ping=http://x>j</a><a href="https://ok/">ok</a><blockquote cite=http://x>q</blockquote>`,
	`<script>alert(1)</script><img src=x onerror=alert(1)><noscript><p>n</p></noscript>`,
	`<p>a<table><tr><td>b</td></tr></table>c`,
	`<!--[if mso]><v:fill src="http://x"/><![endif]--><xmp><b></xmp><plaintext><p>`,
	`<div>Hi</div><div>-- </div><div>Sig</div><div class="gmail_signature">g</div>`,
	`<a><p><a>nested</a></p></a><b><i>mis</b>nested</i><p><li>x<dd>y</table>`,
	`<select><option>o<textarea>t</textarea></select><frameset><frame></frameset>`,
	`<style>p{content:"</style><script>x</script>"}</style><title><b>t</b></title>`,
	`<table><tr><td>a<noscript><td>b</noscript></td></tr></table><table><form><tr><td>a</form></table>`,
	`<a href="http://a/">1<div><a href="http://b/">2</a></div></a><p><form><p>x</form></p>`,
	`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
	`<head><noscript><link rel=stylesheet href=http://x><style>p{color:red}</style></noscript></head>`,
	`<p>a<o:p>&nbsp;</o:p></p><table><tr><o:p>x</o:p></tr></table>`,
}

func FuzzClean(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`<p>-- </p><p>x</p>`), true)
	f.Fuzz(func(t *testing.T, src []byte, dropSig bool) {
		o := Options{CID: fuzzCID, DropSignature: dropSig}
		out := Clean(src, o)
		if !utf8.Valid(out) && utf8.Valid(src) {
			t.Errorf("output is not UTF-8: %q", out)
		}
		checkSafe(t, out)
		checkFuzzOutput(t, out)
		// Idempotence: cleaning the output again changes nothing. With
		// DropSignature a second pass may legitimately find a new
		// delimiter (text joined after a removed comment), so only the
		// plain options are compared.
		again := Clean(out, Options{CID: fuzzCID})
		if !dropSig && !bytes.Equal(again, out) {
			t.Errorf("not idempotent:\nsrc   %q\nfirst %q\nagain %q", src, out, again)
		}
		checkSafe(t, again)
		_ = Text(out)
		_ = Text(src)
	})
}

// checkFuzzOutput asserts a property of the text itself, not only of its
// parse: no script tag, even one a parser would not build. ("url(" in
// styles is checked on the parse by checkSafe; in text it is harmless.)
func checkFuzzOutput(t *testing.T, out []byte) {
	if bytes.Contains(bytes.ToLower(out), []byte("<script")) {
		t.Errorf("output has <script: %q", out)
	}
}
