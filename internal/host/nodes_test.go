package host

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil/dbtest"
)

// fakeCluster is a Cluster whose nodes and tasks a test sets; the Engine methods it leaves out are not called by
// the rules tested here (the real Swarm is tested in internal/edge and internal/engine/swarm).
type fakeCluster struct {
	engine.Engine
	mu     sync.Mutex
	nodes  []engine.Node
	status map[string]*engine.Status
}

func (f *fakeCluster) Version(context.Context) (string, error) { return "fake", nil }

func (f *fakeCluster) Nodes(context.Context) ([]engine.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.nodes), nil
}

func (f *fakeCluster) Status(_ context.Context, name string) (*engine.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st := f.status[name]; st != nil {
		return &engine.Status{Project: name, Services: slices.Clone(st.Services)}, nil
	}
	return &engine.Status{Project: name}, nil
}

func (f *fakeCluster) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

var threeNodes = []engine.Node{
	{Hostname: "a", State: "ready", Availability: "active", Addr: "10.0.0.1", CPUs: 4, MemoryBytes: 8 << 30},
	{Hostname: "b", State: "down", Availability: "active", Addr: "10.0.0.2", CPUs: 4, MemoryBytes: 8 << 30},
	{Hostname: "c", State: "ready", Availability: "drain", Addr: "10.0.0.3", CPUs: 4, MemoryBytes: 8 << 30},
}

func newFakeService(t *testing.T, eng engine.Engine) (*Service, *events.Bus) {
	t.Helper()
	st := dbtest.OpenStore(t, dbtest.Engines(t)[0])
	bus := events.NewBus()
	s := New(st, eng, bus, slog.New(slog.DiscardHandler), Config{DataDir: t.TempDir(), PublicAddress: "192.0.2.1"})
	t.Cleanup(s.Close)
	return s, bus
}

