package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// TestReplicasMigrateOnce starts several replicas at once on a blank PostgreSQL database, as an orchestrator
// starting a deployment does: each opens the store, one runs the migrations, and the others wait for it and find
// nothing left to apply. (SQLite serves one process: serve locks the file before it opens the store.)
func TestReplicasMigrateOnce(t *testing.T) {
	for _, e := range testutil.Engines(t) {
		if e.Name != "postgres" {
			continue
		}
		dsn := e.Blank(t)
		const replicas = 4
		var wg sync.WaitGroup
		errs := make([]error, replicas)
		stores := make([]*store.Store, replicas)
		start := make(chan struct{})
		for i := range replicas {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = store.Open(context.Background(), dsn)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
				continue
			}
			defer stores[i].Close()
		}
		if t.Failed() {
			return
		}
		// Every replica sees the whole schema: one writes and another reads it back.
		ctx := context.Background()
		u := &store.User{SimpleName: "first", Name: "First", CreatedAt: 1, Enabled: true}
		if err := stores[0].Q().CreateUser(ctx, u, "hash"); err != nil {
			t.Fatal(err)
		}
		if u, err := stores[replicas-1].Q().User(ctx, u.ID); err != nil || u.SimpleName != "first" {
			t.Errorf("another replica reads %+v, %v", u, err)
		}
	}
}

// TestMigrationsStopTheCache: a process of a newer release that migrates (here the newest migration, which
// rewrites every app's folded names, undone first) makes a process that caches reads alone stop caching before
// the migration writes, as a process that joins does before its first write.
func TestMigrationsStopTheCache(t *testing.T) {
	var dsn string
	for _, e := range testutil.Engines(t) {
		if e.Name == "postgres" {
			dsn = e.DSN(t)
		}
	}
	if dsn == "" { // Engines already failed the test in CI
		t.Skip("the solo lock is PostgreSQL's; set " + testutil.PostgresEnv)
	}
	store.SoloRetry(t, 20*time.Millisecond)
	ctx := context.Background()
	first, _ := openPair(t, dsn)
	seedApp(t, first)
	if !first.Caching() {
		t.Fatal("a lone process does not cache")
	}
	if err := store.RollBackLastMigration(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	gen := first.CacheGeneration()
	newer, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Close()
	if first.CacheGeneration() == gen {
		t.Error("the caching process kept its cache while a newer one migrated")
	}
}
