package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/cluster"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dbtest"
)

func postgres(t *testing.T) *store.Store {
	for _, e := range tu.Engines(t) {
		if e.Name == "postgres" {
			return dbtest.OpenStore(t, e)
		}
	}
	t.Skip("replicas need PostgreSQL: set STACKHUB_TEST_POSTGRES") // Engines fails instead under CI
	return nil
}

// TestJobLeases: a job held by a live process is not taken over; once its holder has left, exactly one other
// process claims it; a job nobody holds that has not moved for a lease is claimed too.
func TestJobLeases(t *testing.T) {
	st := postgres(t)
	ctx := context.Background()
	nodes := make([]*cluster.Node, 3)
	for i := range nodes {
		n, err := cluster.New(ctx, st, events.NewBus(), tu.Logger(t), cluster.Options{Lease: time.Minute, ID: fmt.Sprintf("node%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
	}
	a, b, c := nodes[0], nodes[1], nodes[2]
	defer b.Close()
	defer c.Close()
	old := time.Now().Add(-time.Hour).UnixMilli()
	held := &store.Job{Instance: "x", Kind: "install", Stage: "pulling", State: store.JobRunning, CreatedAt: old, UpdatedAt: old}
	orphan := &store.Job{Instance: "y", Kind: "install", Stage: "pulling", State: store.JobRunning, CreatedAt: old, UpdatedAt: old}
	fresh := &store.Job{Instance: "z", Kind: "install", Stage: "queued", State: store.JobRunning,
		CreatedAt: time.Now().UnixMilli(), UpdatedAt: time.Now().UnixMilli()}
	for _, j := range []*store.Job{held, orphan, fresh} {
		if err := st.Q().CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.HoldJob(ctx, held.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.ClaimJob(ctx, held.ID); err != nil || ok {
		t.Errorf("claimed a job its live holder runs: %v %v", ok, err)
	}
	if ok, err := b.ClaimJob(ctx, fresh.ID); err != nil || ok {
		t.Errorf("claimed a job created a moment ago (its creator holds it within moments): %v %v", ok, err)
	}
	if ok, err := b.ClaimJob(ctx, orphan.ID); err != nil || !ok {
		t.Errorf("did not claim a job nobody holds: %v %v", ok, err)
	}
	a.Close() // the holder is gone
	okB, errB := b.ClaimJob(ctx, held.ID)
	okC, errC := c.ClaimJob(ctx, held.ID)
	if errB != nil || errC != nil || okB == okC {
		t.Errorf("after its holder left, claims by two processes: %v %v (%v %v); want exactly one", okB, okC, errB, errC)
	}
}

// TestLeadRunsOnce: of two processes that would start the same schedule, one starts it; when that one stops, the
// other takes over.
func TestLeadRunsOnce(t *testing.T) {
	st := postgres(t)
	started := make(chan int, 2)
	var stops []context.CancelFunc
	for i := range 2 {
		n, err := cluster.New(context.Background(), st, events.NewBus(), tu.Logger(t), cluster.Options{Lease: time.Second, ID: fmt.Sprintf("leader%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		stops = append(stops, stop)
		go n.Lead(ctx, cluster.LockSourceSchedule, func() { started <- i })
	}
	first := <-started
	// The other keeps trying (every Beat) and must not start while the first holds the lock: give it ten tries.
	select {
	case second := <-started:
		t.Fatalf("both started the schedule: %d and %d", first, second)
	case <-time.After(2 * time.Second):
	}
	stops[first]()
	select {
	case second := <-started:
		if second == first {
			t.Fatalf("process %d started twice", first)
		}
	case <-time.After(time.Minute):
		t.Fatal("the other process did not take over within a minute")
	}
}
