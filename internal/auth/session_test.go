package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
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
		sess, err := before.SignInAdmin(ctx, "first-token-0123456789", auth.Credentials{Client: "127.0.0.1"})
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
		forged := "f" + sess[1:]
		if sess[0] == 'f' { // a forgery must differ from the real id
			forged = "e" + sess[1:]
		}
		if a, err := before.Authenticate(ctx, auth.Credentials{Session: forged}); err != nil || a.Admin {
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

// A user session follows its user: enabled, then disabled (still signed in, as a disabled user), then gone
// (anonymous).
func TestUserSessionFollowsItsUser(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		s := auth.NewService(st, testutil.AdminToken, testutil.HashParams, auth.NewLimiter(100, time.Minute))
		hash, err := s.Hash(auth.PasshashOf("a long password"))
		if err != nil {
			t.Fatal(err)
		}
		u := &store.User{SimpleName: "ann", Name: "Ann", CreatedAt: 1, OnlineAt: 1, Enabled: true}
		err = st.Tx(ctx, func(q *store.Q) error {
			if err := q.CreateUser(ctx, u, "metapass hash"); err != nil {
				return err
			}
			return q.SetPasshash(ctx, u.ID, hash)
		})
		if err != nil {
			t.Fatal(err)
		}
		in, err := s.SignInUser(ctx, "ann", "a long password", auth.Credentials{Client: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		sess := in.Session
		want := auth.Actor{UID: u.ID, User: true, Enabled: true, Role: auth.RoleMember}
		if a, err := s.Authenticate(ctx, auth.Credentials{Session: sess}); err != nil || a != want {
			t.Fatalf("enabled user's session: %+v, %v; want %+v", a, err, want)
		}
		if _, err := st.Q().ToggleUserEnabled(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		want.Enabled = false
		if a, err := s.Authenticate(ctx, auth.Credentials{Session: sess}); err != nil || a != want {
			t.Fatalf("disabled user's session: %+v, %v; want %+v", a, err, want)
		}
		if err := st.Q().DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if a, err := s.Authenticate(ctx, auth.Credentials{Session: sess}); err != nil || a != (auth.Actor{}) {
			t.Fatalf("deleted user's session: %+v, %v; want anonymous", a, err)
		}
	})
}
