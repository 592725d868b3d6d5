package geekapk_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/webhook"
)

// TestHotReadsTakeOneRoundTrip counts the PostgreSQL round trips of the reads bench/run.sh loads: each must be one
// query and nothing else (no BEGIN/COMMIT around it, no second lookup, no statement prepared again), and none
// while the read cache holds the answer. A round trip costs more than the query itself on a busy server, so a
// second one shows here before it shows in req/s.
func TestHotReadsTakeOneRoundTrip(t *testing.T) {
	var pg *tu.Engine
	for _, e := range tu.Engines(t) {
		if e.Name == "postgres" {
			pg = &e
		}
	}
	if pg == nil { // Engines already failed the test in CI; a local run without PostgreSQL has nothing to count
		t.Skip("round trips are counted on PostgreSQL; set " + tu.PostgresEnv)
	}
	counter, dsn := tu.CountPostgres(t, pg.DSN(t))
	// The webhook queue's idle look at the database would be counted too: push it out of the test's time.
	s := tu.StartServer(t, *pg, tu.Options{DSN: dsn, Webhook: webhook.Options{Idle: time.Hour}})
	// Its first pass (due deliveries, the prune, the next attempt's time) runs at the start, on its own timing:
	// wait for its last query, after which it sleeps the hour, so that no request is counted beside it.
	for deadline := time.Now().Add(time.Minute); !slices.ContainsFunc(counter.RoundTrips(), func(q string) bool {
		return strings.Contains(q, "MIN(next_attempt_at)")
	}); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the webhook queue's first pass did not end within a minute: %s", counter)
		}
	}

	ctx := context.Background()
	var aid, empty int64
	err := s.Store.Tx(ctx, func(q *store.Q) error {
		u := &store.User{SimpleName: "reader", Name: "Reader", CreatedAt: 1, OnlineAt: 1, Enabled: true}
		if err := q.CreateUser(ctx, u, "not-a-hash"); err != nil {
			return err
		}
		for i := range 3 {
			a := &store.App{Author: u.ID, Name: fmt.Sprintf("App %d", i), CreatedAt: 1, UpdatedAt: int64(i)}
			if err := q.CreateApp(ctx, a); err != nil {
				return err
			}
			aid, empty = empty, a.ID
		}
		for i := range 5 {
			c := &store.Comment{Author: u.ID, App: aid, Content: "a comment", CreatedAt: int64(i)}
			if err := q.CreateComment(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		path  string
		trips int // per request
	}{
		{fmt.Sprintf("/app/%d", aid), 1},
		{"/app/all?max=20", 1},
		{fmt.Sprintf("/app/%d/comments?max=20", aid), 1},
		// An empty list looks the app up too, to tell "no comments" from "no such app".
		{fmt.Sprintf("/app/%d/comments?max=20", empty), 2},
	} {
		// Warm up: the driver prepares each statement once per pooled connection, and sequential requests go
		// round the idle connections; more requests than the pool holds prepare it on all of them.
		for range 30 {
			s.Want(200, tu.Anon, "GET", tc.path, nil)
		}
		// Each right after a write, which leaves nothing in the read cache to answer it.
		const n = 10
		var trips []string
		for range n {
			if err := s.Store.Tx(ctx, func(*store.Q) error { return nil }); err != nil {
				t.Fatal(err)
			}
			counter.Reset()
			s.Want(200, tu.Anon, "GET", tc.path, nil)
			trips = append(trips, requestTrips(counter)...)
		}
		if len(trips) != n*tc.trips {
			t.Errorf("GET %s: %d requests, each after a write, took %d round trips; want %d per request:\n  %s", tc.path, n,
				len(trips), tc.trips, strings.Join(trips, "\n  "))
		}
		// With no write between them, the read cache answers: one lookup per entry's lifetime at most.
		counter.Reset()
		start := time.Now()
		for range n {
			s.Want(200, tu.Anon, "GET", tc.path, nil)
		}
		lifetimes := 1 + int(time.Since(start)/store.MaxCacheAge)
		if got := len(requestTrips(counter)); got > lifetimes*tc.trips {
			t.Errorf("GET %s: %d requests with no write between them took %s; want the cache to answer", tc.path, n,
				counter)
		}
	}
}

// requestTrips is the round trips counted but the process's own bookkeeping, which runs on its timers whatever the
// requests do: the read cache's solo lock (store/solo.go counts cluster_processes every 5 s) and the heartbeat.
func requestTrips(c *tu.PGCounter) []string {
	return slices.DeleteFunc(c.RoundTrips(), func(q string) bool {
		return strings.Contains(q, "cluster_") || strings.Contains(q, "advisory")
	})
}
