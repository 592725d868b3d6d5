package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/catalog/builtin"
	"github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// storeTemplate writes key into lib with compose and env and reads it back with the Websoft9 importer, as
// another store's importer would hand it over: then it is marked with store and versions.
func storeTemplate(t *testing.T, lib *testutil.Library, key, compose, env, storeName string, versions ...string) catalog.Template {
	t.Helper()
	lib.Add(t, key, compose, env, versions...)
	ts, refused, err := catalog.ReadWebsoft9(lib.Dir, false)
	if err != nil || len(refused) > 0 {
		t.Fatalf("read %s: %v %+v", key, err, refused)
	}
	i := slices.IndexFunc(ts, func(tp catalog.Template) bool { return tp.Key == key })
	if i < 0 {
		t.Fatalf("%s is not in the library", key)
	}
	tp := ts[i]
	tp.Store = storeName
	return tp
}

// appDetails is GET /api/v1/apps/{app}.
type appDetails struct {
	ID          int64    `json:"id"`
	Key         string   `json:"key"`
	Tagline     string   `json:"tagline"`
	IconURL     string   `json:"icon_url"`
	Screenshots []string `json:"screenshots"`
	Homepage    string   `json:"homepage"`
	Categories  []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"categories"`
	Stores []struct {
		Store string `json:"store"`
		Image string `json:"image"`
	} `json:"stores"`
	Versions []struct {
		Rev         int64  `json:"rev"`
		Version     string `json:"version"`
		Store       string `json:"store"`
		Installable bool   `json:"installable"`
	} `json:"versions"`
}

// The same app from two stores (same key, same image of its main service) is one app, one page, with both
// stores' versions marked; each store's version installs on the real Docker Engine; no store named takes the
// admin's preferred one; a key that names an app with another image becomes <key>-<store>; categories from the
// two stores merge by name; importing again changes nothing; the GeekApk shapes stay as they were.
func TestOneAppFromTwoStores(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		dockertest.Image(t, "stackhub-test/web:1.2.3")
		s := testutil.StartServer(t, e, testutil.Options{})
		lib := testutil.NewLibrary(t)
		icon := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8" fill="#c00"/></svg>`

		casa := storeTemplate(t, lib, "multi", testutil.WebCompose, "READY_AFTER=0\nFROM_STORE=casaos\n", "casaos", "1.2.3")
		casa.Tagline, casa.Categories = "Media for everyone", []string{"Media", "Tools"}
		casa.Icon = "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(icon))
		casa.Screenshots, casa.Homepage = []string{"https://example.org/shot.png"}, "https://example.org"
		tipi := storeTemplate(t, lib, "multi", testutil.WebCompose, "READY_AFTER=0\nFROM_STORE=runtipi\n", "runtipi", "2.0", "1.2.3")
		tipi.Tagline, tipi.Categories, tipi.Icon = "Another tagline", []string{"media", "Tool", "Utilities"}, "https://example.org/tipi.png"
		other := storeTemplate(t, testutil.NewLibrary(t), "multi",
			strings.ReplaceAll(testutil.WebCompose, "stackhub-test/web", "stackhub-test/other"), "READY_AFTER=0\n", "umbrel", "1.0")

		c := client.New(s.URL, testutil.AdminToken)
		ctx := context.Background()
		importAll := func() []*client.ImportResult {
			var out []*client.ImportResult
			for _, tp := range []catalog.Template{casa, tipi, other} {
				res, err := c.ImportTemplate(ctx, tp)
				if err != nil {
					t.Fatalf("import %s from %s: %v", tp.Key, tp.Store, err)
				}
				out = append(out, res)
			}
			return out
		}
		first := importAll()
		if !first[0].Created || first[1].Created || !first[1].Joined || first[1].App != first[0].App ||
			!slices.Equal(first[1].Added, []string{"1.2.3", "2.0"}) {
			t.Errorf("the second store's import: %+v (first %+v)", first[1], first[0])
		}
		if r := first[2]; !r.Created || r.Key != "multi-umbrel" || r.App == first[0].App ||
			!strings.Contains(r.Renamed, "stackhub-test/web") || !strings.Contains(r.Renamed, "stackhub-test/other") {
			t.Errorf("a key collision with another image: %+v", r)
		}
		aid := first[0].App

		var d appDetails
		s.Want(200, testutil.Anon, "GET", "/api/v1/apps/multi", nil).JSON(t, &d)
		got := []string{}
		for _, v := range d.Versions {
			got = append(got, v.Store+":"+v.Version)
		}
		if d.ID != aid || !slices.Equal(got, []string{"runtipi:2.0", "runtipi:1.2.3", "casaos:1.2.3"}) {
			t.Errorf("versions = %v (app %d, want %d)", got, d.ID, aid)
		}
		if len(d.Stores) != 2 || d.Stores[0].Store != "casaos" || d.Stores[1].Store != "runtipi" || d.Stores[0].Image != "stackhub-test/web" {
			t.Errorf("stores = %+v", d.Stores)
		}
		cats := []string{}
		for _, ct := range d.Categories {
			cats = append(cats, ct.Name)
		}
		if !slices.Equal(cats, []string{"Media", "Tools", "Utilities"}) {
			t.Errorf("categories = %v, want Media, Tools, Utilities (media and Tool merged)", cats)
		}
		iconPath := fmt.Sprintf("/ui/apps/%d/icon", aid)
		if d.Tagline != "Media for everyone" || d.IconURL != iconPath || d.Homepage != "https://example.org" ||
			!slices.Equal(d.Screenshots, []string{"https://example.org/shot.png"}) {
			t.Errorf("metadata = %+v; want the first store's", d)
		}
		res, err := http.Get(s.URL + iconPath)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/svg+xml" || string(body) != icon ||
			!strings.Contains(res.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("icon: %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), body)
		}

		// The GeekApk API: the same shapes, every version listed by reversion, the app in its first category.
		var ups []map[string]any
		s.Want(200, testutil.Anon, "GET", fmt.Sprintf("/app/%d/updates", aid), nil).JSON(t, &ups)
		if len(ups) != 3 {
			t.Fatalf("GeekApk updates: %d, want 3", len(ups))
		}
		for _, u := range ups {
			if _, ok := u["store"]; ok {
				t.Errorf("a GeekApk update shows a store: %v", u)
			}
		}
		var app map[string]any
		s.Want(200, testutil.Anon, "GET", fmt.Sprintf("/app/%d", aid), nil).JSON(t, &app)
		if _, ok := app["tagline"]; ok || app["icon_url"] != iconPath || app["category"] != float64(d.Categories[0].ID) {
			t.Errorf("GeekApk app: %v", app)
		}
		var all []map[string]any
		s.Want(200, testutil.Anon, "GET", "/category/all", nil).JSON(t, &all)
		if len(all) != 3 {
			t.Errorf("categories after merging: %v", all)
		}

		// Importing again changes nothing.
		again := importAll()
		for i, r := range again {
			if r.Created || r.Joined || len(r.Added) > 0 || r.App != first[i].App {
				t.Errorf("import again %d: %+v", i, r)
			}
		}
		var d2 appDetails
		s.Want(200, testutil.Anon, "GET", "/api/v1/apps/multi", nil).JSON(t, &d2)
		if a, b := mustJSON(t, d), mustJSON(t, d2); a != b {
			t.Errorf("the app changed on a second import:\n%s\n%s", a, b)
		}
		s.Want(200, testutil.Anon, "GET", "/category/all", nil).JSON(t, &all)
		if len(all) != 3 {
			t.Errorf("categories after importing again: %d", len(all))
		}

		// The store page: one card, its tagline and categories; a merged category lists it.
		admin := signIn(t, s, "admin")
		_, page := get(t, admin, s.URL+"/")
		if n := strings.Count(page, fmt.Sprintf(`id="app-%d"`, aid)); n != 1 || !strings.Contains(page, "Media for everyone") ||
			!strings.Contains(page, `src="`+iconPath+`"`) || !strings.Contains(page, ">Utilities</a>") {
			t.Errorf("store page: %d cards of the app, or no tagline, icon or categories", n)
		}
		_, page = get(t, admin, fmt.Sprintf("%s/?category=%d", s.URL, d.Categories[2].ID))
		if !strings.Contains(page, fmt.Sprintf(`id="app-%d"`, aid)) {
			t.Error("the Utilities category (from the second store only) does not list the app")
		}
		// The app page: both stores' versions marked, the categories.
		_, page = get(t, admin, fmt.Sprintf("%s/ui/apps/%d", s.URL, aid))
		for _, want := range []string{`data-store="casaos"`, `data-store="runtipi"`, "Media for everyone", ">Tools</a>",
			"install?version=runtipi:1.2.3", "install?version=casaos:1.2.3"} {
			if !strings.Contains(page, want) {
				t.Errorf("the app page lacks %s", want)
			}
		}
		// The install dialog proposes the preferred store's newest version (casaos before runtipi by default).
		_, page = get(t, admin, fmt.Sprintf("%s/ui/apps/%d/install", s.URL, aid))
		if !strings.Contains(page, `<option value="casaos:1.2.3" selected>`) || !strings.Contains(page, `<optgroup label="runtipi">`) {
			t.Errorf("install dialog: no casaos:1.2.3 selected, or no runtipi group")
		}

		// Each store's version installs on the real Docker Engine and runs that store's template.
		for _, in := range []map[string]any{
			{"app": "multi", "name": "mcasa", "store": "casaos"},
			{"app": "multi", "name": "mtipi", "version": "runtipi:1.2.3"},
		} {
			s.Want(202, testutil.Admin, "POST", "/api/v1/installs", in)
			name := in["name"].(string)
			info := waitInstance(t, s, name, "1")
			want := strings.TrimPrefix(name, "m")
			if want == "casa" {
				want = "casaos"
			} else {
				want = "runtipi"
			}
			if info["store"] != want || info["version"] != "1.2.3" {
				t.Errorf("%s runs %v from %v, want 1.2.3 from %s", name, info["version"], info["store"], want)
			}
			// An update is a newer version of the same store: runtipi has 2.0, casaos nothing newer (although
			// runtipi's versions have higher reversions).
			if newer := want == "runtipi"; info["update_available"] != newer || (newer && info["latest_version"] != "2.0") {
				t.Errorf("%s: update_available %v, latest %v", name, info["update_available"], info["latest_version"])
			}
			env := dockertest.Docker(t, "inspect", "-f", "{{json .Config.Env}}", info["containerName"].(string))
			if !strings.Contains(env, "FROM_STORE="+want) {
				t.Errorf("%s's container env %s, want FROM_STORE=%s", name, env, want)
			}
			s.Want(204, testutil.Admin, "DELETE", "/api/v1/installs/"+name+"?purge=true", nil)
		}
	})
}