// TestCheckNode: an install may name a ready, active node of the cluster; anything else is refused naming the
// field and the nodes to choose from. On a single engine only this server's own name passes, and places nothing.
func TestCheckNode(t *testing.T) {
	s, _ := newFakeService(t, &fakeCluster{nodes: threeNodes})
	ctx := context.Background()
	for name, want := range map[string]string{"": "", "a": "a", " a ": "a"} {
		if got, err := s.checkNode(ctx, name); err != nil || got != want {
			t.Errorf("checkNode(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for name, msg := range map[string]string{
		"x": `the swarm has no node "x"; choose one of a, or leave it out`,
		"b": "node b is down; choose one of a, or leave it out",
		"c": "node c is set to drain and takes no new apps; choose one of a, or leave it out",
	} {
		_, err := s.checkNode(ctx, name)
		if e := apperr.As(err); e.Kind != apperr.Invalid || e.Field != "node" || e.Message != msg {
			t.Errorf("checkNode(%q) = %+v, want node: %s", name, e, msg)
		}
	}
	if got, err := s.installNodes(ctx); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Errorf("the install form offers %v, %v; want the one ready, active node", got, err)
	}
	if err := s.checkNodeResources(ctx, "big", "a", requirements(8, 1)); err == nil ||
		apperr.As(err).Message != "big needs 8 CPU cores and 1 GB of memory; node a lacks them (the largest has 4 cores and 8.0 GB). Pass force to install anyway" {
		t.Errorf("8 cores on a 4-core node: %v", err)
	}
	if err := s.checkNodeResources(ctx, "small", "", requirements(2, 4)); err != nil {
		t.Errorf("2 cores and 4 GB fit node a: %v", err)
	}

	single, _ := newFakeService(t, &fakeCluster{}) // a Cluster's methods, hidden behind a plain Engine
	single.cluster = nil
	me := single.localNode(ctx).Hostname
	if got, err := single.checkNode(ctx, me); err != nil || got != "" {
		t.Errorf("single engine, its own node %q: %q, %v; want nothing placed", me, got, err)
	}
	if _, err := single.checkNode(ctx, "elsewhere"); apperr.As(err).Field != "node" {
		t.Errorf("single engine, another node: %v", err)
	}
	if got, _ := single.installNodes(ctx); got != nil {
		t.Errorf("a single engine's install form offers nodes: %v", got)
	}
}

// TestPlaceOnNode: on a cluster every service is pinned to the named node, and the requirements are reserved once, on
// the service that publishes the web port; a template's own constraint and reservation stay.
func TestPlaceOnNode(t *testing.T) {
	s, _ := newFakeService(t, &fakeCluster{nodes: threeNodes})
	ctx := context.Background()
	if err := s.store.Q().CreateInstance(ctx, &store.Instance{Name: "app", Project: "t-app", AppKey: "app",
		State: store.StateInstalled, Settings: "{}", Secrets: "{}"}); err != nil {
		t.Fatal(err)
	}
	if err := s.store.Q().BookPort(ctx, store.PortBooking{Port: 9001, Protocol: "tcp", Instance: "app", Variable: "W9_HTTP_PORT_SET"}); err != nil {
		t.Fatal(err)
	}
	p := &engine.Project{Name: "p", Services: types.Services{
		"db": {Name: "db", Deploy: &types.DeployConfig{Placement: types.Placement{Constraints: []string{"node.role==manager"}},
			Resources: types.Resources{Reservations: &types.Resource{MemoryBytes: 1 << 20}}}},
		"web": {Name: "web", WorkloadSpec: types.WorkloadSpec{Ports: []types.ServicePortConfig{{Target: 80, Published: "9001"}}}},
	}}
	inst := &store.Instance{Name: "app", Node: "a", ReserveMilliCPUs: 1500, ReserveMemory: 2 << 30}
	if err := s.place(ctx, p, inst); err != nil {
		t.Fatal(err)
	}
	if got := p.Services["db"].Deploy.Placement.Constraints; !slices.Equal(got, []string{"node.role==manager", "node.hostname==a"}) {
		t.Errorf("db constraints %v", got)
	}
	if got := p.Services["web"].Deploy.Placement.Constraints; !slices.Equal(got, []string{"node.hostname==a"}) {
		t.Errorf("web constraints %v", got)
	}
	if r := p.Services["web"].Deploy.Resources.Reservations; r == nil || r.NanoCPUs != 1.5 || r.MemoryBytes != 2<<30 {
		t.Errorf("web reservation %+v, want 1.5 cores and 2 GiB", r)
	}
	if r := p.Services["db"].Deploy.Resources.Reservations; r.MemoryBytes != 1<<20 || r.NanoCPUs != 0 {
		t.Errorf("db keeps its own reservation: %+v", r)
	}
	if err := s.place(ctx, p, inst); err != nil || len(p.Services["web"].Deploy.Placement.Constraints) != 1 {
		t.Errorf("placing twice adds the constraint twice: %v", p.Services["web"].Deploy.Placement.Constraints)
	}
}

// TestClusterStatus: a node that is not ready fails the apps placed or running there, naming it; a stopped app
// stays stopped.
func TestClusterStatus(t *testing.T) {
	installed := store.Instance{State: store.StateInstalled, Services: "web"}
	pinned := installed
	pinned.Node = "b"
	stopped := pinned
	stopped.Stopped = true
	on := func(node string) *engine.Status {
		return &engine.Status{Services: []engine.ServiceState{{Service: "web", State: "running", Node: node, HostPorts: []int{9001}}}}
	}
	for _, tc := range []struct {
		name       string
		inst       store.Instance
		st         *engine.Status
		code, info string
	}{
		{"running on a ready node", installed, on("a"), StatusRunning, "running"},
		{"a task on a down node", installed, on("b"), StatusFailed, "service web runs on node b, which is down"},
		{"a task on a node that left", installed, on("z"), StatusFailed, "service web runs on node z, which is gone"},
		{"pinned to a down node, no task", pinned, &engine.Status{}, StatusFailed, "node b, where it is placed, is down"},
		{"stopped on a down node", stopped, &engine.Status{Services: []engine.ServiceState{{Service: "web", State: "exited"}}},
			StatusNotStarted, "stopped"},
	} {
		code, info := clusterStatus(&tc.inst, tc.st, threeNodes)
		if code != tc.code || info != tc.info {
			t.Errorf("%s: %s %q, want %s %q", tc.name, code, info, tc.code, tc.info)
		}
	}
	if got := taskAddr(on("a"), threeNodes, 9001); got != "10.0.0.1" {
		t.Errorf("task on a: address %q", got)
	}
	if got := taskAddr(on("b"), threeNodes, 9001); got != "" {
		t.Errorf("a task on a down node is no upstream: %q", got)
	}
	if got := taskAddr(on("a"), threeNodes, 9002); got != "" {
		t.Errorf("a task that does not publish the port is no upstream: %q", got)
	}
}

// TestWatchOnce: the watch records its first look silently, then publishes install.status when a node goes down
// (naming it) and when the task moves to another node (with the new node), and leaves an instance a job holds alone.
func TestWatchOnce(t *testing.T) {
	fc := &fakeCluster{nodes: []engine.Node{
		{Hostname: "a", State: "ready", Availability: "active"}, {Hostname: "b", State: "ready", Availability: "active"}}}
	task := func(node string) *engine.Status {
		return &engine.Status{Services: []engine.ServiceState{{Service: "web", State: "running", Node: node, Replicas: 1, Number: 1}}}
	}
	fc.status = map[string]*engine.Status{"t-web": task("b")}
	s, bus := newFakeService(t, fc)
	ctx := context.Background()
	if err := s.store.Q().CreateInstance(ctx, &store.Instance{Name: "web", Project: "t-web", AppKey: "web", State: store.StateInstalled,
		Services: "web", Settings: "{}", Secrets: "{}"}); err != nil {
		t.Fatal(err)
	}
	var got []StatusEvent
	defer bus.Subscribe(func(e events.Event) {
		if e.Type == events.InstallStatus {
			got = append(got, e.Payload.(StatusEvent))
		}
	})()
	last := map[string]seen{}
	s.watchOnce(ctx, last)
	if len(got) != 0 {
		t.Fatalf("first look published %+v", got)
	}
	fc.set(func() { fc.nodes[1].State = "down" })
	s.watchOnce(ctx, last)
	fc.set(func() { fc.status["t-web"] = task("a") })
	s.watchOnce(ctx, last)
	s.watchOnce(ctx, last) // nothing changed
	want := []StatusEvent{
		{Instance: "web", State: store.StateInstalled, Status: StatusFailed, Info: "service web runs on node b, which is down", Nodes: []string{"b"}},
		{Instance: "web", State: store.StateInstalled, Status: StatusRunning, Info: "running", Nodes: []string{"a"}},
	}
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Status != want[i].Status || got[i].Info != want[i].Info || !slices.Equal(got[i].Nodes, want[i].Nodes) {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	s.lock("web")
	fc.set(func() { fc.status["t-web"] = task("b") })
	s.watchOnce(ctx, last)
	if len(got) != 2 {
		t.Errorf("an instance a job holds got a watch event: %+v", got[2:])
	}
}

func requirements(cpu, memGB float64) catalog.Requirements {
	return catalog.Requirements{CPU: cpu, Memory: memGB}
}
