package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// Apps answers in the order of the ids asked for, repeats included, and leaves missing ids out, though it asks
// the database for each distinct id once.
func TestAppsKeepsOrderAndRepeats(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		var ids []int64
		err := st.Tx(ctx, func(q *store.Q) error {
			u := &store.User{SimpleName: "u", Name: "U", CreatedAt: 1, OnlineAt: 1, Enabled: true}
			if err := q.CreateUser(ctx, u, "hash"); err != nil {
				return err
			}
			for range 3 {
				a := &store.App{Author: u.ID, Name: "app", CreatedAt: 1, UpdatedAt: 1}
				if err := q.CreateApp(ctx, a); err != nil {
					return err
				}
				ids = append(ids, a.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ask := []int64{ids[2], ids[0], 1 << 40, ids[2], ids[1]}
		apps, err := st.Q().Apps(ctx, ask)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, a := range apps {
			got = append(got, a.ID)
		}
		if want := []int64{ids[2], ids[0], ids[2], ids[1]}; !slices.Equal(got, want) {
			t.Errorf("Apps(%v) = %v, want %v", ask, got, want)
		}
	})
}
