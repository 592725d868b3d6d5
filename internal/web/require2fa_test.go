package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/testutil"
)

// TestRequireSecondFactor is --require-2fa over real HTTP: an operator without a second factor reaches only their
// account page (every other page sends them there, the APIs answer 403 naming the fix); once they confirm TOTP
// they work as an operator. A member is not asked; with the setting off, an operator is not either.
func TestRequireSecondFactor(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s, clock := clockedServer(t, e, testutil.Options{})
		op := s.NewUser("olga")
		s.NewUser("mia")
		s.Want(200, testutil.Admin, "PUT", fmt.Sprintf("/api/v1/users/%d/role", op.UID), map[string]string{"role": "operator"})
		c := signIn(t, s, "olga")
		if res, _ := get(t, c, s.URL+"/api/v1/installs"); res.StatusCode != http.StatusOK {
			t.Fatalf("operator, setting off: installs %d, want 200", res.StatusCode)
		}

		s.Auth.RequireSecondFactor(true)
		res, _ := get(t, c, s.URL+"/ui/server")
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ui/account" {
			t.Fatalf("operator without a second factor, server page: %d to %q, want 303 to /ui/account", res.StatusCode, res.Header.Get("Location"))
		}
		if res, body := get(t, c, s.URL+"/ui/account"); res.StatusCode != http.StatusOK || !strings.Contains(body, `id="totp-enable"`) {
			t.Fatalf("account page: %d, want 200 with the TOTP set-up", res.StatusCode)
		}
		if res, body := get(t, c, s.URL+"/api/v1/installs"); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "second factor") {
			t.Fatalf("operator without a second factor, API: %d %s; want 403 naming the second factor", res.StatusCode, body)
		}
		if res, _ := get(t, signIn(t, s, "mia"), s.URL+"/ui/notifications"); res.StatusCode != http.StatusOK {
			t.Fatalf("a member is not asked for a second factor: %d", res.StatusCode)
		}

		var en auth.Enrolment
		if st := sendJSON(t, c, "POST", s.URL+"/api/v1/account/totp", nil, &en); st != http.StatusOK {
			t.Fatalf("enrol: %d", st)
		}
		if st := sendJSON(t, c, "POST", s.URL+"/api/v1/account/totp/confirm", map[string]string{"code": code(t, en.Secret, clock.Now())}, nil); st != http.StatusOK {
			t.Fatalf("confirm: %d", st)
		}
		if res, _ := get(t, c, s.URL+"/api/v1/installs"); res.StatusCode != http.StatusOK {
			t.Fatalf("operator with TOTP: installs %d, want 200", res.StatusCode)
		}
		if res, _ := get(t, c, s.URL+"/ui/server"); res.StatusCode != http.StatusOK {
			t.Fatalf("operator with TOTP: server page %d, want 200", res.StatusCode)
		}
	})
}
