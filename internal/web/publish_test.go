package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/internal/testutil"
)

const (
	// pplBadCompose binds a path outside its project, which no stack may.
	pplBadCompose  = "services:\n  web:\n    image: nginx:alpine\n    volumes:\n      - ../../etc:/x\n"
	pplGoodCompose = "services:\n  web:\n    image: nginx:alpine\n    ports:\n      - \"${W9_HTTP_PORT_SET}:80\"\n"
	pplGoodEnv     = "W9_HTTP_PORT_SET=8080\n"
)

func TestPublishAppAndVersion(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		s.NewUser("alice")
		s.NewUser("bob")
		tools := s.Want(http.StatusOK, testutil.Admin, "POST", "/doge/category/0", "Tools").Int(t)
		c := signIn(t, s, "alice")

		r := pplWant(t, pplGet(t, browserClient(t), s.URL+"/ui/publish"), http.StatusSeeOther, "anonymous publish page")
		if !strings.HasPrefix(r.Location, "/ui/signin") {
			t.Errorf("anonymous visitor sent to %q, want sign in", r.Location)
		}
		page := pplWant(t, pplGet(t, c, s.URL+"/ui/publish"), 200, "publish page").Body
		if !strings.Contains(page, fmt.Sprintf(`<option value="%d">Tools</option>`, tools)) {
			t.Errorf("the category select lacks Tools:\n%s", page)
		}

		// A blank name is refused next to the name field, and what was typed stays.
		form := url.Values{"name": {" "}, "package": {"org.example.wiki"}, "category": {strconv.FormatInt(tools, 10)},
			"desc": {"A wiki"}, "previews": {"https://x.example/1.png\nhttps://x.example/2.png"}, "size": {"12"}}
		page = pplWant(t, pplPost(t, c, s.URL+"/ui/publish", form), http.StatusBadRequest, "blank name").Body
		if !strings.Contains(page, `id="name-error"`) || !strings.Contains(page, `aria-describedby="name-error"`) {
			t.Errorf("no error next to the name field:\n%s", page)
		}
		if !strings.Contains(page, `value="org.example.wiki"`) ||
			!strings.Contains(page, fmt.Sprintf(`<option value="%d" selected>Tools</option>`, tools)) {
			t.Error("the typed package or category was lost")
		}
		if n := strings.TrimSpace(s.Want(http.StatusOK, testutil.Anon, "GET", "/app/all", nil).Text()); n != "[]" {
			t.Errorf("a refused app was stored: /app/all = %s", n)
		}

		form.Set("name", "Wiki")
		r = pplWant(t, pplPost(t, c, s.URL+"/ui/publish", form), http.StatusSeeOther, "publish app")
		aid, err := strconv.ParseInt(strings.TrimPrefix(r.Location, "/ui/apps/"), 10, 64)
		if err != nil {
			t.Fatalf("publish redirected to %q, want /ui/apps/{aid}", r.Location)
		}
		var app struct {
			Name     string `json:"name"`
			Package  string `json:"package"`
			Category int64  `json:"category"`
			Previews string `json:"previews"`
			Size     int64  `json:"size"`
		}
		s.Want(http.StatusOK, testutil.Anon, "GET", fmt.Sprintf("/app/%d", aid), nil).JSON(t, &app)
		if app.Name != "Wiki" || app.Package != "org.example.wiki" || app.Category != tools || app.Size != 12 ||
			app.Previews != "https://x.example/1.png;https://x.example/2.png" {
			t.Errorf("stored app = %+v", app)
		}
		// The package is unique: the conflict shows next to the package field.
		page = pplWant(t, pplPost(t, c, s.URL+"/ui/publish", form), http.StatusConflict, "taken package").Body
		if !strings.Contains(page, `id="package-error"`) {
			t.Errorf("no error next to the package field:\n%s", page)
		}

		newVersion := fmt.Sprintf("%s/ui/apps/%d/versions/new", s.URL, aid)
		page = pplWant(t, pplGet(t, c, newVersion), 200, "version form").Body
		if !strings.Contains(page, `name="rev" type="number" value="1"`) {
			t.Errorf("the reversion is not suggested as 1:\n%s", page)
		}
		// Only the owner (or the admin) may add versions: the service refuses bob.
		bob := signIn(t, s, "bob")
		pplWant(t, pplGet(t, bob, newVersion), http.StatusForbidden, "bob's version form")
		v := url.Values{"ver": {"1.0"}, "rev": {"1"}, "updates": {"First"}, "compose": {pplGoodCompose}, "env": {pplGoodEnv}}
		pplWant(t, pplPost(t, bob, newVersion, v), http.StatusForbidden, "bob publishes")

		// A broken compose file: the error is next to the compose field, the text stays, nothing is stored.
		v.Set("compose", pplBadCompose)
		page = pplWant(t, pplPost(t, c, newVersion, v), http.StatusBadRequest, "broken compose").Body
		errText := pplBetween(t, page, `id="compose-error"`, "</p>")
		if !strings.Contains(errText, "line 5") || !strings.Contains(errText, "../../etc") {
			t.Errorf("compose error = %q, want the line and the path", errText)
		}
		if !strings.Contains(page, `aria-describedby="compose-error" aria-invalid="true">services:`) ||
			!strings.Contains(page, "- ../../etc:/x") {
			t.Errorf("the compose text area is not marked invalid or lost its text:\n%s", page)
		}
		if strings.Contains(page, `id="env-error"`) {
			t.Error("the good .env got an error")
		}
		if n := s.Want(http.StatusOK, testutil.Anon, "GET", fmt.Sprintf("/updates/%d", aid), nil).Int(t); n != 0 {
			t.Fatalf("a refused version was stored: %d versions", n)
		}

		// A broken .env is reported next to the .env field.
		v.Set("compose", pplGoodCompose)
		v.Set("env", "W9_HTTP_PORT_SET=not-a-port\n")
		page = pplWant(t, pplPost(t, c, newVersion, v), http.StatusBadRequest, "broken env").Body
		if !strings.Contains(page, `id="env-error"`) || strings.Contains(page, `id="compose-error"`) {
			t.Errorf("the .env problem is not next to the .env field:\n%s", page)
		}

		v.Set("env", pplGoodEnv)
		v.Add("file_path", "src/init.sh")
		v.Add("file_body", "echo hi")
		v.Set("cpu", "1")
		r = pplWant(t, pplPost(t, c, newVersion, v), http.StatusSeeOther, "good version")
		if r.Location != fmt.Sprintf("/ui/apps/%d", aid) {
			t.Errorf("publishing a version went to %q", r.Location)
		}
		var ups []struct {
			Ver   string `json:"ver"`
			Rev   int64  `json:"rev"`
			Stack struct {
				Compose      string            `json:"compose"`
				Files        map[string]string `json:"files"`
				Requirements struct{ CPU float64 }
			} `json:"stack"`
		}
		s.Want(http.StatusOK, testutil.Anon, "GET", fmt.Sprintf("/app/%d/updates", aid), nil).JSON(t, &ups)
		if len(ups) != 1 || ups[0].Ver != "1.0" || ups[0].Rev != 1 || ups[0].Stack.Compose != pplGoodCompose ||
			ups[0].Stack.Files["src/init.sh"] != "echo hi" || ups[0].Stack.Requirements.CPU != 1 {
			b, _ := json.Marshal(ups)
			t.Errorf("stored versions = %s", b)
		}
		// The next form suggests reversion 2; reusing 1 is refused next to the field.
		if page := pplGet(t, c, newVersion).Body; !strings.Contains(page, `name="rev" type="number" value="2"`) {
			t.Error("the next reversion is not suggested as 2")
		}
		page = pplWant(t, pplPost(t, c, newVersion, v), http.StatusConflict, "reversion taken").Body
		if !strings.Contains(page, `id="rev-error"`) {
			t.Errorf("no error next to the reversion:\n%s", page)
		}
		// The admin may add versions to anybody's app.
		v.Set("rev", "2")
		v.Set("ver", "2.0")
		pplWant(t, pplPost(t, signIn(t, s, "admin"), newVersion, v), http.StatusSeeOther, "admin publishes")
	})
}
