package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// fixture is a small hub: users, apps, and comments spread over the apps, with what each list must answer.
type fixture struct {
	users    []int64
	apps     []int64
	comments map[int64][]int64 // app → its comment ids in creation order
}

func newFixture(t *testing.T, st *store.Store, nApps, perApp int) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{comments: map[int64][]int64{}}
	err := st.Tx(ctx, func(q *store.Q) error {
		for i := range 5 {
			u := &store.User{SimpleName: fmt.Sprintf("u%d", i), Name: "U", CreatedAt: 1, OnlineAt: 1, Enabled: true}
			if err := q.CreateUser(ctx, u, "hash"); err != nil {
				return err
			}
			f.users = append(f.users, u.ID)
		}
		for i := range nApps {
			a := &store.App{Author: f.users[i%len(f.users)], Name: fmt.Sprintf("app %d", i), CreatedAt: 1,
				UpdatedAt: int64(1000 + i)}
			if err := q.CreateApp(ctx, a); err != nil {
				return err
			}
			f.apps = append(f.apps, a.ID)
			for j := range perApp * (i%3 + 1) {
				c := &store.Comment{Author: f.users[j%len(f.users)], App: a.ID, Content: "c", CreatedAt: int64(j / 2)}
				if err := q.CreateComment(ctx, c); err != nil {
					return err
				}
				f.comments[a.ID] = append(f.comments[a.ID], c.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestStatementCacheConcurrentReads reads through the statement cache from many goroutines at once, with writes
// going on beside them, and checks every answer; LIMIT and OFFSET are bind parameters, so pages of every size
// share one statement.
func TestStatementCacheConcurrentReads(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		st := testutil.OpenStore(t, e)
		f := newFixture(t, st, 30, 7)
		ctx := context.Background()

		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for g := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 60 {
					if err := checkReads(ctx, st.Q(), f, g*1000+i); err != nil {
						errs <- fmt.Errorf("goroutine %d, round %d: %w", g, i, err)
						return
					}
				}
			}()
		}
		// Writers: transactions through the write pool (its own cache on SQLite) while the readers run.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				err := st.Tx(ctx, func(q *store.Q) error {
					if _, err := q.App(ctx, f.apps[i%len(f.apps)]); err != nil {
						return err
					}
					_, err := q.ToggleStar(ctx, f.users[i%len(f.users)], f.apps[i%len(f.apps)])
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", i, err)
					return
				}
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// The same reads inside a transaction (statements bound to it with tx.StmtContext on SQLite).
		err := st.Tx(ctx, func(q *store.Q) error {
			for i := range 20 {
				if err := checkReads(ctx, q, f, i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.HasStatementCache() {
			if r, w := st.CachedStatements(); r == 0 || w == 0 {
				t.Errorf("cached statements: read %d, write %d; want some of each", r, w)
			}
		}
	})
}

// checkReads runs the hot reads once, varying the app, page size and offset with i, and checks the answers.
func checkReads(ctx context.Context, q *store.Q, f fixture, i int) error {
	aid := f.apps[i%len(f.apps)]
	a, err := q.App(ctx, aid)
	if err != nil {
		return err
	}
	if a.ID != aid || a.Name != fmt.Sprintf("app %d", i%len(f.apps)) {
		return fmt.Errorf("app %d: got %d %q", aid, a.ID, a.Name)
	}
	limit, offset := 1+i%9, i%4
	want := f.comments[aid]
	want = want[min(offset, len(want)):]
	want = want[:min(limit, len(want))]
	got, err := q.AppCommentIDs(ctx, aid, store.Sort{Key: "ctime"}, store.Page{Limit: limit, Offset: offset})
	if err != nil {
		return err
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("comments of %d, limit %d offset %d: got %v, want %v", aid, limit, offset, got, want)
	}
	ids, err := q.AppIDs(ctx, nil, store.Sort{Key: "updated", Desc: true}, store.Page{Limit: limit, Offset: offset})
	if err != nil {
		return err
	}
	wantIDs := slices.Clone(f.apps)
	slices.Reverse(wantIDs) // UpdatedAt grows with the index
	wantIDs = wantIDs[offset : offset+limit]
	if !slices.Equal(ids, wantIDs) {
		return fmt.Errorf("apps limit %d offset %d: got %v, want %v", limit, offset, ids, wantIDs)
	}
	// An IN-list of varying length: it bypasses the cache and must still answer right.
	n := 1 + i%len(f.apps)
	apps, err := q.Apps(ctx, f.apps[:n])
	if err != nil {
		return err
	}
	if len(apps) != n || apps[n-1].ID != f.apps[n-1] {
		return fmt.Errorf("apps %v: got %d apps", f.apps[:n], len(apps))
	}
	if ok, err := q.AppExists(ctx, aid); err != nil || !ok {
		return fmt.Errorf("app %d exists: %v %v", aid, ok, err)
	}
	if ok, err := q.AppExists(ctx, -aid); err != nil || ok {
		return fmt.Errorf("app %d exists: %v %v", -aid, ok, err)
	}
	return nil
}

// TestStatementCacheBound checks that IN-lists of many lengths leave the cache alone, and that a cache at its
// bound stops growing while every query still answers (unprepared).
func TestStatementCacheBound(t *testing.T) {
	// The cache is SQLite's: PostgreSQL's driver caches statements itself, so there is nothing to bound there.
	func(t *testing.T, e testutil.Engine) {
		st := testutil.OpenStore(t, e)
		if !st.HasStatementCache() {
			t.Fatalf("%s has no statement cache", e.Name)
		}
		f := newFixture(t, st, 10, 1)
		ctx := context.Background()
		q := st.Q()

		before, _ := st.CachedStatements()
		ids := make([]int64, 0, 200)
		for n := 1; n <= 200; n++ {
			ids = append(ids, f.apps[n%len(f.apps)])
			if _, err := q.Apps(ctx, ids); err != nil {
				t.Fatal(err)
			}
			uids := make([]int64, n)
			for i := range uids {
				uids[i] = f.users[i%len(f.users)]
			}
			if _, err := q.Timelines(ctx, uids, store.Page{Limit: 5}); err != nil {
				t.Fatal(err)
			}
		}
		if after, _ := st.CachedStatements(); after != before {
			t.Errorf("200 IN-list lengths took %d cache slots; want none", after-before)
		}
		// Page sizes are parameters: 50 page sizes, one statement.
		for n := range 50 {
			if _, err := q.AppCommentIDs(ctx, f.apps[0], store.Sort{Key: "ctime"}, store.Page{Limit: n, Offset: n}); err != nil {
				t.Fatal(err)
			}
		}
		if after, _ := st.CachedStatements(); after != before+1 {
			t.Errorf("50 page sizes took %d cache slots; want 1", after-before)
		}
		if r, w := st.CachedStatements(); r > store.MaxCachedStatements || w > store.MaxCachedStatements {
			t.Errorf("cached statements: read %d, write %d; bound %d", r, w, store.MaxCachedStatements)
		}
	}(t, testutil.Engines(t)[0])
}

// TestStatementCacheFull fills a small cache with distinct texts from many goroutines: it never exceeds its
// bound, and the texts that found it full still run.
func TestStatementCacheFull(t *testing.T) {
	// The cache is SQLite's: PostgreSQL's driver caches statements itself, so there is nothing to bound there.
	func(t *testing.T, e testutil.Engine) {
		st := testutil.OpenStore(t, e)
		if !st.HasStatementCache() {
			t.Fatalf("%s has no statement cache", e.Name)
		}
		const bound = 5
		st.LimitStatementCaches(bound)
		f := newFixture(t, st, 10, 2)
		ctx := context.Background()
		// Every sort key and direction is its own text: 2 × 5 texts of AppCommentIDs, 2 × 7 of AppIDs.
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, key := range []string{"ctime", "utime", "stars", "replies", "id"} {
					for _, desc := range []bool{false, true} {
						got, err := st.Q().AppCommentIDs(ctx, f.apps[g], store.Sort{Key: key, Desc: desc}, store.Page{Limit: 100})
						if err == nil && len(got) != len(f.comments[f.apps[g]]) {
							err = fmt.Errorf("got %v, want %d comments", got, len(f.comments[f.apps[g]]))
						}
						if err != nil {
							errs <- fmt.Errorf("sort %s desc %v: %w", key, desc, err)
						}
					}
				}
				for _, key := range []string{"ctime", "updated", "star", "replies", "size", "name", "id"} {
					for _, desc := range []bool{false, true} {
						got, err := st.Q().AppIDs(ctx, nil, store.Sort{Key: key, Desc: desc}, store.Page{Limit: 100})
						if err == nil && len(got) != len(f.apps) {
							err = fmt.Errorf("got %d apps, want %d", len(got), len(f.apps))
						}
						if err != nil {
							errs <- fmt.Errorf("sort %s desc %v: %w", key, desc, err)
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if r, w := st.CachedStatements(); r != bound || w > bound {
			t.Errorf("cached statements: read %d, write %d; want read %d (full), write at most %d", r, w, bound, bound)
		}
	}(t, testutil.Engines(t)[0])
}

// TestStatementCacheCanceledContext: a query with a context already done fails with its error, cached or not,
// although the SQLite read cache does not watch the context while a short SELECT runs.
func TestStatementCacheCanceledContext(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		st := testutil.OpenStore(t, e)
		f := newFixture(t, st, 3, 1)
		ctx, cancel := context.WithCancel(context.Background())
		q := st.Q()
		for range 2 { // the first run prepares, the second finds the statement cached
			if _, err := q.App(ctx, f.apps[0]); err != nil {
				t.Fatal(err)
			}
			if _, err := q.AppCommentIDs(ctx, f.apps[0], store.Sort{Key: "ctime"}, store.Page{Limit: 5}); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		if _, err := q.App(ctx, f.apps[0]); !errors.Is(err, context.Canceled) {
			t.Errorf("App with a canceled context: %v, want context.Canceled", err)
		}
		if _, err := q.AppCommentIDs(ctx, f.apps[0], store.Sort{Key: "ctime"}, store.Page{Limit: 5}); !errors.Is(err, context.Canceled) {
			t.Errorf("AppCommentIDs with a canceled context: %v, want context.Canceled", err)
		}
		if _, err := q.SearchComments(ctx, "c", store.Page{Limit: 5}); !errors.Is(err, context.Canceled) {
			t.Errorf("SearchComments with a canceled context: %v, want context.Canceled", err)
		}
	})
}
