package htmlclean

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// testCID knows the Content-IDs starting with "known" and renames them.
func testCID(old string) (string, bool) {
	if strings.HasPrefix(old, "known") {
		return "new-" + old, true
	}
	return "", false
}

// forbiddenElements must never appear in Clean's (re-parsed) output.
var forbiddenElements = map[string]bool{
	"script": true, "iframe": true, "frame": true, "frameset": true,
	"object": true, "embed": true, "applet": true, "link": true,
	"base": true, "svg": true, "math": true, "audio": true, "video": true,
	"source": true, "track": true, "input": true, "button": true,
	"form": true, "noscript": true, "template": true, "image": true,
	"textarea": true, "select": true, "canvas": true, "param": true,
}

// checkSafe re-parses out the way a reader's client would and reports
// every way it could fetch or run something. Resource URLs ("http",
// "//") are only allowed in <a>/<area> href ("http" in CSS is only looked
// for by the table tests: a fuzzer can write harmless "content:http"); img
// src must be cid: or data:image/.
func checkSafe(t testing.TB, out []byte) {
	t.Helper()
	if bytes.Contains(bytes.ToLower(out), []byte("<script")) {
		t.Errorf("output has <script: %s", out)
	}
	if n := bytes.Count(bytes.ToLower(out), []byte("charset")); n != 1 {
		t.Errorf("output has %d charset declarations: %s", n, out)
	}
	doc, err := html.ParseWithOptions(bytes.NewReader(out), html.ParseOptionEnableScripting(false))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.CommentNode:
			t.Errorf("comment left: %q", n.Data)
		case html.ElementNode:
			if n.Namespace != "" || forbiddenElements[n.Data] {
				t.Errorf("element <%s> (namespace %q) left in %s", n.Data, n.Namespace, out)
			}
			if n.Data == "meta" {
				if len(n.Attr) != 1 || n.Attr[0].Key != "charset" || n.Attr[0].Val != "utf-8" {
					t.Errorf("unexpected meta %v", n.Attr)
				}
			}
			if n.DataAtom == atom.Style {
				for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
					checkCSS(t, "style element", ch.Data)
				}
			}
			for _, a := range n.Attr {
				v := strings.ToLower(stripURLSpace(a.Val))
				if strings.HasPrefix(a.Key, "on") || strings.Contains(v, "javascript:") || strings.Contains(v, "vbscript:") {
					t.Errorf("<%s %s=%q> left", n.Data, a.Key, a.Val)
				}
				switch {
				case a.Key == "style":
					checkCSS(t, "style attribute", a.Val)
				case a.Key == "href" && (n.Data == "a" || n.Data == "area"):
				case a.Key == "src" && n.Data == "img":
					if !strings.HasPrefix(v, "cid:") && !strings.HasPrefix(v, "data:image/") {
						t.Errorf("img src %q left", a.Val)
					}
				default:
					if strings.Contains(v, "http") || strings.Contains(v, "//") || strings.HasPrefix(v, "data:") {
						t.Errorf("<%s %s=%q> left", n.Data, a.Key, a.Val)
					}
				}
			}
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(doc)
}

func checkCSS(t testing.TB, where, css string) {
	t.Helper()
	l := strings.ToLower(css)
	for _, bad := range []string{"url(", "//", "@import", "@font-face", "expression", "\\", "image-set("} {
		if strings.Contains(l, bad) {
			t.Errorf("%s has %q: %q", where, bad, css)
		}
	}
}

// body returns what Clean put inside <body>.
func body(t *testing.T, out []byte) string {
	t.Helper()
	s := string(out)
	i := strings.Index(s, "<body>")
	j := strings.LastIndex(s, "</body>")
	if i < 0 || j < i {
		t.Fatalf("no body in %s", s)
	}
	return s[i+len("<body>") : j]
}

