package edge_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

// seenUser is the X-StackHub-User the app saw, from its /headers answer.
func seenUser(t *testing.T, body string) string {
	t.Helper()
	var seen struct {
		Headers map[string][]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(body), &seen); err != nil {
		t.Fatalf("headers %q: %v", body, err)
	}
	return http.Header(seen.Headers).Get("X-StackHub-User")
}

// signInAt runs the users flow without a browser: the edge sends the visitor to StackHub's authorize page,
// which (signed in with cookie) hands a one-time code back to the app's domain, where the edge sets its
// cookie. It returns that cookie ("" when refused) and the authorize page's status.
func signInAt(t *testing.T, s *tu.Server, c *http.Client, secure bool, name string, cookie ...string) (string, int) {
	t.Helper()
	res, _ := fetch(t, c, "GET", at(s, secure, name, "/headers"))
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, s.URL+"/ui/edge/authorize?") {
		t.Fatalf("%s without a session: %d to %q, want 302 to StackHub's authorize page", name, res.StatusCode, loc)
	}
	stackhub := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, page := fetch(t, stackhub, "GET", loc, cookie...)
	if res.StatusCode != http.StatusOK {
		return "", res.StatusCode
	}
	m := continueRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("authorize answered %q", page)
	}
	back, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil || back.Hostname() != name || back.Path != "/.stackhub/auth" {
		t.Fatalf("authorize sent the visitor to %q", m[1])
	}
	// The route prefers HTTPS: the visitor comes back on that listener whichever it left from.
	if back.Scheme != "https" {
		t.Fatalf("authorize sent the visitor back to %s", back)
	}
	c = edgeClient(s, true, "")
	res, _ = fetch(t, c, "GET", back.String())
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/headers" {
		t.Fatalf("code exchange: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	cks := res.Cookies()
	if len(cks) != 1 || !cks[0].HttpOnly || !cks[0].Secure || cks[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v", cks)
	}
	// The code is used: a second exchange is refused.
	if res, _ := fetch(t, c, "GET", back.String()); res.StatusCode != http.StatusForbidden {
		t.Errorf("a used code answered %d", res.StatusCode)
	}
	return cks[0].Name + "=" + cks[0].Value, http.StatusOK
}

var continueRe = regexp.MustCompile(`<a id="continue" href="([^"]+)"`)

