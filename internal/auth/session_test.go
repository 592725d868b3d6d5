package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/testutil"
)

// An admin session belongs to the token it was opened with: after the admin changes the token (a restart with
// a new DOGETOK), old admin sessions are anonymous.
func TestAdminSessionDiesWithItsToken(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		lim := auth.NewLimiter(100, time.Minute)
		before := auth.NewService(st, "first-token-0123456789", testutil.HashParams, lim)
		sess, err := before.SignInAdmin(ctx, "first-token-0123456789", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if a, err := before.Authenticate(ctx, auth.Credentials{Session: sess}); err != nil || !a.Admin {
			t.Fatalf("fresh admin session: %+v, %v", a, err)
		}
		after := auth.NewService(st, "second-token-0123456789", testutil.HashParams, lim)
		if a, err := after.Authenticate(ctx, auth.Credentials{Session: sess}); err != nil || a.Admin || a.User {
			t.Fatalf("admin session after the token changed: %+v, %v", a, err)
		}
		if a, err := before.Authenticate(ctx, auth.Credentials{Session: "f" + sess[1:]}); err != nil || a.Admin {
			t.Fatalf("a forged session id: %+v, %v", a, err)
		}
		if err := before.SignOut(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if a, _ := before.Authenticate(ctx, auth.Credentials{Session: sess}); a.Admin {
			t.Fatal("signed-out session still admin")
		}
	})
}
