package hub_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/catalog/builtin"
	"github.com/stackhub/stackhub/internal/hub"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// The built-in catalog is imported on the first start only, and its apps are installable versions.
func TestSeedCatalogOnFirstStart(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		ts, err := builtin.Templates()
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.Hub.SeedCatalog(t.Context(), ts)
		if err != nil || n != len(ts) || n < 12 {
			t.Fatalf("first seed: %d, %v", n, err)
		}
		var ids []int64
		s.Want(200, tu.Anon, "GET", "/app/all?max=1000", nil).JSON(t, &ids)
		if len(ids) != len(ts) {
			t.Errorf("apps after seeding = %d, want %d", len(ids), len(ts))
		}
		var versions []map[string]any
		s.Want(200, tu.Anon, "GET", "/app/1/updates", nil).JSON(t, &versions)
		if len(versions) == 0 || versions[0]["stack"] == nil {
			t.Errorf("a built-in app has no installable version: %v", versions)
		}
		// Deleting one and starting again does not bring it back, nor add anything.
		s.Want(410, tu.Admin, "DELETE", "/doge/app/1", nil)
		if n, err := s.Hub.SeedCatalog(t.Context(), ts); err != nil || n != 0 {
			t.Errorf("second seed: %d, %v", n, err)
		}
		s.Want(200, tu.Anon, "GET", "/app/all?max=1000", nil).JSON(t, &ids)
		if len(ids) != len(ts)-1 {
			t.Errorf("apps after the second start = %d, want %d", len(ids), len(ts)-1)
		}
	})
}

// Templates list their newest version first and it is the default: it gets the highest reversion, so the
// version list reads newest first and an instance of an older version sees an update; a newer library adds its
// new version above them.
func TestImportOrdersVersionsByAge(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		wp := twoVersionWordPress(t)
		res, err := s.Hub.ImportTemplate(t.Context(), auth.System, wp)
		if err != nil {
			t.Fatal(err)
		}
		newestFirst := func() []string {
			var versions []map[string]any
			s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d/updates", res.App), nil).JSON(t, &versions)
			slices.SortFunc(versions, func(a, b map[string]any) int { return int(b["rev"].(float64) - a["rev"].(float64)) })
			var out []string
			for _, v := range versions {
				out = append(out, v["ver"].(string))
			}
			return out
		}
		if got := newestFirst(); !slices.Equal(got, wp.Versions) {
			t.Errorf("versions by falling reversion = %v, want the template's order %v", got, wp.Versions)
		}
		newer := wp
		newer.Versions = append([]string{"99.0"}, wp.Versions...)
		if _, err := s.Hub.ImportTemplate(t.Context(), auth.System, newer); err != nil {
			t.Fatalf("import a newer library: %v", err)
		}
		if got := newestFirst(); !slices.Equal(got, newer.Versions) {
			t.Errorf("after a newer library: %v, want %v", got, newer.Versions)
		}
	})
}

// What Compose reads its own way is imported with warnings, kept with every version and returned to the admin.
func TestImportKeepsWarnings(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		tpl := catalog.Template{Key: "quirky", Name: "Quirky", Release: true, Dist: "community", Versions: []string{"2", "1"},
			Stack: catalog.Stack{Compose: "services:\n  app:\n    image: busybox:$W9_VERSION\n    container_name: $W9_ID\n" +
				"    environment:\n      A: $UNSET\n", Env: "W9_VERSION=2\nA=1\nA=2\n"}}
		res, err := s.Hub.ImportTemplate(t.Context(), auth.System, tpl)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 2 || !strings.HasPrefix(res.Warnings[0], ".env line 3: A is defined twice") ||
			!strings.HasPrefix(res.Warnings[1], "docker-compose.yml line 6: variable UNSET is not defined") {
			t.Errorf("warnings = %q", res.Warnings)
		}
		var versions []struct {
			Stack catalog.Stack `json:"stack"`
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d/updates", res.App), nil).JSON(t, &versions)
		if len(versions) != 2 {
			t.Fatalf("versions = %+v", versions)
		}
		for _, v := range versions {
			if len(v.Stack.Warnings) != 2 {
				t.Errorf("a stored version's warnings = %q", v.Stack.Warnings)
			}
		}
	})
}

