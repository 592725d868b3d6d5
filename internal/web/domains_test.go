package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/internal/testutil"
)

// TestDomainsPages installs with the install form's domain field, then adds and removes a route from the app
// page's Domains section; a bad domain comes back with the reason and nothing added. No certificate manager is
// wired here, so the certificate column shows "—".
func TestDomainsPages(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s, _, _ := hostSetup(t, e)
		c := signIn(t, s, "admin")
		res, body := post(t, c, s.URL+"/ui/install", url.Values{"app": {"web"}, "name": {"web"}, "domain": {"bad domain"}})
		if res.StatusCode != 400 || !strings.Contains(body, `id="domain-error"`) {
			t.Fatalf("install with a bad domain: %d, the form shows no domain error", res.StatusCode)
		}
		res, _ = post(t, c, s.URL+"/ui/install", url.Values{"app": {"web"}, "name": {"web"}, "domain": {"www.web.test"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("install: %d", res.StatusCode)
		}
		waitJob(t, s, strings.TrimPrefix(res.Header.Get("Location"), "/ui/jobs/"))
		_, page := get(t, c, s.URL+"/ui/my-apps/web")
		row := regexp.MustCompile(`(?s)<tr><td><a href="https://www.web.test/">www.web.test</a></td>\s*<td>public</td>\s*<td>auto</td>\s*<td>—</td>`)
		if !row.MatchString(page) {
			t.Fatalf("the Domains section does not list www.web.test:\n%s", section(page))
		}
		res, _ = post(t, c, s.URL+"/ui/my-apps/web/domains", url.Values{"domain": {"team.web.test"}, "access": {"users"}, "https": {"off"}, "allow": {"10.0.0.0/8"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("add a domain: %d", res.StatusCode)
		}
		if loc := res.Header.Get("Location"); strings.HasPrefix(loc, "/ui/jobs/") {
			waitJob(t, s, strings.TrimPrefix(loc, "/ui/jobs/"))
		}
		_, page = get(t, c, s.URL+"/ui/my-apps/web")
		if !strings.Contains(page, `href="http://team.web.test/"`) || !strings.Contains(page, "from 10.0.0.0/8") {
			t.Errorf("the added route is not listed:\n%s", section(page))
		}
		res, _ = post(t, c, s.URL+"/ui/my-apps/web/domains", url.Values{"domain": {"*.web.test"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("a refused domain: %d", res.StatusCode)
		}
		_, page = get(t, c, s.URL+res.Header.Get("Location"))
		if !strings.Contains(page, "DNS provider") || strings.Contains(section(page), "*.web.test</a>") {
			t.Errorf("a wildcard without a DNS provider:\n%s", section(page))
		}
		res, _ = post(t, c, s.URL+"/ui/my-apps/web/domains/remove", url.Values{"domain": {"team.web.test"}, "path": {"/"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("remove a domain: %d", res.StatusCode)
		}
		if loc := res.Header.Get("Location"); strings.HasPrefix(loc, "/ui/jobs/") {
			waitJob(t, s, strings.TrimPrefix(loc, "/ui/jobs/"))
		}
		if _, page = get(t, c, s.URL+"/ui/my-apps/web"); strings.Contains(page, `href="http://team.web.test/"`) {
			t.Errorf("the removed route is still listed:\n%s", section(page))
		}
	})
}

// section is the Domains section of an app page, for failure messages.
func section(page string) string {
	i := strings.Index(page, `id="domains"`)
	if i < 0 {
		return "(no Domains section)"
	}
	j := strings.Index(page[i:], "</section>")
	if j < 0 {
		return page[i:]
	}
	return page[i : i+j]
}
