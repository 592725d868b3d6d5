package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/internal/testutil"
)

// TestAccountPages: the admin sets a role from the users page; the operator then sees the host pages and not the
// admin's; the account page lists the user's sessions and signs the others out; the audit page shows the change.
func TestAccountPages(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		ann := s.NewUser("ann")
		admin := signIn(t, s, "admin")
		if _, body := get(t, admin, s.URL+"/ui/admin/users"); !strings.Contains(body, fmt.Sprintf(`action="/ui/admin/users/%d/role"`, ann.UID)) {
			t.Fatalf("the users page has no role control for ann:\n%s", body)
		}
		other := signIn(t, s, "ann") // signed in before the role change: it ends
		res, _ := post(t, admin, fmt.Sprintf("%s/ui/admin/users/%d/role", s.URL, ann.UID), url.Values{"role": {"operator"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("set role: %d", res.StatusCode)
		}
		if res, _ := get(t, other, s.URL+"/ui/account"); res.StatusCode != http.StatusSeeOther {
			t.Errorf("a session from before the role change still works: %d", res.StatusCode)
		}
		c := signIn(t, s, "ann")
		res, body := get(t, c, s.URL+"/ui/server")
		if res.StatusCode != 200 || !strings.Contains(body, `href="/ui/my-apps"`) || strings.Contains(body, `href="/ui/admin"`) {
			t.Errorf("operator's server page: %d, nav without My apps or with Admin", res.StatusCode)
		}
		if res, body := get(t, c, s.URL+"/ui/admin/users"); res.StatusCode != 403 || !strings.Contains(body, "admin role") {
			t.Errorf("operator on the users page: %d", res.StatusCode)
		}
		second := signIn(t, s, "ann")
		_, body = get(t, c, s.URL+"/ui/account")
		if !strings.Contains(body, `id="account-role">operator`) || strings.Count(body, "/end\"") != 1 ||
			!strings.Contains(body, "this browser") || !strings.Contains(body, "sign-out-everywhere") {
			t.Errorf("account page: want the role, one other session to end and this browser:\n%s", body)
		}
		if res, _ := post(t, c, s.URL+"/ui/account/sessions/end-others", nil); res.StatusCode != http.StatusSeeOther {
			t.Errorf("sign out everywhere else: %d", res.StatusCode)
		}
		if res, _ := get(t, second, s.URL+"/ui/account"); res.StatusCode != http.StatusSeeOther {
			t.Errorf("the other session still works: %d", res.StatusCode)
		}
		if res, _ := get(t, c, s.URL+"/ui/account"); res.StatusCode != 200 {
			t.Errorf("this session ended too: %d", res.StatusCode)
		}
		_, body = get(t, admin, s.URL+"/ui/admin/audit?action=role_set")
		if !strings.Contains(body, fmt.Sprintf("user %d to operator", ann.UID)) {
			t.Errorf("the audit page lacks the role change:\n%s", body)
		}
	})
}
