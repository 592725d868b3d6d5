package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/internal/testutil"
)

// TestMain stops the Chromium the browser tests share (testutil.Browser) once they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	testutil.StopBrowser()
	os.Exit(code)
}

// browserClient is an HTTP client that keeps cookies and does not follow redirects, like a browser tab whose
// every step the test checks.
func browserClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// post sends a form and returns the status and the body.
func post(t *testing.T, c *http.Client, u string, form url.Values, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "stackhub_session" {
			return c
		}
	}
	return nil
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// signIn returns a cookie-keeping client signed in through the sign-in form as the admin (who "admin") or as
// a user made by Server.NewUser.
func signIn(t *testing.T, s *testutil.Server, who string) *http.Client {
	t.Helper()
	c := browserClient(t)
	form := url.Values{"kind": {"admin"}, "token": {testutil.AdminToken}}
	if who != "admin" {
		form = url.Values{"kind": {"user"}, "login": {who}, "password": {"password of " + who}}
	}
	if res, body := post(t, c, s.URL+"/ui/signin", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d\n%s", who, res.StatusCode, body)
	}
	return c
}
