package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// stackWith is a stack JSON holding files (path → text).
func stackWith(t *testing.T, files map[string]string) *string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"compose": "docker-compose.yml", "files": files})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	return &s
}

var users atomic.Int64

// newApp creates a user and an app and returns the app's id.
func newApp(t *testing.T, st *store.Store) int64 {
	t.Helper()
	ctx := context.Background()
	var app int64
	err := st.Tx(ctx, func(q *store.Q) error {
		u := &store.User{SimpleName: fmt.Sprintf("u%d", users.Add(1)), Name: "U", CreatedAt: 1, OnlineAt: 1, Enabled: true}
		if err := q.CreateUser(ctx, u, "hash"); err != nil {
			return err
		}
		a := &store.App{Author: u.ID, Name: "app", CreatedAt: 1, UpdatedAt: 1}
		err := q.CreateApp(ctx, a)
		app = a.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// publish adds a version of app with stack and returns its reversion.
func publish(t testing.TB, st *store.Store, app int64, version string, stack *string) int64 {
	ctx := context.Background()
	u := &store.Update{App: app, Version: version, Stack: stack, CreatedAt: 1}
	if err := st.Tx(ctx, func(q *store.Q) error { return q.CreateUpdate(ctx, u) }); err != nil {
		t.Errorf("publish %s: %v", version, err)
	}
	return u.Reversion
}

func sweep(t testing.TB, st *store.Store) int64 {
	n, err := st.SweepStackFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func bodies(t *testing.T, st *store.Store) []string {
	t.Helper()
	b, err := st.StackFileBodies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSweepStackFiles: a file goes when the last version referring to it goes (deleted, edited, its app deleted),
// and not before.
func TestSweepStackFiles(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		app := newApp(t, st)
		v1 := publish(t, st, app, "1", stackWith(t, map[string]string{"a.yml": "shared", "b.yml": "only v1"}))
		v2 := publish(t, st, app, "2", stackWith(t, map[string]string{"a.yml": "shared", "c.yml": "only v2"}))
		notOurs := `{"file_refs": 7, "note": "a stack stored as it came, not JSON we wrote"}`
		publish(t, st, app, "3", &notOurs)
		if n := sweep(t, st); n != 0 {
			t.Errorf("swept %d files that versions use", n)
		}

		if err := st.Tx(ctx, func(q *store.Q) error { return q.DeleteUpdate(ctx, app, v1) }); err != nil {
			t.Fatal(err)
		}
		if n := sweep(t, st); n != 1 {
			t.Errorf("after deleting version 1: swept %d files, want 1", n)
		}
		if got, want := bodies(t, st), []string{`"only v2"`, `"shared"`}; !slices.Equal(got, want) {
			t.Errorf("after deleting version 1: %q, want %q", got, want)
		}
		u, err := st.Q().Update(ctx, app, v2)
		if err != nil {
			t.Fatal(err)
		}
		if *u.Stack != *stackWith(t, map[string]string{"a.yml": "shared", "c.yml": "only v2"}) {
			t.Errorf("version 2 reads back %s", *u.Stack)
		}

		// An edit that replaces a file leaves the old one to the sweep.
		u.Stack = stackWith(t, map[string]string{"a.yml": "shared", "c.yml": "edited"})
		if err := st.Tx(ctx, func(q *store.Q) error { return q.SaveUpdate(ctx, u) }); err != nil {
			t.Fatal(err)
		}
		if n := sweep(t, st); n != 1 {
			t.Errorf("after the edit: swept %d files, want 1", n)
		}
		if got, want := bodies(t, st), []string{`"edited"`, `"shared"`}; !slices.Equal(got, want) {
			t.Errorf("after the edit: %q, want %q", got, want)
		}

		if err := st.Tx(ctx, func(q *store.Q) error { return q.DeleteApp(ctx, app) }); err != nil {
			t.Fatal(err)
		}
		if n := sweep(t, st); n != 2 {
			t.Errorf("after deleting the app: swept %d files, want 2", n)
		}

		// More unused files than one statement deletes.
		app = newApp(t, st)
		many := map[string]string{}
		for i := range 1234 {
			many[fmt.Sprintf("f%d", i)] = fmt.Sprintf("file %d", i)
		}
		rev := publish(t, st, app, "big", stackWith(t, many))
		if err := st.Tx(ctx, func(q *store.Q) error { return q.DeleteUpdate(ctx, app, rev) }); err != nil {
			t.Fatal(err)
		}
		if n := sweep(t, st); n != 1234 {
			t.Errorf("after deleting a version of 1234 files: swept %d", n)
		}
		if b := bodies(t, st); len(b) != 0 {
			t.Errorf("%d files left", len(b))
		}
	})
}

// TestSweepStackFilesBesidePublishes sweeps while versions are published that reuse a file no version used
// a moment before: the sweep must not delete it under the new version, which finds it already stored.
func TestSweepStackFilesBesidePublishes(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		app := newApp(t, st)
		for round := range 40 {
			files := map[string]string{"docker-compose.yml": fmt.Sprintf("round %d", round)}
			rev := publish(t, st, app, "old", stackWith(t, files))
			if err := st.Tx(ctx, func(q *store.Q) error { return q.DeleteUpdate(ctx, app, rev) }); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var fresh int64
			wg.Go(func() { sweep(t, st) })
			wg.Go(func() { fresh = publish(t, st, app, "new", stackWith(t, files)) })
			wg.Wait()
			if _, err := st.Q().Update(ctx, app, fresh); err != nil {
				t.Fatalf("round %d: the version published beside a sweep lost its file: %v", round, err)
			}
		}
	})
}
