package web

import (
	"html/template"
	"slices"
	"testing"
	"text/template/parse"
)

// Every page parses (the server parses each only when it is first shown, so this is where a broken template
// fails), with only the partial files it needs (found by scanning the sources); the parse trees must agree:
// every template a page's set calls is defined in that set.
func TestEveryPageParses(t *testing.T) {
	pages, err := pageFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 10 {
		t.Fatalf("%d pages found, want them all", len(pages))
	}
	sets := map[string]*template.Template{}
	for name, p := range pages {
		page, err := p.template()
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := p.template(); again != page {
			t.Errorf("page %s is parsed again on its second use", name)
		}
		sets[name] = page
		defined := map[string]bool{}
		var called []string
		for _, tm := range page.Templates() {
			defined[tm.Name()] = true
			if tm.Tree != nil {
				called = appendCalls(called, tm.Tree.Root)
			}
		}
		for _, c := range called {
			if !defined[c] {
				t.Errorf("page %s calls template %q, which its set does not define", name, c)
			}
		}
	}
	// The point of it: a page that calls no community partial does not carry them.
	if slices.ContainsFunc(sets["server"].Templates(), func(tm *template.Template) bool { return tm.Name() == "community-comment" }) {
		t.Error("the server page carries the community partials it never calls")
	}
}

// appendCalls appends the names of the templates that n calls, at any depth.
func appendCalls(out []string, n parse.Node) []string {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return out
		}
		for _, c := range n.Nodes {
			out = appendCalls(out, c)
		}
	case *parse.TemplateNode:
		out = append(out, n.Name)
	case *parse.IfNode:
		out = appendCalls(appendCalls(out, n.List), n.ElseList)
	case *parse.RangeNode:
		out = appendCalls(appendCalls(out, n.List), n.ElseList)
	case *parse.WithNode:
		out = appendCalls(appendCalls(out, n.List), n.ElseList)
	}
	return out
}
