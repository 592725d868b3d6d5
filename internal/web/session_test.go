package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/internal/testutil"
)

func TestSessionAdminSignInAndOut(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		c := browserClient(t)

		res, body := post(t, c, s.URL+"/ui/signin", url.Values{"kind": {"admin"}, "token": {"wrong"}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `id="token-error"`) ||
			!strings.Contains(body, "wrong admin token") {
			t.Fatalf("wrong token: status %d, body lacks the field error:\n%s", res.StatusCode, body)
		}
		if sessionCookie(res) != nil {
			t.Fatal("a wrong token got a session cookie")
		}

		res, _ = post(t, c, s.URL+"/ui/signin", url.Values{"kind": {"admin"}, "token": {testutil.AdminToken},
			"next": {"//evil.example/x"}})
		ck := sessionCookie(res)
		if res.StatusCode != http.StatusSeeOther || ck == nil {
			t.Fatalf("admin sign-in: status %d, cookie %v", res.StatusCode, ck)
		}
		if loc := res.Header.Get("Location"); loc != "/" {
			t.Errorf("an off-site next became Location %q, want /", loc)
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || len(ck.Value) != 64 {
			t.Errorf("session cookie HttpOnly=%v SameSite=%v len=%d", ck.HttpOnly, ck.SameSite, len(ck.Value))
		}
		if strings.Contains(res.Header.Get("Set-Cookie"), testutil.AdminToken) {
			t.Fatal("the admin token itself was put in a cookie")
		}

		// The session authenticates the JSON API too (the pages' scripts use it).
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/installs", nil)
		res2, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res2.Body.Close()
		if res2.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/installs with the admin session: %d", res2.StatusCode)
		}

		res, body = get(t, c, s.URL+"/ui/signin")
		if !strings.Contains(body, "Sign out (admin)") {
			t.Fatalf("signed-in page does not offer sign out:\n%s", body)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("CSP %q", csp)
		}

		res, _ = post(t, c, s.URL+"/ui/signout", nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %d", res.StatusCode)
		}
		// The old cookie value is dead on the server, not just forgotten by this browser.
		old := browserClient(t)
		u, _ := url.Parse(s.URL)
		old.Jar.SetCookies(u, []*http.Cookie{{Name: "stackhub_session", Value: ck.Value}})
		if res, _ := get(t, old, s.URL+"/api/v1/installs"); res.StatusCode == http.StatusOK {
			t.Fatal("the session still works after sign out")
		}
	})
}

func TestSessionUserPasswordFlow(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		r := s.Want(http.StatusCreated, testutil.Admin, "POST", "/doge/useradd", map[string]any{"simple_name": "ada"})
		uid, metapass, _ := strings.Cut(r.Text(), ":")
		c := browserClient(t)

		res, body := post(t, c, s.URL+"/ui/password", url.Values{"login": {"ada"}, "metapass": {"nope"},
			"password": {"correct horse"}, "password2": {"correct horse"}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `id="metapass-error"`) {
			t.Fatalf("wrong metapass: status %d:\n%s", res.StatusCode, body)
		}
		res, body = post(t, c, s.URL+"/ui/password", url.Values{"login": {"ada"}, "metapass": {metapass},
			"password": {"short"}, "password2": {"short"}})
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="password-error"`) {
			t.Fatalf("short password: status %d:\n%s", res.StatusCode, body)
		}
		res, _ = post(t, c, s.URL+"/ui/password", url.Values{"login": {"ada"}, "metapass": {metapass},
			"password": {"correct horse"}, "password2": {"correct horse"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("set password: %d", res.StatusCode)
		}

		res, body = post(t, c, s.URL+"/ui/signin", url.Values{"kind": {"user"}, "login": {"ada"}, "password": {"wrong one"}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "wrong user name or password") {
			t.Fatalf("wrong password: %d:\n%s", res.StatusCode, body)
		}
		res, body = post(t, c, s.URL+"/ui/signin", url.Values{"kind": {"user"}, "login": {"nobody"}, "password": {"x"}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "wrong user name or password") {
			t.Fatalf("unknown user answers differently: %d:\n%s", res.StatusCode, body)
		}
		res, _ = post(t, c, s.URL+"/ui/signin", url.Values{"kind": {"user"}, "login": {"ada"}, "password": {"correct horse"}})
		if res.StatusCode != http.StatusSeeOther || sessionCookie(res) == nil {
			t.Fatalf("user sign-in: %d", res.StatusCode)
		}
		// One credential everywhere: the GeekApk passhash of the typed password works on the API.
		s.Want(http.StatusOK, testutil.As{UID: mustInt(t, uid), Passhash: testutil.Passhash("correct horse")},
			"GET", "/user/"+uid+"/notifications", nil)
		_, body = get(t, c, s.URL+"/ui/signin")
		if !strings.Contains(body, "/ui/users/"+uid) {
			t.Fatalf("the signed-in user's profile link is missing:\n%s", body)
		}
	})
}

func TestSessionRefusesCrossOriginWrites(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		c := browserClient(t)
		res, _ := post(t, c, s.URL+"/ui/signin", url.Values{"kind": {"admin"}, "token": {testutil.AdminToken}},
			"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")
		if res.StatusCode != http.StatusForbidden || sessionCookie(res) != nil {
			t.Fatalf("cross-site sign-in: status %d", res.StatusCode)
		}
		// The same write from the page itself goes through.
		res, _ = post(t, c, s.URL+"/ui/signin", url.Values{"kind": {"admin"}, "token": {testutil.AdminToken}},
			"Origin", s.URL, "Sec-Fetch-Site", "same-origin")
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("same-origin sign-in: status %d", res.StatusCode)
		}
		// A cross-site write to the APIs is refused too, whatever cookie the browser attaches.
		res, _ = post(t, c, s.URL+"/doge/useradd", url.Values{"simple_name": {"mallory"}},
			"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site API write: status %d", res.StatusCode)
		}
	})
}

// A form body that does not parse is the client's mistake: a 400 page, not a logged 500, on every form.
func TestMalformedFormIsBadRequest(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		s.NewUser("ann")
		admin, ann := signIn(t, s, "admin"), signIn(t, s, "ann")
		for _, c := range []struct {
			who  *http.Client
			path string
		}{
			{browserClient(t), "/ui/signin"},
			{browserClient(t), "/ui/password"},
			{admin, "/ui/admin/users"},
			{admin, "/ui/admin/categories"},
			{admin, "/ui/install"},
			{ann, "/ui/publish"},
			{ann, "/ui/users/1/follow"},
		} {
			req, err := http.NewRequest("POST", s.URL+c.path, strings.NewReader("name=%zz"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := c.who.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "the form does not parse") {
				t.Errorf("POST %s with a malformed body: status %d, want 400 saying the form does not parse\n%s",
					c.path, res.StatusCode, b)
			}
		}
	})
}