// TestAccess checks every access mode on both listeners, the allow list with trusted and untrusted proxies, and
// that a client's X-StackHub-User never reaches the app.
func TestAccess(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		// 127.0.0.2 plays a trusted proxy; 127.0.0.1 is an ordinary client.
		s, _ := setup(t, e, tu.Options{Edge: &tu.EdgeOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}})
		var inst struct {
			Job struct{ ID int64 } `json:"job"`
		}
		s.Want(http.StatusAccepted, tu.Admin, "POST", "/api/v1/installs", map[string]any{"app": "web"}).JSON(t, &inst)
		waitJob(t, s, inst.Job.ID)
		add := func(body map[string]any) {
			body["redirect"] = false // plain HTTP serves too, so both listeners are checked alike
			var ch struct {
				Job *struct{ ID int64 } `json:"job"`
			}
			s.Want(http.StatusCreated, tu.Admin, "POST", "/api/v1/installs/web/domains", body).JSON(t, &ch)
			if ch.Job != nil { // the first route changes W9_URL: the app is recreated
				waitJob(t, s, ch.Job.ID)
			}
		}
		add(map[string]any{"domain": "pub.test"})
		add(map[string]any{"domain": "basic.test", "access": "basic", "basic_users": []map[string]string{{"user": "ann", "password": "s3cret"}}})
		add(map[string]any{"domain": "users.test", "access": "users"})
		add(map[string]any{"domain": "admin.test", "access": "admin"})
		add(map[string]any{"domain": "lan.test", "allow": []string{"10.1.0.0/16"}})
		var routes []map[string]any
		s.Want(200, tu.Admin, "GET", "/api/v1/installs/web/domains", nil).JSON(t, &routes)
		for _, r := range routes {
			if r["domain"] == "basic.test" && (len(r["basic_users"].([]any)) != 1 || strings.Contains(strings.ToLower(toJSON(r)), "s3cret") || strings.Contains(toJSON(r), "argon2")) {
				t.Errorf("basic route shows %v", r)
			}
		}
		alice := s.NewUser("alice")
		aliceCookie := "geekapk_uid=" + itoa(alice.UID) + "; geekapk_passhash=" + alice.Passhash

		// Plain HTTP, HTTPS over HTTP/2 (net/http's server) and HTTPS over HTTP/1.1 (the edge's fast path).
		for _, l := range []struct {
			name   string
			secure bool
			client func(from string) *http.Client
		}{
			{"http", false, func(from string) *http.Client { return edgeClient(s, false, from) }},
			{"https h2", true, func(from string) *http.Client { return edgeClient(s, true, from) }},
			{"https/1.1", true, func(from string) *http.Client { return h1Client(s, from) }},
		} {
			secure, name, c := l.secure, l.name, l.client("")
			// public, and a forged X-StackHub-User removed.
			res, body := fetch(t, c, "GET", at(s, secure, "pub.test", "/headers"), "X-StackHub-User", "admin")
			if res.StatusCode != 200 || seenUser(t, body) != "" {
				t.Errorf("%s public: %d, app saw user %q", name, res.StatusCode, seenUser(t, body))
			}
			// basic: none, wrong, right (twice: the second from the verified cache).
			if res, _ := fetch(t, c, "GET", at(s, secure, "basic.test", "/")); res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s basic without credentials: %d", name, res.StatusCode)
			}
			if res, _ := fetch(t, c, "GET", at(s, secure, "basic.test", "/"), "Authorization", basicAuth("ann", "wrong")); res.StatusCode != 401 {
				t.Errorf("%s basic with a wrong password: %d", name, res.StatusCode)
			}
			if res, _ := fetch(t, c, "GET", at(s, secure, "basic.test", "/"), "Authorization", basicAuth("bob", "s3cret")); res.StatusCode != 401 {
				t.Errorf("%s basic with an unknown user: %d", name, res.StatusCode)
			}
			for range 2 {
				if res, body := fetch(t, c, "GET", at(s, secure, "basic.test", "/"), "Authorization", basicAuth("ann", "s3cret")); res.StatusCode != 200 || strings.TrimSpace(body) != "web v1" {
					t.Errorf("%s basic right: %d %q", name, res.StatusCode, body)
				}
			}
			// users: sent to sign in; signed in, the app sees the user and never the client's header.
			ck, _ := signInAt(t, s, c, secure, "users.test", "Cookie", aliceCookie)
			res, body = fetch(t, c, "GET", at(s, secure, "users.test", "/headers"), "Cookie", ck, "X-StackHub-User", "admin")
			if res.StatusCode != 200 || seenUser(t, body) != "alice" {
				t.Errorf("%s users signed in: %d, app saw %q", name, res.StatusCode, seenUser(t, body))
			}
			// That cookie is for users.test only.
			if res, _ := fetch(t, c, "GET", at(s, secure, "admin.test", "/headers"), "Cookie", ck); res.StatusCode != http.StatusFound {
				t.Errorf("%s users.test's cookie on admin.test: %d", name, res.StatusCode)
			}
			// admin: a user is refused at StackHub; the admin gets through.
			if _, status := signInAt(t, s, c, secure, "admin.test", "Cookie", aliceCookie); status != http.StatusForbidden {
				t.Errorf("%s admin route for a user: authorize answered %d", name, status)
			}
			ck, _ = signInAt(t, s, c, secure, "admin.test", "Authorization", "Bearer "+tu.AdminToken)
			if res, body := fetch(t, c, "GET", at(s, secure, "admin.test", "/headers"), "Cookie", ck); res.StatusCode != 200 || seenUser(t, body) != "admin" {
				t.Errorf("%s admin signed in: %d, app saw %q", name, res.StatusCode, seenUser(t, body))
			}
			// A forged cookie is not a session.
			if res, _ := fetch(t, c, "GET", at(s, secure, "users.test", "/"), "Cookie", "stackhub_edge=dXNlcnMudGVzdHwxfDk5OTk5OTk5OTl8cm9vdA.AAAA"); res.StatusCode != http.StatusFound {
				t.Errorf("%s forged cookie: %d", name, res.StatusCode)
			}
			// allow: the real client address decides; X-Forwarded-For counts only from a trusted proxy.
			if res, _ := fetch(t, c, "GET", at(s, secure, "lan.test", "/"), "X-Forwarded-For", "10.1.2.3"); res.StatusCode != 403 {
				t.Errorf("%s allow from 127.0.0.1 claiming 10.1.2.3: %d, want 403", name, res.StatusCode)
			}
			proxy := l.client("127.0.0.2")
			res, body = fetch(t, proxy, "GET", at(s, secure, "lan.test", "/headers"), "X-Forwarded-For", "10.1.2.3")
			if res.StatusCode != 200 {
				t.Errorf("%s allow through a trusted proxy for 10.1.2.3: %d", name, res.StatusCode)
			} else {
				var seen struct {
					Headers map[string][]string `json:"headers"`
				}
				_ = json.Unmarshal([]byte(body), &seen)
				if got := http.Header(seen.Headers).Get("X-Forwarded-For"); got != "10.1.2.3, 127.0.0.2" {
					t.Errorf("%s X-Forwarded-For through a trusted proxy: %q", name, got)
				}
			}
			if res, _ := fetch(t, proxy, "GET", at(s, secure, "lan.test", "/"), "X-Forwarded-For", "192.168.1.1"); res.StatusCode != 403 {
				t.Errorf("%s allow through a trusted proxy for 192.168.1.1: %d, want 403", name, res.StatusCode)
			}
		}
	})
}