// The built-in catalog carries categories and icons: the store page shows its category tree and each app's
// own icon, served by the server, and no letter placeholder.
func TestBuiltinCatalogCategoriesAndIcons(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		ts, err := builtin.Templates()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Hub.SeedCatalog(t.Context(), ts); err != nil {
			t.Fatal(err)
		}
		res, page := get(t, browserClient(t), s.URL+"/")
		if res.StatusCode != 200 {
			t.Fatalf("store page: %d", res.StatusCode)
		}
		for _, want := range []string{">Database</a>", ">Monitoring</a>", ">Website</a>", "Build websites and blogs"} {
			if !strings.Contains(page, want) {
				t.Errorf("the store page lacks %s", want)
			}
		}
		if strings.Contains(page, "icon-letter") {
			t.Error("the store page still shows a letter placeholder")
		}
		wp, err := s.Store.Q().AppByPackage(t.Context(), "wordpress")
		if err != nil {
			t.Fatal(err)
		}
		iconPath := fmt.Sprintf("/ui/apps/%d/icon", wp.ID)
		if !strings.Contains(page, `src="`+iconPath+`"`) {
			t.Errorf("the store page does not show WordPress's icon %s", iconPath)
		}
		res, body := get(t, browserClient(t), s.URL+iconPath)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(body, "<svg") {
			t.Errorf("WordPress's icon: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		var d appDetails
		s.Want(200, testutil.Anon, "GET", "/api/v1/apps/wordpress", nil).JSON(t, &d)
		if len(d.Categories) != 2 || len(d.Stores) != 1 || d.Stores[0].Store != "websoft9" || d.Stores[0].Image != "wordpress" ||
			d.Versions[0].Store != "websoft9" {
			t.Errorf("built-in WordPress: %+v", d)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