// Large stacks: the admin imports a template over 1 MiB (with a binary file) over HTTP; its files are stored once
// by content however many versions share them, and read back intact. What a user publishes keeps the limit the
// administrator sets (--max-stack-size), and the refusal names the limit and the setting.
func TestLargeStacks(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		wp := twoVersionWordPress(t)
		big := strings.Repeat("0123456789abcdef\n", 3<<20/17) // 3 MiB of text
		binary := string([]byte{0x7f, 'E', 'L', 'F', 0, 0xff, 0xfe, 0x80})
		wp.Stack.Files = catalog.Files{"src/big.txt": big, "bin/app": binary}
		before, err := s.Store.Q().CountStackFiles(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.New(s.URL, tu.AdminToken).ImportTemplate(t.Context(), wp)
		if err != nil {
			t.Fatalf("the admin's import of a %d-byte stack: %v", len(big), err)
		}
		if len(res.Added) != len(wp.Versions) {
			t.Fatalf("imported %v, want every version of %v", res.Added, wp.Versions)
		}
		after, err := s.Store.Q().CountStackFiles(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if after-before != 2 {
			t.Errorf("%d versions sharing 2 files stored %d file contents, want 2", len(wp.Versions), after-before)
		}
		var versions []struct {
			Stack catalog.Stack `json:"stack"`
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d/updates", res.App), nil).JSON(t, &versions)
		for i, v := range versions {
			if v.Stack.Files["src/big.txt"] != big || v.Stack.Files["bin/app"] != binary {
				t.Errorf("version %d reads back files of %d and %q bytes", i, len(v.Stack.Files["src/big.txt"]), v.Stack.Files["bin/app"])
			}
		}

		// A user's publish over the limit is refused, naming the limit and the setting; nothing is stored. A body
		// within twice the limit reaches the catalog's check; a larger one is refused before it is read whole.
		u := s.NewUser("bigpublisher")
		aid := s.Want(200, u, "POST", "/app", map[string]any{"name": "Big", "package": "big"}).Int(t)
		medium := big[:3<<19] // 1.5 MiB
		over := map[string]any{"compose": wp.Stack.Compose, "env": wp.Stack.Env, "files": map[string]string{"src/big.txt": medium}}
		r := s.Do(u, "POST", fmt.Sprintf("/api/v1/apps/%d/versions", aid), map[string]any{"ver": "1", "stack": over})
		if r.Status != 400 || !strings.Contains(r.Text(), "over the limit of 1048576 bytes") || !strings.Contains(r.Text(), "--max-stack-size") {
			t.Errorf("a user's 1.5 MiB publish: %d %.300s", r.Status, r.Body)
		}
		stack := map[string]any{"compose": wp.Stack.Compose, "env": wp.Stack.Env, "files": map[string]string{"src/big.txt": big}}
		r = s.Do(u, "POST", fmt.Sprintf("/api/v1/apps/%d/versions", aid), map[string]any{"ver": "1", "stack": stack})
		if r.Status != 413 || !strings.Contains(r.Text(), "over 2097152 bytes") || !strings.Contains(r.Text(), "--max-stack-size") {
			t.Errorf("a user's 3 MiB publish: %d %.300s", r.Status, r.Body)
		}
		if n := s.Want(200, tu.Anon, "GET", fmt.Sprintf("/updates/%d", aid), nil).Int(t); n != 0 {
			t.Errorf("a refused publish stored %d versions", n)
		}

		// With the limit raised, the same publish goes through.
		s2 := tu.StartServer(t, e, tu.Options{MaxStackSize: 4 << 20})
		u2 := s2.NewUser("bigpublisher")
		aid2 := s2.Want(200, u2, "POST", "/app", map[string]any{"name": "Big", "package": "big"}).Int(t)
		s2.Want(201, u2, "POST", fmt.Sprintf("/api/v1/apps/%d/versions", aid2), map[string]any{"ver": "1", "stack": stack})
	})
}

// twoVersionWordPress is the built-in WordPress template, which lists two versions.
func twoVersionWordPress(t *testing.T) catalog.Template {
	t.Helper()
	ts, err := builtin.Templates()
	if err != nil {
		t.Fatal(err)
	}
	for _, tpl := range ts {
		if tpl.Key == "wordpress" && len(tpl.Versions) >= 2 {
			return tpl
		}
	}
	t.Fatal("the built-in catalog has no WordPress with two versions; these tests need one")
	return catalog.Template{}
}

// A package that belongs to a user's app is refused whatever store the template comes from; an app that every
// store deprecates is hidden from the store page but kept, and shown again when a store offers it undeprecated;
// a store's category matches an existing nested category of the same name.
func TestImportStoresRefusalsHiddenAndNestedCategories(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		admin := auth.Actor{Admin: true, Enabled: true}
		wp := twoVersionWordPress(t)

		alice := s.NewUser("alice")
		s.Want(200, alice, "POST", "/app", map[string]any{"name": "Mine", "package": "mine"})
		mine := wp
		mine.Key, mine.Store = "mine", "casaos"
		_, err := s.Hub.ImportTemplate(t.Context(), admin, mine)
		if e := apperr.As(err); e.Kind != apperr.Conflict || !strings.Contains(e.Message, "belongs to user") {
			t.Errorf("a user's package: %v", err)
		}

		parent, err := s.Hub.CreateCategory(t.Context(), admin, 0, "Software")
		if err != nil {
			t.Fatal(err)
		}
		nested, err := s.Hub.CreateCategory(t.Context(), admin, parent, "Content Management")
		if err != nil {
			t.Fatal(err)
		}
		old := wp
		old.Key, old.Store, old.Hidden, old.Categories = "oldpress", "runtipi", true, []string{"content management"}
		res, err := s.Hub.ImportTemplate(t.Context(), admin, old)
		if err != nil {
			t.Fatal(err)
		}
		browse := func() []int64 {
			apps, err := s.Hub.Browse(t.Context(), hub.BrowseQuery{Category: parent, Page: hub.Page{Limit: 100}})
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, a := range apps {
				ids = append(ids, a.ID)
			}
			return ids
		}
		if ids := browse(); len(ids) != 0 {
			t.Errorf("a deprecated app is listed: %v", ids)
		}
		d, err := s.Hub.AppDetails(t.Context(), "oldpress")
		if err != nil || !d.Hidden || len(d.Categories) != 1 || d.Categories[0].ID != nested {
			t.Errorf("the deprecated app: %+v, %v (want hidden, in category %d)", d, err, nested)
		}
		fresh := old
		fresh.Store, fresh.Hidden = "casaos", false
		if _, err := s.Hub.ImportTemplate(t.Context(), admin, fresh); err != nil {
			t.Fatal(err)
		}
		if ids := browse(); !slices.Equal(ids, []int64{res.App}) {
			t.Errorf("offered undeprecated by a second store, the app is listed under its parent category: %v", ids)
		}
	})
}