func TestCleanRemovesRemoteResources(t *testing.T) {
	tests := []struct {
		name, in string
		want     string   // exact body, when not empty
		absent   []string // substrings that must not be in the output
	}{
		{name: "img src http", in: `<p>a<img src="http://track.example/p.gif">b</p>`, want: `<p>ab</p>`},
		{name: "img srcset", in: `<img src="cid:known1" srcset="http://x.example/a.png 2x" sizes="10px" lowsrc="http://x.example/l" dynsrc="http://x.example/d" longdesc="http://x.example/d" usemap="#m">`,
			want: `<img src="cid:new-known1"/>`},
		{name: "tracking pixel", in: `<p>Hi</p><img src="https://t.example/o.gif?u=1" width="1" height="1" border="0" style="display:none">`, want: `<p>Hi</p>`},
		{name: "picture source", in: `<picture><source srcset="http://x.example/a.webp" type="image/webp"><img src="http://x.example/a.png" alt="Chart"></picture>`, want: `Chart`},
		{name: "style element background url", in: `<body><style>body{background:url(http://x.example/bg.png)} p{color:red}</style>`, want: "<style>p { color:red }</style>"},
		{name: "style attribute url", in: `<div style="background-image:url('http://x.example/a.png');color:red">t</div>`, want: `<div style="color:red">t</div>`},
		{name: "style attribute only url", in: `<div style="background:URL(http://x.example/a.png)">t</div>`, want: `<div>t</div>`},
		{name: "import", in: `<body><style>@import url(http://x.example/a.css); @import "http://x.example/b.css"; p{color:red}</style>`, want: "<style>p { color:red }</style>"},
		{name: "font-face", in: `<body><style>@font-face{font-family:F;src:url(http://x.example/f.woff)} p{font-family:F}</style>`, want: "<style>p { font-family:F }</style>"},
		{name: "escape u\\72l", in: `<div style="background:u\72l(http://x.example/a);color:red">t</div>`, want: `<div style="color:red">t</div>`},
		{name: "escape \\75 rl in sheet", in: `<body><style>p{background:\75 rl(http://x.example/a);color:red}</style>`, want: "<style>p { color:red }</style>"},
		{name: "escape u\\rl", in: `<p style="background:u\rl(http://x.example/a)">t</p>`, want: `<p>t</p>`},
		{name: "escaped selector", in: `<style>\70{color:red}</style>`, want: ``},
		{name: "comment split", in: `<body><style>p{background:u/**/rl(http://x.example/a);color:red}</style><p style="background:url/**/(http://x.example/b)">t</p>`, want: "<style>p { color:red }</style><p>t</p>"},
		{name: "image-set and cursor", in: `<p style="background-image:image-set('http://x.example/a.png' 1x);cursor:url(http://x.example/c),auto;color:red">t</p>`, want: `<p style="color:red">t</p>`},
		{name: "ie behaviors", in: `<p style="width:expression(alert(1));behavior:url(x.htc);-moz-binding:url(http://x.example/b.xml#x);filter:progid:DXImageTransform.Microsoft.AlphaImageLoader(src='http://x.example/a.png');color:blue">t</p>`, want: `<p style="color:blue">t</p>`},
		{name: "nested rule in block", in: `<body><style>p{color:red; & span{background:url(http://x.example/a)}}</style>`, want: "<style>p { color:red }</style>"},
		{name: "media with url", in: `<body><style>@media screen and (max-width:600px){p{background:url(http://x.example/a);color:red}}</style>`, want: "<style>@media screen and (max-width:600px) {\np { color:red }\n}</style>"},
		{name: "style breakout", in: `<style>p{content:"</style><img src=http://x.example/a>"}</style>`, absent: []string{"x.example"}},
		{name: "link stylesheet", in: `<link rel="stylesheet" href="http://x.example/a.css"><p>t</p>`, want: `<p>t</p>`},
		{name: "link preload", in: `<link rel="preload" as="font" href="http://x.example/f.woff"><link rel="dns-prefetch" href="//x.example"><p>t</p>`, want: `<p>t</p>`},
		{name: "body background", in: `<body background="http://x.example/bg.png" bgcolor="#fff">hi</body>`, absent: []string{"background="}},
		{name: "table background", in: `<table background="http://x.example/bg.png"><tr><td background="http://x.example/c.png">c</td></tr></table>`, want: `<table><tbody><tr><td>c</td></tr></tbody></table>`},
		{name: "video poster", in: `<video poster="http://x.example/p.png" src="http://x.example/v.mp4">no video</video><p>t</p>`, want: `<p>t</p>`},
		{name: "audio", in: `<audio src="http://x.example/a.mp3" autoplay><track src="http://x.example/t.vtt"></audio>`, want: ``},
		{name: "iframe", in: `<iframe src="http://x.example/"></iframe><frame src="http://x.example/f">`, want: ``},
		{name: "frameset", in: `<frameset><frame src="http://x.example/f"></frameset>`, want: ``},
		{name: "object", in: `<object data="http://x.example/a.swf"><param name="movie" value="http://x.example/a.swf">fallback</object>`, want: ``},
		{name: "embed", in: `<embed src="http://x.example/a.swf"><applet code="A" codebase="http://x.example/"></applet>`, want: ``},
		{name: "svg image", in: `<svg><image href="http://x.example/a.png"/><image xlink:href="http://x.example/b.png"/><use href="http://x.example/c.svg#a"/></svg>`, want: ``},
		{name: "math", in: `<math><mi xlink:href="http://x.example/">x</mi></math>`, want: ``},
		{name: "meta refresh", in: `<head><meta http-equiv="refresh" content="0;url=http://x.example/"><meta http-equiv="set-cookie" content="a=b"><meta charset="iso-8859-1"></head><p>t</p>`, want: `<p>t</p>`},
		{name: "base", in: `<base href="http://x.example/"><a href="page.html">rel</a><a href="//x.example/p">proto</a>`, want: `<a>rel</a><a>proto</a>`},
		{name: "input image", in: `<form action="http://x.example/submit" method="post"><input type="image" src="http://x.example/b.png">Name</form>`, want: `Name`},
		{name: "form controls", in: `<form action="http://x.example/"><button formaction="http://x.example/b">b</button><select><option>o</option></select><textarea>x</textarea>text</form>`, want: `text`},
		{name: "a ping", in: `<a href="https://ok.example/" ping="http://x.example/ping" target="_blank">l</a>`, want: `<a href="https://ok.example/" rel="noopener noreferrer">l</a>`},
		{name: "xlink href", in: `<a xlink:href="http://x.example/" xmlns:xlink="http://www.w3.org/1999/xlink">t</a>`, want: `<a>t</a>`},
		{name: "blockquote cite", in: `<blockquote cite="http://x.example/">q</blockquote><q cite="http://x.example/">r</q>`, want: `<blockquote>q</blockquote><q>r</q>`},
		{name: "script", in: `<script src="http://x.example/a.js"></script><script>alert(1)</script><p>t</p>`, want: `<p>t</p>`},
		{name: "onerror", in: `<img src="cid:known2" onerror="fetch('http://x.example/')" ONLOAD="x()"><p onclick="x()" onmouseover="y()">t</p>`, want: `<img src="cid:new-known2"/><p>t</p>`},
		{name: "javascript href", in: `<a href="javascript:alert(1)">a</a><a href=" java&#x09;script:alert(1)">b</a><a href="JaVaScRiPt&colon;x">c</a><a href="vbscript:x">d</a>`, want: `<a>a</a><a>b</a><a>c</a><a>d</a>`},
		{name: "data href", in: `<a href="data:text/html;base64,PHNjcmlwdD4=">x</a><p title="javascript:x">t</p>`, want: `<a>x</a><p>t</p>`},
		{name: "svg data image", in: `<img src="data:image/svg+xml;base64,PHN2Zz4=" alt="">`, want: ``},
		{name: "unknown cid", in: `<img src="cid:other@x" alt="photo">`, want: `photo`},
		{name: "outlook conditional comment", in: `<!--[if gte mso 9]><v:rect><v:fill type="tile" src="http://x.example/a.png"/></v:rect><![endif]--><p>t</p>`, want: `<p>t</p>`},
		{name: "outlook vml outside comment", in: `<v:rect><v:fill src="http://x.example/a.png"></v:fill>t</v:rect>`, want: `t`},
		{name: "noscript", in: `<noscript><img src="http://x.example/ns.gif"><p>enable js</p></noscript>`, want: `<p>enable js</p>`},
		{name: "template", in: `<template><img src="http://x.example/t.gif"></template>`, want: ``},
		{name: "duplicate src", in: `<img src="http://x.example/a" src="cid:known3">`, want: ``},
		{name: "dangerous value in kept attribute", in: `<table><tr><td background="javascript:x" class="data:x" title="vbscript:x">c</td></tr></table>`, want: `<table><tbody><tr><td>c</td></tr></tbody></table>`},
		{name: "xmp raw text", in: `<xmp><img src="cid:known"></xmp>`, want: `<pre>&lt;img src=&#34;cid:known&#34;&gt;</pre>`},
		{name: "plaintext", in: `<plaintext><script>alert(1)</script>`, want: `<pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := Clean([]byte(tc.in), Options{CID: testCID})
			checkSafe(t, out)
			if bytes.Contains(bytes.ToLower(out), []byte("http")) && !strings.Contains(tc.in, "https://ok.example/") {
				t.Errorf("a resource URL is left: %s", out)
			}
			if tc.want != "" || tc.absent == nil {
				if got := body(t, out); got != tc.want {
					t.Errorf("body:\n got %s\nwant %s", got, tc.want)
				}
			}
			for _, a := range tc.absent {
				if bytes.Contains(out, []byte(a)) {
					t.Errorf("output contains %q: %s", a, out)
				}
			}
		})
	}
}

func TestCleanKeeps(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"links",
			`<a href="https://example.org/a?b=1&amp;c=2">s</a> <a href="http://example.org/">h</a> <a href="mailto:list@example.org">m</a> <a href="#top" name="top">f</a>`,
			`<a href="https://example.org/a?b=1&amp;c=2" rel="noopener noreferrer">s</a> <a href="http://example.org/" rel="noopener noreferrer">h</a> <a href="mailto:list@example.org" rel="noopener noreferrer">m</a> <a href="#top" name="top" rel="noopener noreferrer">f</a>`},
		{"formatting",
			`<p>Plain <b>bold</b> <i>it</i> <u>u</u> <s>s</s> <em>e</em> <strong>st</strong> <code>c</code> <sub>1</sub><sup>2</sup> &amp; &lt;x&gt;</p><h1>T</h1><hr><br>`,
			`<p>Plain <b>bold</b> <i>it</i> <u>u</u> <s>s</s> <em>e</em> <strong>st</strong> <code>c</code> <sub>1</sub><sup>2</sup> &amp; &lt;x&gt;</p><h1>T</h1><hr/><br/>`},
		{"cid image",
			`<img src="cid:known.part1@mail.example" alt="Photo" width="300" height="200">`,
			`<img src="cid:new-known.part1@mail.example" alt="Photo" width="300" height="200"/>`},
		{"cid image percent and brackets",
			`<img src=" CID:%3Cknown%20x%3E ">`,
			`<img src="cid:new-known%20x"/>`},
		{"data image",
			"<img src=\"data:image/PNG;base64," + tinyPNG[:20] + "\n" + tinyPNG[20:] + "\" alt=\"dot\">",
			`<img src="data:image/png;base64,` + tinyPNG + `" alt="dot"/>`},
		{"data image that is no image", `<img src="data:image/png;base64,iVBORw0KGgoAAAA=" alt="dot">`, `dot`},
		{"table",
			`<table border="1" cellpadding="2" cellspacing="0" width="100%" align="center"><tr><th colspan="2" bgcolor="#eeeeee">H</th></tr><tr><td valign="top">a</td><td>b</td></tr></table>`,
			`<table border="1" cellpadding="2" cellspacing="0" width="100%" align="center"><tbody><tr><th colspan="2" bgcolor="#eeeeee">H</th></tr><tr><td valign="top">a</td><td>b</td></tr></tbody></table>`},
		{"lists",
			`<ul><li>a</li><li>b<ol start="3" type="i"><li>c</li></ol></li></ul><dl><dt>t</dt><dd>d</dd></dl>`,
			`<ul><li>a</li><li>b<ol start="3" type="i"><li>c</li></ol></li></ul><dl><dt>t</dt><dd>d</dd></dl>`},
		// The parser sorts the attributes of formatting elements (font).
		{"colors and fonts",
			`<p style="color:#333333; font-family:Arial, 'Helvetica Neue', sans-serif; font-size:14px; background-color:rgb(250, 250, 250); border-left:2px solid #ccc">t</p><font face="Arial" color="red" size="2">f</font>`,
			`<p style="color:#333333; font-family:Arial, &#39;Helvetica Neue&#39;, sans-serif; font-size:14px; background-color:rgb(250, 250, 250); border-left:2px solid #ccc">t</p><font color="red" face="Arial" size="2">f</font>`},
		{"gradient and media",
			`<body><style>/* mobile */ @media only screen and (max-width: 600px) { .col { width: 100% !important } } .btn { background: linear-gradient(#fff, #eee); border-radius: 4px }</style>`,
			"<style>@media only screen and (max-width: 600px) {\n.col { width: 100% !important }\n}\n.btn { background: linear-gradient(#fff, #eee); border-radius: 4px }</style>"},
		{"unwrap unknown",
			`<p>a<o:p></o:p><custom-el x="1">b</custom-el><label for="x">c</label></p>`,
			`<p>abc</p>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := Clean([]byte(tc.in), Options{CID: testCID})
			checkSafe(t, out)
			if got := body(t, out); got != tc.want {
				t.Errorf("body:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCleanDocumentFrame(t *testing.T) {
	for _, in := range []string{
		``,
		`text`,
		`<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd"><html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"><title>T</title></head><body><p>x</p></body></html>`,
		`<frameset><frame src="a"></frameset>`,
	} {
		out := Clean([]byte(in), Options{})
		checkSafe(t, out)
		if !bytes.HasPrefix(out, []byte(`<!DOCTYPE html><html><head><meta charset="utf-8"/>`)) {
			t.Errorf("Clean(%q) = %s", in, out)
		}
		if !bytes.HasSuffix(out, []byte(`</body></html>`)) {
			t.Errorf("Clean(%q) = %s", in, out)
		}
	}
}

func TestCleanQuirksInputIsStable(t *testing.T) {
	// Without a doctype the input parses in quirks mode, where <table>
	// does not close <p>; the output is standards mode.
	in := []byte(`<p>a<table><tr><td>b</td></tr></table>c`)
	out := Clean(in, Options{})
	checkSafe(t, out)
	if again := Clean(out, Options{}); !bytes.Equal(again, out) {
		t.Errorf("not stable:\n%s\n%s", out, again)
	}
}

func TestCleanText(t *testing.T) {
	var seen []string
	rewrite := func(s string) string {
		seen = append(seen, s)
		s = strings.ReplaceAll(s, "alice@example.org", "member7@list.example")
		return strings.ReplaceAll(s, "Alice Example", "Member 7")
	}
	in := `<head><title>From Alice Example</title><style>p{color:red}</style></head>` +
		`<p>Best, Alice Example <a href="mailto:alice@example.org" title="Mail Alice Example">alice@example.org</a> ` +
		`<a href="mailto:alice%40example.org">x</a> Ali<!-- -->ce Example</p>` +
		`<script>var n = "Alice Example";</script><img src="http://x.example/a" alt="Alice Example's photo">` +
		`<img src="cid:known" alt="Alice Example">`
	out := Clean([]byte(in), Options{CID: testCID, Text: rewrite})
	checkSafe(t, out)
	s := string(out)
	if strings.Contains(s, "Alice") || strings.Contains(s, "alice") {
		t.Errorf("author left: %s", s)
	}
	for _, want := range []string{
		`<title>From Member 7</title>`,
		`<a href="mailto:member7@list.example" title="Mail Member 7" rel="noopener noreferrer">member7@list.example</a>`,
		`<a href="mailto:member7@list.example" rel="noopener noreferrer">x</a> Member 7</p>`,
		`Member 7&#39;s photo`,
		`<img src="cid:new-known" alt="Member 7"/>`,
		`p { color:red }`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in %s", want, s)
		}
	}
	for _, v := range seen {
		if strings.Contains(v, "var n") {
			t.Errorf("Text saw removed content %q", v)
		}
	}
}

func TestDropSignature(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"gmail",
			`<div dir="ltr">Hello<br clear="all"><br><span class="gmail_signature_prefix">-- </span><br><div dir="ltr" class="gmail_signature" data-smartmail="gmail_signature">Alice<br>+1 555</div></div>`,
			`<div dir="ltr">Hello<br clear="all"/><br/><br/></div>`},
		{"thunderbird div",
			`<p>Hello</p><div class="moz-signature">-- <br>Alice</div>`,
			`<p>Hello</p>`},
		{"thunderbird pre",
			`<p>Hello</p><pre class="moz-signature" cols="72">-- 
Alice</pre>`,
			`<p>Hello</p>`},
		{"outlook",
			`<div>Hello</div><div id="Signature"><div>Alice Example</div></div><div id="appendonsend"></div>`,
			`<div>Hello</div><div id="appendonsend"></div>`},
		// The delimiter opens its paragraph, which is left empty, so
		// the rest of the body goes too.
		{"dash dash space in one block",
			"<p>Hello</p><p>-- <br>Alice<br>Phone</p><p>after</p>",
			`<p>Hello</p><p></p>`},
		{"dash dash nbsp, one div per line",
			"<div>Hello</div><div>--&nbsp;</div><div>Alice</div><div><b>Phone</b></div>",
			`<div>Hello</div><div></div>`},
		{"delimiter line inside text",
			"<pre>Hello\n-- \nAlice</pre>",
			"<pre>Hello\n</pre>"},
		{"quoted signature stays inside the quote",
			"<p>Reply</p><blockquote><div>Quoted</div><div>-- </div><div>Bob</div></blockquote><p>after</p>",
			`<p>Reply</p><blockquote><div>Quoted</div><div></div></blockquote><p>after</p>`},
		{"not a delimiter",
			"<p>a -- b</p><p>--</p>",
			"<p>a -- b</p><p>--</p>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := Clean([]byte(tc.in), Options{DropSignature: true})
			checkSafe(t, out)
			if got := body(t, out); got != tc.want {
				t.Errorf("body:\n got %q\nwant %q", got, tc.want)
			}
			// Without the option nothing is cut.
			if out := Clean([]byte(tc.in), Options{}); !strings.Contains(Text(out), "Alice") && strings.Contains(tc.in, "Alice") {
				t.Errorf("signature removed without DropSignature: %s", out)
			}
		})
	}
}

