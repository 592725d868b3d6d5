package auth_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// A TOTP step is used once even when requests race: of eight concurrent uses of one step, exactly one wins, and
// an earlier step is refused afterwards.
func TestTOTPStepUsedOnce(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		u := &store.User{SimpleName: "ann", Name: "Ann", CreatedAt: 1, OnlineAt: 1, Enabled: true}
		if err := st.Tx(ctx, func(q *store.Q) error { return q.CreateUser(ctx, u, "metapass hash") }); err != nil {
			t.Fatal(err)
		}
		if err := st.Q().PutTOTP(ctx, u.ID, "JBSWY3DPEHPK3PXP", 1); err != nil {
			t.Fatal(err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				ok, err := st.Q().UseTOTPStep(ctx, u.ID, 1000)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d requests used step 1000, want 1", wins.Load())
		}
		if ok, err := st.Q().UseTOTPStep(ctx, u.ID, 999); err != nil || ok {
			t.Fatalf("an earlier step after 1000: %v, %v", ok, err)
		}
		tt, err := st.Q().TOTP(ctx, u.ID)
		if err != nil || !tt.Confirmed || tt.LastStep != 1000 {
			t.Fatalf("totp after use: %+v, %v", tt, err)
		}
		if err := st.Q().PutTOTP(ctx, u.ID, "OTHERSECRET", 2); err == nil {
			t.Fatal("a confirmed secret was replaced")
		}
	})
}
