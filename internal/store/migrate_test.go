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
	dsn := soloDSN(t)
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

// TestJoinDuringMigrations: a process that joins while another migrates (one of an older release, which does not
// wait for the migration lock, or one whose lock connection dropped) is not kept waiting for the migrating
// process, which holds the read cache's lock shared and does not answer asks to share.
func TestJoinDuringMigrations(t *testing.T) {
	dsn := soloDSN(t)
	ctx := context.Background()
	var st [2]*store.Store
	for i := range st {
		var err error
		if st[i], err = store.Open(ctx, dsn); err != nil {
			t.Fatal(err)
		}
		defer st[i].Close()
	}
	migrating, joining := st[0], st[1]
	release, err := migrating.Quiesce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := joining.CacheReads(ctx, testutil.Logger(t)); err != nil {
		t.Fatalf("a process joining while another migrates: %v", err)
	}
	if joining.Caching() {
		t.Error("a process caches while another migrates")
	}
}
