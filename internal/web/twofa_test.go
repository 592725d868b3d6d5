package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// testClock is the TOTP clock of a test server: it moves only when the test moves it, so a code never expires
// between computing and sending it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Step() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(30 * time.Second)
}

// clockedServer starts a test server whose TOTP clock moves only when the test moves it.
func clockedServer(t *testing.T, e testutil.Engine, opt testutil.Options) (*testutil.Server, *testClock) {
	t.Helper()
	s := testutil.StartServer(t, e, opt)
	clock := &testClock{now: time.Unix(1_800_000_000, 0)}
	s.Auth.SetClock(clock.Now)
	return s, clock
}

// totpOn enrols and confirms TOTP for the user signed in on c, and answers the enrolment.
func totpOn(t *testing.T, s *testutil.Server, c *http.Client, clock *testClock) auth.Enrolment {
	t.Helper()
	var en auth.Enrolment
	if st := sendJSON(t, c, "POST", s.URL+"/api/v1/account/totp", nil, &en); st != http.StatusOK {
		t.Fatalf("enrol: %d", st)
	}
	if st := sendJSON(t, c, "POST", s.URL+"/api/v1/account/totp/confirm", map[string]string{"code": code(t, en.Secret, clock.Now())}, nil); st != http.StatusOK {
		t.Fatalf("confirm: %d", st)
	}
	return en
}

// sendJSON sends a JSON request with the client's cookies and decodes a JSON answer into out (when not nil).
func sendJSON(t *testing.T, c *http.Client, method, u string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, u, err, b)
		}
	}
	if res.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, u, res.StatusCode, b)
	}
	return res.StatusCode
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := auth.TOTPCode(secret, at, otp.DigitsSix)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pendingCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "stackhub_pending" {
			return c
		}
	}
	return nil
}

