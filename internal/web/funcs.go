package web

import (
	"fmt"
	"html/template"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/host"
)

var funcs = template.FuncMap{
	"when":    when,
	"roles":   func() []auth.Role { return auth.Roles },
	"iso":     iso,
	"text":    richText,
	"deref":   deref[string],
	"derefi":  deref[int64],
	"initial": initial,
	"add":     func(a, b int) int { return a + b },
	"bytes":   humanBytes,
	"pct":     func(f float64) string { return fmt.Sprintf("%.0f%%", f) },
	"dict":    dict,
	"byStore": byStore,
}

// storeGroup is the versions of one store, as the install form's select groups them.
type storeGroup struct {
	Store   string
	Choices []host.PlanChoice
}

// byStore groups consecutive choices of the same store (a plan lists them grouped, in the admin's order).
func byStore(cs []host.PlanChoice) []storeGroup {
	var out []storeGroup
	for _, c := range cs {
		if n := len(out); n > 0 && out[n-1].Store == c.Store {
			out[n-1].Choices = append(out[n-1].Choices, c)
			continue
		}
		out = append(out, storeGroup{Store: c.Store, Choices: []host.PlanChoice{c}})
	}
	return out
}

// when is an epoch-ms time as the pages show it, in UTC.
func when(ms int64) string {
	if ms <= 0 {
		return "never"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04 UTC")
}

// iso is an epoch-ms time for a <time datetime> attribute.
func iso(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// initial is the letter an app or user without an image is shown by.
func initial(s string) string {
	for _, r := range strings.TrimSpace(s) {
		return strings.ToUpper(string(r))
	}
	return "?"
}

var (
	mentionRe = regexp.MustCompile(`(^|[^\w@])@([A-Za-z0-9_.-]{1,64})`)
	paraRe    = regexp.MustCompile(`\n\s*\n`)
	codeRe    = regexp.MustCompile("`([^`\n]+)`")
	linkRe    = regexp.MustCompile(`https?://[^\s<>"']+[^\s<>"'.,;:!?)\]]`)
)

// mentionTmpl links a mentionRe match to the profile. A name is only [A-Za-z0-9_.-], which a path takes as it
// is, so it needs no escaping.
const mentionTmpl = `${1}<a class="mention" href="/ui/u/${2}">@${2}</a>`

// richText renders user-written text: escaped first, then paragraphs, "#" headings, `code`, http(s) links and
// @name mentions linked to the profile (the little Markdown catalog descriptions use). No markup the author
// typed survives, so no script from app text or a comment ever runs.
func richText(s string) template.HTML {
	var b strings.Builder
	for _, para := range paraRe.Split(strings.TrimSpace(s), -1) {
		if para == "" {
			continue
		}
		if h, ok := heading(para); ok {
			b.WriteString(h)
			continue
		}
		esc := template.HTMLEscapeString(para)
		esc = codeRe.ReplaceAllString(esc, "<code>$1</code>")
		esc = linkMentions(esc)
		b.WriteString("<p>" + strings.ReplaceAll(esc, "\n", "<br>") + "</p>")
	}
	return template.HTML(b.String())
}

// linkMentions links the http(s) URLs of escaped text, then the @name mentions between them: a mention inside
// a URL (https://mastodon.social/@ada) stays part of the link instead of nesting an anchor in its href. Links
// go first so that "@https://…" is still a link.
func linkMentions(esc string) string {
	var b strings.Builder
	last := 0
	for _, m := range linkRe.FindAllStringIndex(esc, -1) {
		link := esc[m[0]:m[1]]
		b.WriteString(mentionRe.ReplaceAllString(esc[last:m[0]], mentionTmpl))
		b.WriteString(`<a href="` + link + `" rel="nofollow noopener noreferrer">` + link + `</a>`)
		last = m[1]
	}
	b.WriteString(mentionRe.ReplaceAllString(esc[last:], mentionTmpl))
	return b.String()
}

// heading renders a one-line paragraph that starts with "#" as a heading below the page's own h1 and h2.
func heading(para string) (string, bool) {
	if strings.Contains(para, "\n") || !strings.HasPrefix(para, "#") {
		return "", false
	}
	level := len(para) - len(strings.TrimLeft(para, "#"))
	text := strings.TrimSpace(para[level:])
	if text == "" || level > 6 {
		return "", false
	}
	tag := "h3"
	if level > 1 {
		tag = "h4"
	}
	return "<" + tag + ">" + template.HTMLEscapeString(text) + "</" + tag + ">", true
}

// hasWord tells whether word occurs in s with a word boundary at both ends, as regexp `\bword\b` matches (an
// ASCII boundary), without compiling a regexp per word.
func hasWord(s, word string) bool {
	for off := 0; off <= len(s); {
		i := strings.Index(s[off:], word)
		if i < 0 {
			return false
		}
		i += off
		if wordBoundary(s, i) && wordBoundary(s, i+len(word)) {
			return true
		}
		off = i + 1
	}
	return false
}

// wordBoundary is regexp's \b at byte i of s: a word character ([0-9A-Za-z_]) on one side only.
func wordBoundary(s string, i int) bool {
	before := i > 0 && isWordByte(s[i-1])
	after := i < len(s) && isWordByte(s[i])
	return before != after
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// withParam is a query with key set to value (or removed when value is empty), as "?a=b&...".
func withParam(q url.Values, kv ...any) string {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k, v := fmt.Sprint(kv[i]), fmt.Sprint(kv[i+1])
		if v == "" || v == "0" && k == "page" {
			out.Del(k)
		} else {
			out.Set(k, v)
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return "?" + out.Encode()
}

// dict builds a map for passing several values to a partial.
func dict(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return m
}
