package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/stackhub/stackhub/internal/testutil"
)

// virtualAuthenticator gives the tab a platform authenticator that holds passkeys (resident keys) and verifies
// its user at once, as a phone's fingerprint reader would; it returns the authenticator's id.
func virtualAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("enable the WebAuthn domain: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatalf("add a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// TestPasskeyInBrowser: in a real Chromium with a virtual authenticator, a user turns on TOTP from the account
// page (QR code, a code, the recovery codes), registers a passkey there, signs out and signs in with the passkey
// alone (no user name or password typed), then signs in with the password and uses the passkey as the second
// step, and deletes the passkey. WebAuthn needs a host name, so the browser reaches the test server as localhost.
func TestPasskeyInBrowser(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		base := strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
		pia := s.NewUser("pia")
		ctx := testutil.Browser(t, 1280, 900)
		authID := virtualAuthenticator(t, ctx)
		testutil.SignInUser(t, ctx, base, "pia", "password of pia")

		// Two-step sign-in from the account page: the QR code shows (a data URL, allowed by the page's CSP), a
		// code computed here from the secret on the page confirms it, and ten recovery codes are shown.
		testutil.Do(t, ctx, "enable two-step sign-in",
			chromedp.Navigate(base+"/ui/account"),
			chromedp.Click(chromedp.ID("totp-enable")),
			chromedp.WaitVisible(chromedp.ID("totp-setup")),
		)
		secret := testutil.Get(t, ctx, "the secret", chromedp.Text(chromedp.ID("totp-secret")))
		if w := testutil.Get(t, ctx, "the QR code's width", chromedp.Evaluate[int](
			`new Promise(ok => { const i = document.getElementById('totp-qr'); i.complete ? ok(i.naturalWidth) : i.onload = () => ok(i.naturalWidth) })`,
			chromedp.EvalAwaitPromise)); w < 100 {
			t.Fatalf("the QR code image is %d px wide", w)
		}
		testutil.Do(t, ctx, "confirm with a code",
			chromedp.SendKeys(chromedp.ID("totp-code"), code(t, secret, time.Now())),
			chromedp.Click(chromedp.CSS("#totp-confirm button")),
			chromedp.WaitVisible(chromedp.ID("recovery")),
		)
		if n := testutil.Get(t, ctx, "the recovery codes", chromedp.Evaluate[int](`document.querySelectorAll('#recovery-codes code').length`)); n != 10 {
			t.Fatalf("%d recovery codes shown, want 10", n)
		}

		// Register.
		testutil.Do(t, ctx, "name a passkey",
			chromedp.Navigate(base+"/ui/account"),
			chromedp.WaitVisible(chromedp.ID("passkeys-empty")),
			chromedp.SendKeys(chromedp.ID("passkey-name"), "laptop"),
		)
		testutil.Load(t, ctx, "add the passkey (the page reloads)", chromedp.Click(chromedp.CSS("#passkey-add button")))
		testutil.Do(t, ctx, "the listed passkey", chromedp.WaitVisible(chromedp.CSS("#passkeys .passkey-name")))
		if name := testutil.Get(t, ctx, "the passkey's name", chromedp.Text(chromedp.CSS("#passkeys .passkey-name"))); name != "laptop" {
			t.Fatalf("listed passkey %q", name)
		}
		keys, err := s.Store.Q().Passkeys(t.Context(), pia.UID)
		if err != nil || len(keys) != 1 || keys[0].Name != "laptop" || len(keys[0].PublicKey) == 0 || len(keys[0].UserHandle) != 32 {
			t.Fatalf("stored passkeys %+v, %v", keys, err)
		}
		creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: authID})
		if err != nil || len(creds.Credentials) != 1 {
			t.Fatalf("authenticator credentials %+v, %v", creds, err)
		}
		if c := creds.Credentials[0]; !c.IsResidentCredential || c.RpID != "localhost" || !bytes.Equal(c.UserHandle, keys[0].UserHandle) {
			t.Fatalf("authenticator credential: resident %v, RP %q, user handle matches %v", c.IsResidentCredential, c.RpID,
				bytes.Equal(c.UserHandle, keys[0].UserHandle))
		}

		// Sign out, then sign in with the passkey alone.
		testutil.Load(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`form[action="/ui/signout"] button`)))
		testutil.Do(t, ctx, "open the sign-in page", chromedp.Navigate(base+"/ui/signin?next=/ui/account"),
			chromedp.WaitVisible(chromedp.ID("passkey-button")))
		testutil.Load(t, ctx, "sign in with the passkey", chromedp.Click(chromedp.ID("passkey-button")))
		testutil.Do(t, ctx, "signed in", chromedp.WaitVisible(chromedp.CSS(`form[action="/ui/signout"]`)))
		if loc := testutil.Get(t, ctx, "where the passkey led", chromedp.Location()); loc != base+"/ui/account" {
			t.Fatalf("after the passkey the browser is at %s", loc)
		}
		assertSignedInAs(t, ctx, pia.UID)
		if n := testutil.Get(t, ctx, "the passkey's last use", chromedp.Text(chromedp.CSS("#passkeys li .muted"))); !strings.Contains(n, "last used") {
			t.Fatalf("the passkey's use was not recorded: %q", n)
		}

		// A password sign-in now stops at the second step, where the passkey finishes it.
		testutil.Load(t, ctx, "sign out again", chromedp.Click(chromedp.CSS(`form[action="/ui/signout"] button`)))
		testutil.Do(t, ctx, "the password",
			chromedp.Navigate(base+"/ui/signin"),
			chromedp.SendKeys(chromedp.ID("login"), "pia"),
			chromedp.SendKeys(chromedp.ID("password"), "password of pia"),
		)
		testutil.Load(t, ctx, "submit the password", chromedp.Submit(chromedp.ID("password")))
		if loc := testutil.Get(t, ctx, "where the password led", chromedp.Location()); !strings.Contains(loc, "/ui/signin/second") {
			t.Fatalf("a user with a passkey went from the password to %s, not the second step", loc)
		}
		if n := testutil.Get(t, ctx, "the code field", chromedp.Evaluate[int](`document.querySelectorAll('#code').length`)); n != 1 {
			t.Fatal("the second step of a user with TOTP and a passkey does not offer the code")
		}
		testutil.Load(t, ctx, "use the passkey as the second step", chromedp.Click(chromedp.ID("passkey-button")))
		testutil.Do(t, ctx, "signed in after two steps", chromedp.WaitVisible(chromedp.CSS(`form[action="/ui/signout"]`)))
		assertSignedInAs(t, ctx, pia.UID)

		// Only its owner can delete a passkey; the owner does it from the account page.
		other := s.NewUser("oscar")
		s.Want(http.StatusNotFound, other, "DELETE", "/api/v1/account/passkeys/"+keys[0].ID, nil)
		testutil.Do(t, ctx, "open the account page", chromedp.Navigate(base+"/ui/account"), chromedp.WaitVisible(chromedp.CSS(".passkey-delete")))
		testutil.Load(t, ctx, "delete the passkey (confirmed; the page reloads)", chromedp.Click(chromedp.CSS(".passkey-delete")))
		testutil.Do(t, ctx, "the empty list", chromedp.WaitVisible(chromedp.ID("passkeys-empty")))
		if keys, err := s.Store.Q().Passkeys(t.Context(), pia.UID); err != nil || len(keys) != 0 {
			t.Fatalf("passkeys after deleting: %+v, %v", keys, err)
		}
	})
}

// assertSignedInAs checks the tab's session belongs to uid: the navigation links to the user's profile, and the
// API (with the same session cookie) lists the user's passkeys.
func assertSignedInAs(t *testing.T, ctx context.Context, uid int64) {
	t.Helper()
	href := fmt.Sprintf(`a[href="/ui/users/%d"]`, uid)
	if n := testutil.Get(t, ctx, "the profile link", chromedp.Evaluate[int](`document.querySelectorAll('`+href+`').length`)); n != 1 {
		t.Fatalf("the page has %d links to user %d's profile", n, uid)
	}
	status := testutil.Get(t, ctx, "the session on the API", chromedp.Evaluate[int](
		`fetch("/api/v1/account/passkeys").then(r => r.status)`, chromedp.EvalAwaitPromise))
	if status != 200 {
		t.Fatalf("GET /api/v1/account/passkeys with the tab's session: %d", status)
	}
}