// passwordStep signs in with tina's password and expects the second step: a pending sign-in, no session.
func passwordStep(t *testing.T, s *testutil.Server, c *http.Client) {
	t.Helper()
	res, body := post(t, c, s.URL+"/ui/signin", url.Values{"kind": {"user"}, "login": {"tina"},
		"password": {"password of tina"}, "next": {"/ui/account"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/ui/signin/second") {
		t.Fatalf("password of a user with TOTP: %d to %q, want 303 to the second step\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if sessionCookie(res) != nil {
		t.Fatal("the password alone opened a session")
	}
	if p := pendingCookie(res); p == nil || !p.HttpOnly || p.MaxAge <= 0 || p.MaxAge > 300 {
		t.Fatalf("pending sign-in cookie %+v; want HttpOnly and at most 5 minutes", p)
	}
	res, body = get(t, c, s.URL+"/ui/signin/second?next=/ui/account")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="code"`) || strings.Contains(body, `action="/ui/signout"`) {
		t.Fatalf("second step page: %d\n%s", res.StatusCode, body)
	}
}

// secondStep posts a code on the second-step page and returns the status and the page.
func secondStep(t *testing.T, s *testutil.Server, c *http.Client, code string) (*http.Response, string) {
	t.Helper()
	return post(t, c, s.URL+"/ui/signin/second", url.Values{"code": {code}, "next": {"/ui/account"}})
}

func signedInAs(t *testing.T, s *testutil.Server, c *http.Client) bool {
	t.Helper()
	var f auth.Factors
	return sendJSON(t, c, "GET", s.URL+"/api/v1/account/second-factors", nil, &f) == http.StatusOK
}

// TestTOTPOverHTTP is two-step sign-in end to end over real HTTP: enrolment and confirmation through
// /api/v1/account with the web session, then sign-ins that stop at the second step until a code computed here
// from the secret is given; a code works once, a recovery code works once, and disabling (with the password)
// brings back the password alone.
func TestTOTPOverHTTP(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s, clock := clockedServer(t, e, testutil.Options{})
		tina := s.NewUser("tina")
		c := signIn(t, s, "tina")

		var en auth.Enrolment
		if st := sendJSON(t, c, "POST", s.URL+"/api/v1/account/totp", nil, &en); st != http.StatusOK {
			t.Fatalf("enrol: %d", st)
		}
		if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(en.Secret) || !strings.HasPrefix(en.QR, "data:image/png;base64,") ||
			!strings.HasPrefix(en.URI, "otpauth://totp/StackHub:tina?") || !strings.Contains(en.URI, "secret="+en.Secret) {
			t.Fatalf("enrolment %+v", en)
		}
		// Not on until confirmed: the password alone still signs in.
		if res, _ := post(t, browserClient(t), s.URL+"/ui/signin", url.Values{"kind": {"user"}, "login": {"tina"},
			"password": {"password of tina"}}); sessionCookie(res) == nil {
			t.Fatal("an unconfirmed secret already asks for a second step")
		}
		var rc struct {
			RecoveryCodes []string `json:"recovery_codes"`
		}
		if st := sendJSON(t, c, "POST", s.URL+"/api/v1/account/totp/confirm", map[string]string{"code": "000000"}, nil); st != http.StatusUnauthorized {
			t.Fatalf("confirm with a wrong code: %d, want 401", st)
		}
		if st := sendJSON(t, c, "POST", s.URL+"/api/v1/account/totp/confirm", map[string]string{"code": code(t, en.Secret, clock.Now())}, &rc); st != http.StatusOK {
			t.Fatalf("confirm: %d", st)
		}
		seen := map[string]bool{}
		for _, rcode := range rc.RecoveryCodes {
			if !regexp.MustCompile(`^[a-z2-9]{5}-[a-z2-9]{5}$`).MatchString(rcode) || seen[rcode] {
				t.Fatalf("recovery codes %q", rc.RecoveryCodes)
			}
			seen[rcode] = true
		}
		if len(seen) != 10 {
			t.Fatalf("%d recovery codes, want 10", len(seen))
		}
		if st := sendJSON(t, c, "POST", s.URL+"/api/v1/account/totp", nil, nil); st != http.StatusConflict {
			t.Fatalf("enrol again while on: %d, want 409", st)
		}
		has, err := s.Auth.HasSecondFactor(t.Context(), tina.UID)
		if err != nil || !has {
			t.Fatalf("HasSecondFactor after confirming: %v, %v", has, err)
		}

		// Without a pending sign-in (none, or expired) the second step sends back to the password.
		if res, _ := secondStep(t, s, browserClient(t), code(t, en.Secret, clock.Now())); res.StatusCode != http.StatusSeeOther ||
			!strings.HasPrefix(res.Header.Get("Location"), "/ui/signin?") {
			t.Fatalf("second step without a pending sign-in: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}

		// Sign in: the password leads to the second step; a wrong code and the code already used to confirm
		// are refused; the next step's code signs in.
		b := browserClient(t)
		passwordStep(t, s, b)
		if res, body := secondStep(t, s, b, "123456"); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "wrong code") {
			t.Fatalf("wrong code: %d\n%s", res.StatusCode, body)
		}
		if res, body := secondStep(t, s, b, code(t, en.Secret, clock.Now())); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "already used") {
			t.Fatalf("the confirmation's code again: %d\n%s", res.StatusCode, body)
		}
		if signedInAs(t, s, b) {
			t.Fatal("signed in before the second step")
		}
		clock.Step()
		good := code(t, en.Secret, clock.Now())
		res, _ := secondStep(t, s, b, good)
		if res.StatusCode != http.StatusSeeOther || sessionCookie(res) == nil || res.Header.Get("Location") != "/ui/account" {
			t.Fatalf("right code: %d to %q, session %v", res.StatusCode, res.Header.Get("Location"), sessionCookie(res))
		}
		if !signedInAs(t, s, b) {
			t.Fatal("the session after the second step does not sign tina in")
		}

		// The same code on another sign-in is refused: each code works once.
		b2 := browserClient(t)
		passwordStep(t, s, b2)
		if res, body := secondStep(t, s, b2, good); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "already used") {
			t.Fatalf("a used code again: %d\n%s", res.StatusCode, body)
		}
		// A recovery code works once.
		if res, _ := secondStep(t, s, b2, strings.ToUpper(rc.RecoveryCodes[3])); res.StatusCode != http.StatusSeeOther || sessionCookie(res) == nil {
			t.Fatalf("recovery code: %d", res.StatusCode)
		}
		b3 := browserClient(t)
		passwordStep(t, s, b3)
		if res, body := secondStep(t, s, b3, rc.RecoveryCodes[3]); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "recovery code") {
			t.Fatalf("a used recovery code again: %d\n%s", res.StatusCode, body)
		}
		var f auth.Factors
		if sendJSON(t, c, "GET", s.URL+"/api/v1/account/second-factors", nil, &f) != http.StatusOK || !f.TOTP || f.RecoveryCodes != 9 {
			t.Fatalf("factors after one recovery code: %+v", f)
		}

		// Disable: a wrong password is refused, the right one turns TOTP off, and the password alone signs in.
		if st := sendJSON(t, c, "POST", s.URL+"/api/v1/account/totp/disable", map[string]string{"password": "nope"}, nil); st != http.StatusUnauthorized {
			t.Fatalf("disable with a wrong password: %d", st)
		}
		if st := sendJSON(t, c, "POST", s.URL+"/api/v1/account/totp/disable", map[string]string{"password": "password of tina"}, nil); st != http.StatusNoContent {
			t.Fatalf("disable: %d", st)
		}
		if res, _ := post(t, browserClient(t), s.URL+"/ui/signin", url.Values{"kind": {"user"}, "login": {"tina"},
			"password": {"password of tina"}}); res.StatusCode != http.StatusSeeOther || sessionCookie(res) == nil {
			t.Fatalf("password after disabling: %d, session %v", res.StatusCode, sessionCookie(res))
		}
		spec := s.Want(http.StatusOK, testutil.Anon, "GET", "/api/v1/openapi.json", nil).Text()
		for _, op := range []string{"/api/v1/account/totp/confirm", "/api/v1/account/totp/disable", "/api/v1/account/recovery-codes",
			"/api/v1/account/passkeys/{id}", `"totp-enrol"`} {
			if !strings.Contains(spec, op) {
				t.Errorf("the OpenAPI document lacks %s", op)
			}
		}
		// The GeekApk passhash cookie API is not behind the second factor, by contract.
		s.Want(http.StatusOK, tina, "GET", "/api/v1/account/second-factors", nil)
	})
}

// TestAdminResetsLostSecondFactors: a user who lost their authenticator is helped by the admin alone. The reset
// removes the TOTP secret, the recovery codes and the passkeys, ends the user's sessions and is audited; afterwards
// the password alone signs in. Nobody else may do it, and an unknown user is a 404.
func TestAdminResetsLostSecondFactors(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s, clock := clockedServer(t, e, testutil.Options{})
		tina := s.NewUser("tina")
		other := s.NewUser("other")
		c := signIn(t, s, "tina")
		totpOn(t, s, c, clock)
		err := s.Store.Q().CreatePasskey(t.Context(), store.Passkey{ID: "lost-key", UID: tina.UID, Name: "lost phone",
			PublicKey: []byte{1}, UserHandle: []byte{2}, AAGUID: make([]byte, 16), CreatedAt: 1})
		if err != nil {
			t.Fatal(err)
		}
		var f auth.Factors
		if sendJSON(t, c, "GET", s.URL+"/api/v1/account/second-factors", nil, &f) != http.StatusOK || !f.TOTP ||
			f.RecoveryCodes != 10 || f.Passkeys != 1 {
			t.Fatalf("factors before the reset: %+v", f)
		}

		s.Want(http.StatusForbidden, other, "DELETE", "/api/v1/users/tina/second-factors", nil)
		s.Want(http.StatusForbidden, tina, "DELETE", "/api/v1/users/tina/second-factors", nil)
		s.Want(http.StatusNotFound, testutil.Admin, "DELETE", "/api/v1/users/nobody/second-factors", nil)
		if has, _ := s.Auth.HasSecondFactor(t.Context(), tina.UID); !has {
			t.Fatal("a refused reset removed the second factors")
		}
		s.Want(http.StatusNoContent, testutil.Admin, "DELETE", "/api/v1/users/tina/second-factors", nil)

		if signedInAs(t, s, c) {
			t.Error("tina's session outlived the reset")
		}
		b := browserClient(t)
		res, _ := post(t, b, s.URL+"/ui/signin", url.Values{"kind": {"user"}, "login": {"tina"}, "password": {"password of tina"}})
		if res.StatusCode != http.StatusSeeOther || sessionCookie(res) == nil {
			t.Fatalf("the password after the reset: %d, session %v; want signed in", res.StatusCode, sessionCookie(res))
		}
		if sendJSON(t, b, "GET", s.URL+"/api/v1/account/second-factors", nil, &f) != http.StatusOK || f.TOTP ||
			f.RecoveryCodes != 0 || f.Passkeys != 0 {
			t.Errorf("factors after the reset: %+v, want none", f)
		}
		if has, _ := s.Auth.HasSecondFactor(t.Context(), other.UID); has {
			t.Error("another user gained a second factor")
		}
		audit := s.Want(http.StatusOK, testutil.Admin, "GET", "/api/v1/audit?action=second_factors_reset", nil).Text()
		if strings.Count(audit, `"second_factors_reset"`) != 4 || !strings.Contains(audit, "user tina") {
			t.Errorf("audit of the resets (three refused, one done): %s", audit)
		}
	})
}

// TestTOTPRateLimit: wrong codes count against the user and the address; past the limit even the right code is
// refused with 429 until the window passes.
func TestTOTPRateLimit(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s, clock := clockedServer(t, e, testutil.Options{Limiter: auth.NewLimiter(3, time.Minute)})
		s.NewUser("tina")
		c := signIn(t, s, "tina")
		en := totpOn(t, s, c, clock)
		clock.Step()
		b := browserClient(t)
		passwordStep(t, s, b)
		for range 3 {
			if res, _ := secondStep(t, s, b, "000000"); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong code: %d, want 401", res.StatusCode)
			}
		}
		res, body := secondStep(t, s, b, code(t, en.Secret, clock.Now()))
		if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed attempts") || sessionCookie(res) != nil {
			t.Fatalf("right code past the limit: %d, session %v\n%s", res.StatusCode, sessionCookie(res), body)
		}
		if st := sendJSON(t, c, "POST", s.URL+"/api/v1/account/recovery-codes", map[string]string{"code": code(t, en.Secret, clock.Now())}, nil); st != http.StatusTooManyRequests {
			t.Fatalf("the API past the limit: %d, want 429", st)
		}
	})
}

// TestPasskeyStartsLimited: anyone may start a passkey sign-in, and each start is kept until it expires, so one
// address gets as many starts as the limiter allows failures; past that 429, while its password sign-in (another
// key) still works.
func TestPasskeyStartsLimited(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{Limiter: auth.NewLimiter(3, time.Minute)})
		s.NewUser("tina")
		b := browserClient(t)
		options := strings.Replace(s.URL, "127.0.0.1", "localhost", 1) + "/ui/signin/passkey/options" // a relying party needs a name
		for i := range 3 {
			var c auth.Ceremony
			if st := sendJSON(t, b, "POST", options, map[string]bool{"second": false}, &c); st != http.StatusOK || len(c.ID) != 64 {
				t.Fatalf("start %d: %d %+v", i+1, st, c)
			}
		}
		if st := sendJSON(t, b, "POST", options, map[string]bool{"second": false}, nil); st != http.StatusTooManyRequests {
			t.Fatalf("a start past the limit: %d, want 429", st)
		}
		if res, _ := post(t, b, s.URL+"/ui/signin", url.Values{"kind": {"user"}, "login": {"tina"},
			"password": {"password of tina"}}); res.StatusCode != http.StatusSeeOther || sessionCookie(res) == nil {
			t.Fatalf("the password past the passkey starts' limit: %d, session %v", res.StatusCode, sessionCookie(res))
		}
	})
}
