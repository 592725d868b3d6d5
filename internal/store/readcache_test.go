package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// openPair opens two stores on one fresh database: the first caches its reads, the second is a writer it does
// not know of (psql, the sqlite3 shell).
func openPair(t *testing.T, dsn string) (cached, outside *store.Store) {
	t.Helper()
	open := func() *store.Store {
		st, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	cached = open()
	if err := cached.CacheReads(context.Background(), testutil.Logger(t)); err != nil {
		t.Fatal(err)
	}
	return cached, open()
}

func seedApp(t *testing.T, st *store.Store) (uid, aid int64) {
	t.Helper()
	err := st.Tx(context.Background(), func(q *store.Q) error {
		u := &store.User{SimpleName: "u", Name: "U", CreatedAt: 1, OnlineAt: 1, Enabled: true}
		if err := q.CreateUser(context.Background(), u, "hash"); err != nil {
			return err
		}
		a := &store.App{Author: u.ID, Name: "first", CreatedAt: 1, UpdatedAt: 1}
		uid = u.ID
		err := q.CreateApp(context.Background(), a)
		aid = a.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return uid, aid
}

func appName(t *testing.T, st *store.Store, aid int64) string {
	t.Helper()
	a, err := st.Q().App(context.Background(), aid)
	if err != nil {
		t.Fatal(err)
	}
	return a.Name
}

func rename(t *testing.T, q *store.Q, aid int64, name string) {
	t.Helper()
	a, err := q.App(context.Background(), aid)
	if err == nil {
		a.Name = name
		err = q.UpdateApp(context.Background(), a)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadCacheSeesEveryWrite: with the read cache on, a read after a write of this process (a transaction, a
// statement through Store.Q, an INSERT ... RETURNING) sees it; a write from outside shows within the cache's
// bound (and not at once: the cache answers).
func TestReadCacheSeesEveryWrite(t *testing.T) {
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st, outside := openPair(t, e.DSN(t))
		st.ShortenCacheAge(time.Second)
		if !st.Caching() {
			t.Fatal("CacheReads left the cache off on a database no other process uses")
		}
		uid, aid := seedApp(t, st)
		if got := appName(t, st, aid); got != "first" {
			t.Fatalf("app name %q", got)
		}
		if err := st.Tx(ctx, func(q *store.Q) error { rename(t, q, aid, "in a transaction"); return nil }); err != nil {
			t.Fatal(err)
		}
		if got := appName(t, st, aid); got != "in a transaction" {
			t.Errorf("after a transaction: %q", got)
		}
		rename(t, st.Q(), aid, "through Store.Q")
		if got := appName(t, st, aid); got != "through Store.Q" {
			t.Errorf("after an UPDATE through Store.Q: %q", got)
		}
		// A returned copy is the caller's to change.
		a, _ := st.Q().App(ctx, aid)
		a.Name = "changed by a caller"
		if got := appName(t, st, aid); got != "through Store.Q" {
			t.Errorf("a caller's change reached the cache: %q", got)
		}

		page := store.Page{Limit: 20}
		before, err := st.Q().AppCommentIDs(ctx, aid, store.Sort{Key: "ctime"}, page)
		if err != nil || len(before) != 0 {
			t.Fatalf("comments %v %v", before, err)
		}
		c := &store.Comment{Author: uid, App: aid, Content: "hello", CreatedAt: 2}
		if err := st.Q().CreateComment(ctx, c); err != nil {
			t.Fatal(err)
		}
		if after, err := st.Q().AppCommentIDs(ctx, aid, store.Sort{Key: "ctime"}, page); err != nil || !slices.Equal(after, []int64{c.ID}) {
			t.Errorf("comments after an INSERT ... RETURNING: %v %v", after, err)
		}
		if ok, err := st.Q().AppExists(ctx, aid); !ok || err != nil {
			t.Fatalf("AppExists = %v %v", ok, err)
		}

		// An edit the cache cannot know of: the cached answer stays, for a while.
		appName(t, st, aid)
		rename(t, outside.Q(), aid, "from outside")
		if got := appName(t, st, aid); got != "through Store.Q" {
			t.Errorf("right after an outside edit, the cache answered %q: is it on?", got)
		}
		deadline := time.Now().Add(time.Minute)
		for appName(t, st, aid) != "from outside" {
			if time.Now().After(deadline) {
				t.Fatal("an outside edit never showed")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// soloDSN is a fresh migrated PostgreSQL database for a test of the solo lock, which only PostgreSQL has; the test
// is skipped without one (and fails in CI, by Engines).
func soloDSN(t *testing.T) string {
	t.Helper()
	for _, e := range testutil.Engines(t) {
		if e.Name == "postgres" {
			return e.DSN(t)
		}
	}
	t.Skip("the solo lock is PostgreSQL's; set " + testutil.PostgresEnv)
	return ""
}

// TestReadCacheOnlyAlone: on PostgreSQL a process caches only while no other StackHub process uses the database.
// A second process that starts makes the first stop caching before it may write, so the first reads the second's
// writes at once; once the second has gone, the first caches again.
func TestReadCacheOnlyAlone(t *testing.T) {
	dsn := soloDSN(t)
	store.SoloRetry(t, 20*time.Millisecond)
	ctx := context.Background()
	first, outside := openPair(t, dsn)
	_, aid := seedApp(t, first)
	second, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.CacheReads(ctx, testutil.Logger(t)); err != nil {
		t.Fatal(err)
	}
	if first.Caching() || second.Caching() {
		t.Fatalf("caching with two processes: first %v, second %v", first.Caching(), second.Caching())
	}
	for i, name := range []string{"one", "two", "three"} {
		appName(t, first, aid)
		rename(t, second.Q(), aid, name)
		if got := appName(t, first, aid); got != name {
			t.Errorf("write %d of the second process: the first reads %q, want %q", i, got, name)
		}
	}
	second.Close()
	waitCaching := func(want bool, why string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); first.Caching() != want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(why)
			}
		}
	}
	waitCaching(true, "the process left alone never cached again")
	// Processes that beat without the lock (one that lost its lock's connection, one of an older release) stop the
	// cache too; it comes back when they are gone.
	for _, id := range []string{"other-1", "other-2"} {
		if err := outside.Q().Beat(ctx, id, 30_000); err != nil {
			t.Fatal(err)
		}
	}
	waitCaching(false, "the cache stayed on with two other processes beating")
	for _, id := range []string{"other-1", "other-2"} {
		if err := outside.Q().LeaveCluster(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	waitCaching(true, "the cache never came back once the other processes had gone")

	// A process whose context ends (a server shutting down, still draining writes) keeps its share until its store
	// closes.
	cctx, cancel := context.WithCancel(ctx)
	third, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := third.CacheReads(cctx, testutil.Logger(t)); err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(20 * 20 * time.Millisecond) // twenty of the first's tries to take the lock alone
	if first.Caching() {
		t.Error("the first process cached while the third, its context ended, had not closed its store")
	}
	third.Close()
	waitCaching(true, "the cache never came back once the third process closed its store")
}
