package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/cluster"
	"github.com/stackhub/stackhub/internal/events"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// TestEventsCrossInOrder: two processes publishing at once, in bursts (so the writers batch), both republish every
// event of both, once each, in the same strictly increasing id order.
func TestEventsCrossInOrder(t *testing.T) {
	st := postgres(t)
	ctx := context.Background()
	const each = 300
	type seen struct {
		mu   sync.Mutex
		ids  []int64
		keys []string
		all  chan struct{}
	}
	var locals []*events.Bus
	var views []*seen
	for i := range 2 {
		local := events.NewBus()
		n, err := cluster.New(ctx, st, local, tu.Logger(t), cluster.Options{Lease: time.Minute, ID: fmt.Sprintf("writer%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		v := &seen{all: make(chan struct{})}
		n.Shared.Subscribe(func(e events.Event) {
			p, _ := events.Decode[map[string]string](e)
			v.mu.Lock()
			defer v.mu.Unlock()
			v.ids = append(v.ids, e.ID)
			v.keys = append(v.keys, p["k"])
			if len(v.ids) == 2*each {
				close(v.all)
			}
		})
		n.Start()
		defer n.Close()
		locals, views = append(locals, local), append(views, v)
	}
	var wg sync.WaitGroup
	for i, local := range locals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j += 10 {
				burst := make([]events.Event, 10)
				for k := range burst {
					burst[k] = events.Event{Type: "test.event", Payload: map[string]string{"k": fmt.Sprintf("%d-%d", i, j+k)}}
				}
				local.Publish(burst...)
			}
		}()
	}
	wg.Wait()
	for i, v := range views {
		select {
		case <-v.all:
		case <-time.After(time.Minute):
			v.mu.Lock()
			t.Fatalf("process %d republished %d of %d events within a minute", i, len(v.ids), 2*each)
		}
	}
	a, b := views[0], views[1]
	a.mu.Lock()
	b.mu.Lock()
	defer a.mu.Unlock()
	defer b.mu.Unlock()
	keys := map[string]bool{}
	for i := range a.ids {
		if i > 0 && a.ids[i] <= a.ids[i-1] {
			t.Fatalf("ids out of order at %d: %d after %d", i, a.ids[i], a.ids[i-1])
		}
		if a.ids[i] != b.ids[i] || a.keys[i] != b.keys[i] {
			t.Fatalf("the processes disagree at %d: %d %q and %d %q", i, a.ids[i], a.keys[i], b.ids[i], b.keys[i])
		}
		keys[a.keys[i]] = true
	}
	if len(keys) != 2*each {
		t.Errorf("%d distinct events republished, want %d (some twice, some lost)", len(keys), 2*each)
	}
	// Each writer's events keep their publish order.
	last := map[string]int{}
	for _, k := range a.keys {
		w, n, _ := strings.Cut(k, "-")
		var seq int
		fmt.Sscan(n, &seq)
		if prev, ok := last[w]; ok && seq != prev+1 {
			t.Fatalf("writer %s: event %d after %d", w, seq, prev)
		}
		last[w] = seq
	}
}

// TestDirectMessages: a direct message reaches a user connected on another process, small ones in the
// notification and large ones through the database; one to a user connected nowhere else is not sent.
func TestDirectMessages(t *testing.T) {
	st := postgres(t)
	ctx := context.Background()
	got := make(chan string, 4)
	var nodes []*cluster.Node
	for i := range 2 {
		n, err := cluster.New(ctx, st, events.NewBus(), tu.Logger(t), cluster.Options{Lease: time.Minute, ID: fmt.Sprintf("dm%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		n.Attach(func() []int64 { return []int64{7} }, func(to int64, msg []byte) bool {
			got <- fmt.Sprintf("%d %d %s", i, to, msg)
			return true
		})
		n.Start()
		defer n.Close()
		nodes = append(nodes, n)
	}
	a, b := nodes[0], nodes[1]
	if err := b.Join(ctx, 7); err != nil {
		t.Fatal(err)
	}
	large := strings.Repeat("x", 10_000)
	for _, msg := range []string{"1:hello", "1:" + large} {
		sent, err := a.SendDM(ctx, 7, []byte(msg))
		if err != nil || !sent {
			t.Fatalf("send to a user on the other process: sent %v, err %v", sent, err)
		}
		select {
		case m := <-got:
			if want := "1 7 " + msg; m != want {
				t.Errorf("delivered %.40q (%d bytes), want %.40q (%d bytes)", m, len(m), want, len(want))
			}
		case <-time.After(time.Minute):
			t.Fatalf("a message of %d bytes did not arrive within a minute", len(msg))
		}
	}
	if sent, err := a.SendDM(ctx, 8, []byte("1:anyone?")); err != nil || sent {
		t.Errorf("send to a user connected nowhere: sent %v, err %v; want not sent", sent, err)
	}
	if sent, err := b.SendDM(ctx, 7, []byte("1:myself")); err != nil || sent {
		t.Errorf("send to a user connected only on the sending process: sent %v, err %v; want not sent", sent, err)
	}
	select {
	case m := <-got:
		t.Errorf("delivered %q, which no other process should have", m)
	case <-time.After(200 * time.Millisecond): // only a stray message would arrive here
	}
}
