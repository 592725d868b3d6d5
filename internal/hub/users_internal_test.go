package hub

import (
	"context"
	"fmt"
	"testing"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil/dbtest"
)

// requireUserExists answers 404 for a missing user and for the system user, and lets a failed lookup through as
// the server error it is rather than a 404. It uses dbtest, not testutil, which imports hub.
func TestRequireUserExists(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, e dbtest.Engine) {
		ctx := context.Background()
		st := dbtest.OpenStore(t, e)
		u := &store.User{SimpleName: "u", Name: "U", CreatedAt: 1, OnlineAt: 1, Enabled: true}
		if err := st.Tx(ctx, func(q *store.Q) error { return q.CreateUser(ctx, u, "hash") }); err != nil {
			t.Fatal(err)
		}
		if err := requireUserExists(ctx, st.Q(), u.ID); err != nil {
			t.Errorf("existing user: %v", err)
		}
		for _, uid := range []int64{0, u.ID + 1} {
			err := requireUserExists(ctx, st.Q(), uid)
			want := fmt.Sprintf("Resource was not found: user %d", uid)
			if ae := apperr.As(err); ae.Kind != apperr.NotFound || ae.Message != want {
				t.Errorf("user %d: %v, want 404 %q", uid, err, want)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if err := requireUserExists(ctx, st.Q(), u.ID); err == nil || apperr.As(err).Kind != apperr.Internal {
			t.Errorf("closed store: %v, want a server error", err)
		}
	})
}
