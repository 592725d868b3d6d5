package web_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// TestMyAppsUpgradeAndRollback upgrades an app from its page's form and rolls it back, checking the app itself
// answers with each version and that the page offers what it should at each step.
func TestMyAppsUpgradeAndRollback(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		dockertest.Image(t, "stackhub-test/web:v1")
		dockertest.Image(t, "stackhub-test/web:v2")
		s := testutil.StartServer(t, e, testutil.Options{})
		lib := testutil.NewLibrary(t)
		lib.Add(t, "web", testutil.WebCompose, "READY_AFTER=0\n", "v2", "v1") // newest first, as templates list them
		lib.Import(t, s.URL)
		c := signIn(t, s, "admin")

		res, body := post(t, c, s.URL+"/ui/install", url.Values{"app": {"web"}, "version": {"v1"}, "name": {"web"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("install v1: %d\n%s", res.StatusCode, body)
		}
		waitJob(t, s, jobOf(t, res))
		in := waitInstance(t, s, "web", "1")
		app := "http://127.0.0.1:" + in["port"].(string) + "/"
		if got := fetch(t, app); got != "web v1" {
			t.Fatalf("the app answers %q", got)
		}

		_, page := get(t, c, s.URL+"/ui/my-apps/web")
		if !regexp.MustCompile(`action="/ui/my-apps/web/upgrade"`).MatchString(page) || !strings.Contains(page, `value="v2"`) {
			t.Fatalf("the app's page offers no upgrade to v2:\n%s", page)
		}
		_, list := get(t, c, s.URL+"/ui/my-apps")
		if !strings.Contains(list, "update available") {
			t.Errorf("My apps does not say an update is available")
		}

		// The admin edits the Compose file, which StackHub owns: the upgrade replaces the edit and the history says so.
		compose := filepath.Join(s.DataDir, "apps", "web", "docker-compose.yml")
		b, err := os.ReadFile(compose)
		if err == nil {
			err = os.WriteFile(compose, append(b, "# the admin's note\n"...), 0o644)
		}
		if err != nil {
			t.Fatalf("edit the compose file: %v", err)
		}
		res, body = post(t, c, s.URL+"/ui/my-apps/web/upgrade", url.Values{"version": {"v2"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("upgrade: %d\n%s", res.StatusCode, body)
		}
		waitJob(t, s, jobOf(t, res))
		waitInstance(t, s, "web", "1")
		if got := fetch(t, app); got != "web v2" {
			t.Fatalf("after the upgrade the app answers %q", got)
		}
		_, page = get(t, c, s.URL+"/ui/my-apps/web")
		if !strings.Contains(page, `action="/ui/my-apps/web/rollback"`) || !strings.Contains(page, "v1") {
			t.Fatalf("after an upgrade the page offers no roll back:\n%s", page)
		}
		if !strings.Contains(page, "local edits replaced (the snapshot holds them): <code>docker-compose.yml</code>") {
			t.Errorf("the upgrade history does not name the replaced compose file:\n%s", page)
		}

		res, body = post(t, c, s.URL+"/ui/my-apps/web/rollback", nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("rollback: %d\n%s", res.StatusCode, body)
		}
		waitJob(t, s, jobOf(t, res))
		waitInstance(t, s, "web", "1")
		if got := fetch(t, app); got != "web v1" {
			t.Fatalf("after the rollback the app answers %q", got)
		}
		var info map[string]any
		s.Want(200, testutil.Admin, "GET", "/api/v1/installs/web", nil).JSON(t, &info)
		if info["version"] != "v1" {
			t.Errorf("after the rollback the instance records version %v", info["version"])
		}

		// An upgrade to a version that does not exist is refused with the reason, and nothing runs.
		res, _ = post(t, c, s.URL+"/ui/my-apps/web/upgrade", url.Values{"version": {"v9"}})
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/ui/my-apps/web") {
			t.Fatalf("upgrade to v9: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		if _, page = get(t, c, s.URL+res.Header.Get("Location")); !strings.Contains(page, "v9") {
			t.Errorf("the refusal does not name the version:\n%s", page)
		}
	})
}

func fetch(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return strings.TrimSpace(string(b))
}
