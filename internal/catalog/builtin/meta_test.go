package builtin

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/internal/catalog"
)

// Every built-in template carries its store metadata (stackhub.json): a tagline, categories, a homepage and an
// SVG icon shipped in the binary as a data: URL, which is not one of the stack's files. Its main image is its
// identity when another store has the same app.
func TestBuiltinMetadata(t *testing.T) {
	ts, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]string{"wordpress": "wordpress", "gitea": "gitea/gitea", "uptime-kuma": "louislam/uptime-kuma",
		"vaultwarden": "vaultwarden/server", "nextcloud": "nextcloud", "ghost": "ghost"}
	for _, tp := range ts {
		if tp.Tagline == "" || len(tp.Categories) == 0 || !strings.HasPrefix(tp.Homepage, "https://") {
			t.Errorf("%s: tagline %q, categories %v, homepage %q", tp.Key, tp.Tagline, tp.Categories, tp.Homepage)
		}
		svg, ok := strings.CutPrefix(tp.Icon, "data:image/svg+xml;base64,")
		body, err := base64.StdEncoding.DecodeString(svg)
		if !ok || err != nil || !strings.HasPrefix(string(body), "<svg ") || len(body) > 2048 {
			t.Errorf("%s: icon %.60q is not a small SVG data: URL", tp.Key, tp.Icon)
		}
		if _, ok := tp.Stack.Files["icon.svg"]; ok {
			t.Errorf("%s: the icon is among the stack's files", tp.Key)
		}
		if want, ok := images[tp.Key]; ok {
			if got := catalog.MainImage(tp.Stack); got != want {
				t.Errorf("%s: main image %q, want %q", tp.Key, got, want)
			}
		}
	}
}
