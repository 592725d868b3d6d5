package hub

import "testing"

func TestCategoryKey(t *testing.T) {
	same := [][]string{
		{"Media", "media", " MEDIA "},
		{"Tools", "Tool", "tools"},
		{"Utilities", "Utility"},
		{"Home Automation", "home-automation", "Home  automations"},
		{"Photos & Videos", "Photo and Video"},
		{"News", "news"},
	}
	for _, group := range same {
		for _, n := range group[1:] {
			if CategoryKey(n) != CategoryKey(group[0]) {
				t.Errorf("%q (%q) and %q (%q) are not one category", n, CategoryKey(n), group[0], CategoryKey(group[0]))
			}
		}
	}
	for _, pair := range [][2]string{{"News", "New"}, {"Access", "Acces"}, {"Media", "Medium"}, {"Games", "Gaming"}} {
		if CategoryKey(pair[0]) == CategoryKey(pair[1]) {
			t.Errorf("%q and %q became one category", pair[0], pair[1])
		}
	}
	if CategoryKey(" & ") != "and" || CategoryKey("--") != "" {
		t.Errorf("CategoryKey of no word: %q, %q", CategoryKey(" & "), CategoryKey("--"))
	}
}
