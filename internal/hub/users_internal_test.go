package hub

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/store"
)

// requireUserExists answers 404 for a missing user and for the system user, and lets a failed lookup through as
// the server error it is rather than a 404. SQLite only: testutil imports hub, so this internal test cannot use it.
func TestRequireUserExists(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "stackhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
}
