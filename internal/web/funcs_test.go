package web

import (
	"strings"
	"testing"
)

func TestRichText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"hello", "<p>hello</p>"},
		{"# Title\n\nbody", "<h3>Title</h3><p>body</p>"},
		{"## Data\n\nuse `docker ps`", "<h4>Data</h4><p>use <code>docker ps</code></p>"},
		{"#hashtag in text\nsecond line", "<p>#hashtag in text<br>second line</p>"},
		{"# <script>alert(1)</script>", "<h3>&lt;script&gt;alert(1)&lt;/script&gt;</h3>"},
		{"`<img src=x onerror=alert(1)>`", "<p><code>&lt;img src=x onerror=alert(1)&gt;</code></p>"},
		{"hi @ada_1, see https://example.com/a?b=1.", `<p>hi <a class="mention" href="/ui/u/ada_1">@ada_1</a>, see <a href="https://example.com/a?b=1" rel="nofollow noopener noreferrer">https://example.com/a?b=1</a>.</p>`},
		{"mail me: bob@example.com", "<p>mail me: bob@example.com</p>"},
		// A mention inside a URL stays part of the link, not an anchor nested in its href and text.
		{"see https://mastodon.social/@ada, or ask @bob", `<p>see <a href="https://mastodon.social/@ada" rel="nofollow noopener noreferrer">https://mastodon.social/@ada</a>, or ask <a class="mention" href="/ui/u/bob">@bob</a></p>`},
		{`javascript:alert(1) "quoted"`, "<p>javascript:alert(1) &#34;quoted&#34;</p>"},
	}
	for _, c := range cases {
		if got := string(richText(c.in)); got != c.want {
			t.Errorf("richText(%q)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	if got := string(richText("<b>x</b>")); strings.Contains(got, "<b>") {
		t.Errorf("markup survived: %s", got)
	}
}

// hasWord places a refused setting's message under its input; it must match as `\bname\b` would.
func TestHasWord(t *testing.T) {
	cases := []struct {
		s, word string
		want    bool
	}{
		{"setting W9_HTTP_PORT_SET must be a port number", "W9_HTTP_PORT_SET", true},
		{"port 80 for W9_HTTP_PORT_SET is already in use", "W9_HTTP_PORT_SET", true},
		{"setting W9_HTTP_PORT_SET2 must be a port", "W9_HTTP_PORT_SET", false},
		{"setting XW9_HTTP_PORT_SET must be a port", "W9_HTTP_PORT_SET", false},
		{"W9_PORT, then W9_PORT_SET", "W9_PORT_SET", true},
		{"W9_PORT_SETX and W9_PORT_SET.", "W9_PORT_SET", true},
		{"DB.NAME is missing", "DB.NAME", true},
		{"it offers A, B", "C", false},
	}
	for _, c := range cases {
		if got := hasWord(c.s, c.word); got != c.want {
			t.Errorf("hasWord(%q, %q) = %v, want %v", c.s, c.word, got, c.want)
		}
	}
}
