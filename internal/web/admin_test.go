package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/webhook"
)

var (
	pplMetapassRe = regexp.MustCompile(`<code id="people-metapass">([A-Za-z0-9]+)</code>`)
	pplUIDRe      = regexp.MustCompile(`<code id="people-uid">(\d+)</code>`)
)

func TestAdminUsers(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		admin := signIn(t, s, "admin")

		page := pplWant(t, pplPost(t, admin, s.URL+"/ui/admin/users", url.Values{"simple_name": {"newbie"},
			"name": {"New Bie"}}), 200, "create user").Body
		m, u := pplMetapassRe.FindStringSubmatch(page), pplUIDRe.FindStringSubmatch(page)
		if m == nil || u == nil {
			t.Fatalf("the result page shows no metapass or uid:\n%s", page)
		}
		metapass, uid := m[1], u[1]
		if !strings.Contains(page, "shown only this once") || !strings.Contains(page, "@newbie") {
			t.Error("the result page does not tell the admin to hand the metapass over")
		}
		if later := pplGet(t, admin, s.URL+"/ui/admin/users").Body; strings.Contains(later, metapass) ||
			!strings.Contains(later, `href="/ui/users/`+uid+`">New Bie</a>`) {
			t.Error("the users page shows the metapass again, or does not list the new user")
		}
		// A taken simple name is refused next to its field.
		page = pplWant(t, pplPost(t, admin, s.URL+"/ui/admin/users", url.Values{"simple_name": {"newbie"}}),
			http.StatusConflict, "taken name").Body
		if !strings.Contains(page, `id="simple_name-error"`) || pplMetapassRe.MatchString(page) {
			t.Errorf("a taken name has no field error, or a metapass was shown:\n%s", page)
		}

		// The new user sets a password with the metapass, then signs in.
		anon := browserClient(t)
		pplWant(t, pplPost(t, anon, s.URL+"/ui/password", url.Values{"login": {"newbie"}, "metapass": {metapass},
			"password": {"password of newbie"}, "password2": {"password of newbie"}}), http.StatusSeeOther, "set password")
		user := signIn(t, s, "newbie")
		if page := pplGet(t, user, s.URL+"/ui/timeline").Body; !strings.Contains(page, `action="/ui/signout"`) {
			t.Fatal("the new user is not signed in")
		}

		// Disabling ends the user's session: their next page is anonymous.
		r := pplWant(t, pplPost(t, admin, s.URL+"/ui/admin/users/"+uid+"/toggle", url.Values{}), http.StatusSeeOther, "disable")
		if r.Location != "/ui/admin/users" {
			t.Errorf("toggle went to %q", r.Location)
		}
		page = pplGet(t, user, s.URL+"/ui/timeline").Body
		if strings.Contains(page, `action="/ui/signout"`) || !strings.Contains(page, `href="/ui/signin?next=`) {
			t.Error("the disabled user is still signed in")
		}
		if list := pplGet(t, admin, s.URL+"/ui/admin/users").Body; !strings.Contains(pplBetween(t, list, `id="user-`+uid+`"`, "</tr>"), "disabled") {
			t.Error("the users list does not show the user disabled")
		}
		pplWant(t, pplPost(t, admin, s.URL+"/ui/admin/users/"+uid+"/toggle", url.Values{}), http.StatusSeeOther, "enable")
		if list := pplGet(t, admin, s.URL+"/ui/admin/users").Body; !strings.Contains(pplBetween(t, list, `id="user-`+uid+`"`, "</tr>"), "enabled") {
			t.Error("the users list does not show the user enabled again")
		}

		// Nobody but the admin gets in: users are refused with 403, anonymous visitors sent to sign in.
		s.NewUser("bob")
		bob := signIn(t, s, "bob")
		for _, p := range []struct{ method, path string }{
			{"GET", "/ui/admin"}, {"GET", "/ui/admin/users"}, {"POST", "/ui/admin/users"},
			{"POST", "/ui/admin/users/" + uid + "/toggle"}, {"GET", "/ui/admin/categories"},
			{"POST", "/ui/admin/categories"}, {"POST", "/ui/admin/categories/1/delete"},
			{"GET", "/ui/admin/webhooks"}, {"POST", "/ui/admin/webhooks"},
		} {
			var form url.Values
			if p.method == "POST" {
				form = url.Values{"simple_name": {"evil"}, "name": {"evil"}, "event": {"*"}, "url": {"http://x.example"}}
			}
			pplWant(t, pplDo(t, bob, p.method, s.URL+p.path, form), http.StatusForbidden, "bob "+p.method+" "+p.path)
		}
		r = pplWant(t, pplGet(t, browserClient(t), s.URL+"/ui/admin/users"), http.StatusSeeOther, "anonymous admin page")
		if !strings.HasPrefix(r.Location, "/ui/signin?next=") {
			t.Errorf("anonymous visitor sent to %q", r.Location)
		}
		if _, err := s.Hub.UserIDByName(t.Context(), "evil"); err == nil {
			t.Error("bob's refused POST created a user")
		}
		if page := pplGet(t, user, s.URL+"/ui/timeline").Body; strings.Contains(page, `action="/ui/signout"`) {
			t.Error("enabling the user again revived the ended session")
		}
	})
}

