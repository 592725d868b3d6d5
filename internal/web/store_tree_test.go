package web

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/internal/hub"
)

// storeTreeString writes a tree as "name[current](child child)" for comparing nesting and order.
func storeTreeString(nodes []*storeCat) string {
	var parts []string
	for _, n := range nodes {
		s := n.Name
		if n.Current {
			s += "*"
		}
		if len(n.Children) > 0 {
			s += "(" + storeTreeString(n.Children) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestStoreTree(t *testing.T) {
	id := func(n int64) *int64 { return &n }
	cats := []hub.Category{
		{ID: 1, Name: "Tools"},
		{ID: 2, Name: "Editors", Parent: id(1)},
		{ID: 3, Name: "Games"},
		{ID: 4, Name: "Browsers", Parent: id(1)},
		{ID: 5, Name: "Vim", Parent: id(2)},
		{ID: 6, Name: "Orphan", Parent: id(99)}, // its parent is gone: shown at the top
		{ID: 7, Name: "Self", Parent: id(7)},    // its own parent: shown at the top
		{ID: 8, Name: "LoopA", Parent: id(9)},   // a cycle reaches no top: not shown
		{ID: 9, Name: "LoopB", Parent: id(8)},
		{ID: 10, Name: "Arcade", Parent: id(3)},
	}
	got := storeTreeString(storeTree(cats, 5, url.Values{}))
	want := "Games(Arcade) Orphan Self Tools(Browsers Editors(Vim*))"
	if got != want {
		t.Errorf("storeTree\n got %s\nwant %s", got, want)
	}
	if cats[6].Parent == nil {
		t.Error("storeTree changed the caller's categories")
	}
	if tree := storeTree(cats, 0, url.Values{"q": {"x"}, "page": {"3"}}); tree[0].Href != "/?category=3&q=x" {
		t.Errorf("Games links to %q, want the search kept and the page dropped", tree[0].Href)
	}
}
