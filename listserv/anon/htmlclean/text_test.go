package htmlclean

import "testing"

func TestText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"paragraphs",
			"<p>First   para\ngraph.</p><p>Second.</p>",
			"First para graph.\n\nSecond."},
		{"br",
			"<div>one<br>two<br><br>three</div><div>four</div>",
			"one\ntwo\n\nthree\nfour"},
		{"lists",
			"<p>Items:</p><ul><li>a</li><li>b<ul><li>b1</li></ul></li></ul><ol><li>c</li></ol><p>end</p>",
			"Items:\n\n- a\n- b\n  - b1\n\n- c\n\nend"},
		{"blockquote nesting",
			"<p>Reply</p><blockquote><p>Quoted</p><blockquote>Deeper<br>line</blockquote><p>Back</p></blockquote><p>End</p>",
			"Reply\n\n> Quoted\n>\n> > Deeper\n> > line\n>\n> Back\n\nEnd"},
		{"links",
			`<p><a href="https://example.org/x">the site</a>, <a href="https://example.org/">https://example.org/</a>, <a href="mailto:a@example.org">a@example.org</a>, <a href="mailto:b@example.org">write</a>, <a href="#top">top</a>, <a>none</a></p>`,
			"the site <https://example.org/x>, https://example.org/, a@example.org, write <mailto:b@example.org>, top, none"},
		{"images",
			`<p>Logo: <img src="cid:x" alt="ACME  logo"> <img src="cid:y"></p><a href="https://example.org/"><img src="cid:z"></a>`,
			"Logo: [ACME logo]\n\n<https://example.org/>"},
		{"entities",
			"<p>a&nbsp;b &amp; c &lt;d&gt; &quot;e&quot; &eacute; &#x263A;</p>",
			"a b & c <d> \"e\" é ☺"},
		{"pre",
			"<p>Code:</p><pre>  indented\n\tx  =  1\n\nend</pre><p>after</p>",
			"Code:\n\n  indented\n\tx  =  1\n\nend\n\nafter"},
		{"skipped",
			"<html><head><title>T</title><style>p{color:red}</style></head><body><script>x()</script><p>shown</p><template>t</template></body></html>",
			"shown"},
		{"table",
			"<table><tr><td>a</td><td>b</td></tr><tr><th>c</th><td>d</td></tr></table>",
			"a b\nc d"},
		{"headings and hr",
			"<h1>Title</h1>text<hr>more",
			"Title\n\ntext\n\n---\n\nmore"},
		{"blank lines squeezed",
			"<p>a</p><br><br><br><p></p><div></div><p>b</p>",
			"a\n\nb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Text([]byte(tc.in)); got != tc.want {
				t.Errorf("Text:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestTextOfCleanOutput(t *testing.T) {
	out := Clean([]byte(`<p>Hi <b>all</b>,</p><img src="http://t.example/p.gif"><blockquote>q</blockquote>`), Options{})
	if got, want := Text(out), "Hi all,\n\n> q"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