// pplCatID finds a category's id by name in the admin outline.
func pplCatID(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`<h3>` + regexp.QuoteMeta(name) + ` <span class="muted">#(\d+)</span>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no category %q in the outline:\n%s", name, pplText(page))
	}
	return m[1]
}

func TestAdminCategories(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		c := signIn(t, s, "admin")
		base := s.URL + "/ui/admin/categories"

		pplWant(t, pplPost(t, c, base, url.Values{"name": {"Tools"}, "parent": {"0"}}), http.StatusSeeOther, "create Tools")
		tools := pplCatID(t, pplGet(t, c, base).Body, "Tools")
		pplWant(t, pplPost(t, c, base, url.Values{"name": {"Editors"}, "parent": {tools}}), http.StatusSeeOther, "create Editors")
		page := pplGet(t, c, base).Body
		editors := pplCatID(t, page, "Editors")
		if !strings.Contains(page, `class="people-cat people-depth-1" id="cat-`+editors+`"`) {
			t.Error("Editors is not shown under Tools")
		}
		page = pplWant(t, pplPost(t, c, base, url.Values{"name": {"  "}}), http.StatusBadRequest, "blank name").Body
		if !strings.Contains(page, `id="name-error"`) {
			t.Errorf("a blank name has no field error:\n%s", page)
		}

		pplWant(t, pplPost(t, c, base+"/"+editors+"/rename", url.Values{"name": {"Text editors"}}), http.StatusSeeOther, "rename")
		pplCatID(t, pplGet(t, c, base).Body, "Text editors")
		page = pplWant(t, pplPost(t, c, base+"/"+editors+"/rename", url.Values{"name": {strings.Repeat("x", 120)}}),
			http.StatusRequestEntityTooLarge, "long name").Body
		if !strings.Contains(page, `id="name-`+editors+`-error"`) || !strings.Contains(page, `value="`+strings.Repeat("x", 120)+`"`) {
			t.Errorf("a too long name has no error in its row or lost the typed name:\n%s", page)
		}

		// A move that makes a cycle is refused next to that row's parent select.
		page = pplWant(t, pplPost(t, c, base+"/"+tools+"/move", url.Values{"parent": {editors}}), http.StatusBadRequest, "cycle").Body
		if !strings.Contains(page, `id="parent-`+tools+`-error"`) || !strings.Contains(page, "cycle") {
			t.Errorf("the cycle is not reported next to the parent select:\n%s", page)
		}
		// A category with children cannot be deleted.
		page = pplWant(t, pplPost(t, c, base+"/"+tools+"/delete", url.Values{}), http.StatusConflict, "delete parent").Body
		if !strings.Contains(page, "still has apps or child categories") {
			t.Errorf("deleting a parent gives no reason:\n%s", page)
		}
		if !strings.Contains(page, `data-confirm="Delete the category Tools?`) {
			t.Error("delete forms do not ask for confirmation")
		}

		pplWant(t, pplPost(t, c, base+"/"+editors+"/move", url.Values{"parent": {"0"}}), http.StatusSeeOther, "move to top")
		var cats []struct {
			ID     int64  `json:"id"`
			Name   string `json:"name"`
			Parent *int64 `json:"parent"`
		}
		s.Want(http.StatusOK, testutil.Anon, "GET", "/category/all", nil).JSON(t, &cats)
		for _, cat := range cats {
			if strconv.FormatInt(cat.ID, 10) == editors && (cat.Name != "Text editors" || cat.Parent != nil) {
				t.Errorf("after rename and move: %+v", cat)
			}
		}
		pplWant(t, pplPost(t, c, base+"/"+tools+"/delete", url.Values{}), http.StatusSeeOther, "delete Tools")
		pplWant(t, pplPost(t, c, base+"/"+tools+"/delete", url.Values{}), http.StatusNotFound, "delete again")
		if page := pplGet(t, c, base).Body; strings.Contains(page, "<h3>Tools ") {
			t.Error("Tools is still listed after its deletion")
		}
	})
}