func TestCleanDeepNesting(t *testing.T) {
	// The parser refuses more than 512 open elements; Clean then keeps
	// the text and drops every tag.
	in := strings.Repeat("<div>", 600) + `deep <img src="http://x.example/a"> text<script>alert(1)</script>`
	out := Clean([]byte(in), Options{})
	checkSafe(t, out)
	if got := body(t, out); got != "deep  text " {
		t.Errorf("body = %q", got)
	}
	if again := Clean(out, Options{}); !bytes.Equal(again, out) {
		t.Errorf("not stable: %s", again)
	}
}

func TestCleanManyNodes(t *testing.T) {
	// Adjacent text nodes (split by removed comments) are merged in
	// linear time.
	in := strings.Repeat("a<!---->", 50000)
	out := Clean([]byte(in), Options{Text: strings.ToUpper})
	if got := body(t, out); got != strings.Repeat("A", 50000) {
		t.Errorf("body has %d bytes", len(got))
	}
}

// tinyPNG is a 1x1 PNG without metadata, base64: imgmeta leaves it as it is.
var tinyPNG = func() string {
	var b bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}()

// A data: image keeps its pixels and loses its metadata, like an attached one.
func TestDataImageLosesMetadata(t *testing.T) {
	raw, _ := base64.StdEncoding.DecodeString(tinyPNG)
	// A tEXt chunk "Author\0Jane Doe" before IEND (the last 12 bytes).
	chunk := []byte("\x00\x00\x00\x0ftEXtAuthor\x00Jane Doe")
	chunk = append(chunk, 0, 0, 0, 0) // the CRC is not checked
	withText := append(append(append([]byte(nil), raw[:len(raw)-12]...), chunk...), raw[len(raw)-12:]...)
	in := `<img src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(withText) + `" alt="x">`
	out := string(Clean([]byte(in), Options{}))
	if !strings.Contains(out, `src="data:image/png;base64,`+tinyPNG+`"`) {
		t.Errorf("metadata kept or image lost: %s", out)
	}
}