// Stores that name the same image on different registries offer one app; another owner's image of the same name
// is another app, imported under <key>-<store>.
func TestImportJoinsTheSameImageFromAnotherRegistry(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		tpl := func(store, image string) catalog.Template {
			return catalog.Template{Key: "regapp", Name: "Reg App", Release: true, Dist: "community", Store: store,
				Versions: []string{"1.0"}, Stack: catalog.Stack{Compose: "services:\n  app:\n    image: " + image +
					":$W9_VERSION\n    container_name: $W9_ID\n", Env: "W9_VERSION=1.0\n"}}
		}
		first, err := s.Hub.ImportTemplate(t.Context(), auth.System, tpl("casaos", "lscr.io/acme/regapp"))
		if err != nil || !first.Created {
			t.Fatalf("first store: %+v, %v", first, err)
		}
		for _, st := range []struct{ store, image string }{{"runtipi", "acme/regapp"}, {"cosmos", "docker.io/acme/regapp"}} {
			res, err := s.Hub.ImportTemplate(t.Context(), auth.System, tpl(st.store, st.image))
			if err != nil || !res.Joined || res.App != first.App || res.Renamed != "" {
				t.Errorf("%s with %s: %+v, %v; want it joined to app %d", st.store, st.image, res, err, first.App)
			}
		}
		other, err := s.Hub.ImportTemplate(t.Context(), auth.System, tpl("umbrel", "ghcr.io/someone-else/regapp"))
		if err != nil || other.App == first.App || other.Key != "regapp-umbrel" || !strings.Contains(other.Renamed, "someone-else/regapp") {
			t.Errorf("another owner's image: %+v, %v; want regapp-umbrel", other, err)
		}
	})
}
