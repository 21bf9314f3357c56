package htmlclean

import (
	"strings"
	"testing"
)

func TestSignOff(t *testing.T) {
	signOff := func(l string) bool { return l == "Jane Doe" || strings.HasSuffix(l, ", Jane") }
	tests := []struct {
		name, in string
		gone     []string // text that must be removed
		kept     []string // text that must stay
	}{
		{"br lines to the end", `<p>Bring a mug.</p><p>Jane Doe<br>Riverside Dental | 0161 496 0742</p>`,
			[]string{"Riverside", "0161"}, []string{"Bring a mug.", "Jane Doe"}},
		{"one paragraph per line, blank paragraph after",
			"<p>Text.</p>\n<p>&nbsp;</p>\n<p><b>Jane Doe</b></p>\n<p>Senior Accountant</p>\n<p>Direct: +44 20</p>\n<p>&nbsp;</p>\n<div><p>From: Bob</p></div>",
			[]string{"Senior Accountant", "+44 20"}, []string{"Text.", "Jane Doe", "From: Bob"}},
		{"comma sign-off then quote", `<div>Thanks, Jane<br>Acme Ltd</div><blockquote>quoted</blockquote>`,
			[]string{"Acme"}, []string{"Thanks, Jane", "quoted"}},
		{"name inside running text is no sign-off", `<p>I met her.<br>Jane Doe<br>said hello<br>and more</p><p>end</p>`,
			nil, []string{"said hello", "and more"}},
		{"block runs on: text, not a signature", `<p>Jane Doe</p><p>a</p><p>b</p><p>c</p><p>d</p><p>e</p><p>f</p><p>g</p>`,
			nil, []string{"a", "g"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := string(Clean([]byte(tt.in), Options{SignOff: signOff}))
			for _, g := range tt.gone {
				if strings.Contains(out, g) {
					t.Errorf("%q kept:\n%s", g, out)
				}
			}
			for _, k := range tt.kept {
				if !strings.Contains(out, k) {
					t.Errorf("%q lost:\n%s", k, out)
				}
			}
		})
	}
}