func TestAdminWebhooks(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(recv.Close)
		s := testutil.StartServer(t, e, testutil.Options{Hooks: []webhook.Hook{{Type: "newUser", URL: recv.URL + "/new"}}})
		c := signIn(t, s, "admin")
		s.NewUser("alice")

		var page string
		deadline := time.Now().Add(time.Minute)
		for {
			page = pplWant(t, pplGet(t, c, s.URL+"/ui/admin/webhooks?state=delivered"), 200, "webhooks").Body
			if strings.Contains(page, `class="people-delivery" data-state="delivered"`) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		rows := pplBetween(t, page, `id="people-deliveries"`, "</table>")
		if !strings.Contains(rows, "<code>newUser</code>") || !strings.Contains(rows, recv.URL+"/new") ||
			!strings.Contains(rows, "HTTP 200") {
			t.Fatalf("the delivered newUser delivery is not listed:\n%s", rows)
		}
		if !strings.Contains(page, `<option value="delivered" selected>`) {
			t.Error("the state filter does not show its choice")
		}
		configured := pplBetween(t, page, "Configured (WEBHOOKS)", "<h2>Added</h2>")
		if !strings.Contains(configured, recv.URL+"/new") {
			t.Errorf("the configured hook is not listed:\n%s", configured)
		}
		failed := pplGet(t, c, s.URL+"/ui/admin/webhooks?state=failed").Body
		if strings.Contains(failed, `class="people-delivery"`) || !strings.Contains(failed, "No deliveries in state failed") {
			t.Error("the failed filter lists deliveries")
		}
		pplWant(t, pplGet(t, c, s.URL+"/ui/admin/webhooks?state=bogus"), http.StatusBadRequest, "bad state")

		// Hooks can be added and removed.
		page = pplWant(t, pplPost(t, c, s.URL+"/ui/admin/webhooks", url.Values{"event": {"nope.nothing"},
			"url": {recv.URL}}), http.StatusBadRequest, "bad pattern").Body
		if !strings.Contains(page, `id="event-error"`) || !strings.Contains(page, `value="nope.nothing"`) {
			t.Errorf("a bad event pattern has no field error:\n%s", page)
		}
		pplWant(t, pplPost(t, c, s.URL+"/ui/admin/webhooks", url.Values{"event": {"comment.*"}, "url": {recv.URL + "/c"}}),
			http.StatusSeeOther, "add hook")
		added := pplBetween(t, pplGet(t, c, s.URL+"/ui/admin/webhooks").Body, "<h2>Added</h2>", "</table>")
		id := regexp.MustCompile(`action="/ui/admin/webhooks/(\d+)/delete"`).FindStringSubmatch(added)
		if id == nil || !strings.Contains(added, "<code>comment.*</code>") {
			t.Fatalf("the added hook is not listed:\n%s", added)
		}
		pplWant(t, pplPost(t, c, fmt.Sprintf("%s/ui/admin/webhooks/%s/delete", s.URL, id[1]), url.Values{}), http.StatusSeeOther, "remove")
		if strings.Contains(pplGet(t, c, s.URL+"/ui/admin/webhooks").Body, "<code>comment.*</code>") {
			t.Error("the removed hook is still listed")
		}
	})
}
