package edge_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/engine/swarm"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/host"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
	"github.com/stackhub/stackhub/internal/testutil/swarmtest"
)

// swarmImage is the test app under a name of this test's own, built on each node of the test Swarm.
const swarmImage = "stackhub-test/swarm-web"

// swarmCompose is a stateless web app: nothing pins it to a node but the node its install names.
const swarmCompose = `services:
  web:
    image: ` + swarmImage + `:$W9_VERSION
    environment:
      APP_NAME: web
      VERSION: $W9_VERSION
    ports:
      - "${W9_HTTP_PORT_SET}:8080"
    healthcheck:
      test: ["CMD", "/testapp", "check", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 2s
      retries: 60
`

// TestSwarmInstallOnNode runs a server built with the Swarm engine on the two-node test Swarm, as serve --engine
// swarm does: an install through /api/v1 names the worker node and a domain; a node that is not there is refused
// first. /api/v1/nodes lists both nodes with the app on the worker, the app's port answers at the worker's
// address and nowhere else, and the edge routes the domain to it there. At install time the app had no task yet,
// so the route only leads there because the edge rebuilt its table on the install's status event.
func TestSwarmInstallOnNode(t *testing.T) {
	sw := swarmtest.Require(t) // shared: no other package's test stops a node meanwhile
	for _, h := range []string{sw.Manager, sw.Worker} {
		dockertest.ImageOn(t, h, swarmImage+":v1")
	}
	worker, workerAddr, managerAddr := sw.Hostnames[1], sw.Addrs[1], sw.Addrs[0]
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		eng, err := swarm.New(swarm.Options{Host: sw.Manager, NodeHosts: map[string]string{worker: sw.Worker}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		waitNodesReady(t, eng)
		s := tu.StartServer(t, e, tu.Options{Engine: eng, Edge: &tu.EdgeOptions{}})
		lib := tu.NewLibrary(t)
		lib.Add(t, "web", swarmCompose, "")
		lib.Import(t, s.URL)

		res := s.Do(tu.Admin, "POST", "/api/v1/installs", map[string]any{"app": "web", "node": "nowhere"})
		var refusal struct{ Error client.Error }
		res.JSON(t, &refusal)
		if res.Status != http.StatusBadRequest || refusal.Error.Field != "node" || !strings.Contains(refusal.Error.Message, worker) {
			t.Errorf("an unknown node: %d %+v, want 400 naming the field node and the nodes to choose from", res.Status, refusal.Error)
		}

		var inst struct {
			Instance struct{ Port string } `json:"instance"`
			Job      struct{ ID int64 }    `json:"job"`
		}
		s.Want(http.StatusAccepted, tu.Admin, "POST", "/api/v1/installs", map[string]any{"app": "web", "node": worker,
			"domain": "swarm.test"}).JSON(t, &inst)
		waitJob(t, s, inst.Job.ID)

		var nodes []client.Node
		s.Want(http.StatusOK, tu.Admin, "GET", "/api/v1/nodes", nil).JSON(t, &nodes)
		apps := map[string][]string{}
		for _, n := range nodes {
			apps[n.Hostname] = n.Apps
			if n.State != "ready" || n.Address == "" || n.CPUs == 0 || n.MemoryBytes == 0 || n.EngineVersion == "" {
				t.Errorf("node %+v lacks its state, address or resources", n)
			}
		}
		if len(nodes) != 2 || !slices.Equal(apps[worker], []string{"web"}) || len(apps[sw.Hostnames[0]]) != 0 ||
			nodes[0].Role != "manager" || !nodes[0].Leader || nodes[1].Role != "worker" {
			t.Errorf("nodes %+v: want the manager (leader) without apps and the worker with web", nodes)
		}

		port := inst.Instance.Port
		if got := get(t, "http://"+net.JoinHostPort(workerAddr, port)+"/"); got != "web v1" {
			t.Errorf("the worker's address answers %q, want web v1", got)
		}
		for _, addr := range []string{managerAddr, "127.0.0.1"} { // published in host mode: on the task's node only
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, port), 5*time.Second); err == nil {
				c.Close()
				t.Errorf("port %s answers at %s too: the edge could be reaching the app there", port, addr)
			}
		}
		if up, err := s.Host.Upstream(t.Context(), "web", "", 0); err != nil || up != net.JoinHostPort(workerAddr, port) {
			t.Errorf("upstream %q, %v; want the worker's address", up, err)
		}

		https := edgeClient(s, true, "")
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // only against a hang
		defer cancel()
		for {
			r, body := fetch(t, https, "GET", at(s, true, "swarm.test", "/"))
			if r.StatusCode == http.StatusOK && strings.TrimSpace(body) == "web v1" {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("https://swarm.test/ still answers %d %q: the edge did not follow the app to its node", r.StatusCode, body)
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
}

// waitNodesReady waits until every node of the test Swarm is ready: a test that stopped a node before may have
// left it still rejoining.
func waitNodesReady(t *testing.T, eng *swarm.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // only against a hang
	defer cancel()
	for {
		nodes, err := eng.Nodes(ctx)
		if err == nil && len(nodes) == 2 && !slices.ContainsFunc(nodes, func(n engine.Node) bool { return n.State != "ready" }) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the test Swarm's nodes are not ready: %+v, %v (bash scripts/swarm.sh up)", nodes, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// get answers the body of a GET, or fails the test.
func get(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return strings.TrimSpace(string(b))
}

// TestSwarmNodeDown stops the worker's engine under two apps: one installed on the worker by name, one that Swarm
// put there (the manager paused while it was installed). The first shows failed, naming the node, and the second
// moves to the manager; each change comes as an install.status event, and the edge follows the moved app to the
// manager's address. When the worker is back, the first runs again. It takes the Swarm alone (it stops a node),
// and runs once: the store plays no part in what it checks (TestSwarmInstallOnNode runs on both).
func TestSwarmNodeDown(t *testing.T) {
	sw := swarmtest.RequireExclusive(t)
	for _, h := range []string{sw.Manager, sw.Worker} {
		dockertest.ImageOn(t, h, swarmImage+":v1")
	}
	manager, worker := sw.Hostnames[0], sw.Hostnames[1]
	eng, err := swarm.New(swarm.Options{Host: sw.Manager, NodeHosts: map[string]string{worker: sw.Worker}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	waitNodesReady(t, eng)
	s := tu.StartServer(t, tu.Engines(t)[0], tu.Options{Engine: eng, Edge: &tu.EdgeOptions{}})
	lib := tu.NewLibrary(t)
	lib.Add(t, "web", swarmCompose, "")
	lib.Import(t, s.URL)
	statuses := make(chan host.StatusEvent, 100)
	defer s.Bus.Subscribe(func(e events.Event) {
		if ev, ok := e.Payload.(host.StatusEvent); ok && e.Type == events.InstallStatus {
			select {
			case statuses <- ev:
			default:
			}
		}
	})()
	install := func(body map[string]any) {
		var inst struct {
			Job struct{ ID int64 } `json:"job"`
		}
		s.Want(http.StatusAccepted, tu.Admin, "POST", "/api/v1/installs", body).JSON(t, &inst)
		waitJob(t, s, inst.Job.ID)
	}
	install(map[string]any{"app": "web", "name": "pinned", "node": worker})
	nodeAvailability(t, sw.Manager, manager, "pause") // Swarm has only the worker to place the next one on
	install(map[string]any{"app": "web", "name": "moving", "domain": "move.test"})
	nodeAvailability(t, sw.Manager, manager, "active")
	waitRoute(t, s, "move.test", "moving", sw.Addrs[1])

	restart := swarmtest.StopNodeAwhile(t, 2)
	waitEvent(t, statuses, "pinned to show its node down", func(ev host.StatusEvent) bool {
		return ev.Instance == "pinned" && ev.Status == "2" && ev.Info == "node "+worker+", where it is placed, is down"
	})
	waitEvent(t, statuses, "moving to run on the manager", func(ev host.StatusEvent) bool {
		return ev.Instance == "moving" && ev.Status == "1" && slices.Equal(ev.Nodes, []string{manager})
	})
	waitRoute(t, s, "move.test", "moving", sw.Addrs[0])

	restart()
	waitEvent(t, statuses, "pinned to run again on its node", func(ev host.StatusEvent) bool {
		return ev.Instance == "pinned" && ev.Status == "1" && slices.Equal(ev.Nodes, []string{worker})
	})
}

// nodeAvailability sets a node's availability (active, pause, drain) through the manager at host.
func nodeAvailability(t *testing.T, host, node, availability string) {
	t.Helper()
	if out, err := exec.Command("docker", "-H", host, "node", "update", "--availability", availability, node).CombinedOutput(); err != nil {
		t.Fatalf("docker node update --availability %s %s: %v\n%s", availability, node, err, out)
	}
}

// waitEvent reads install.status events until one satisfies ok.
func waitEvent(t *testing.T, evs <-chan host.StatusEvent, what string, ok func(host.StatusEvent) bool) {
	t.Helper()
	deadline := time.After(3 * time.Minute) // only against a hang: Swarm notices a node down within about 15 s
	var seen []host.StatusEvent
	for {
		select {
		case ev := <-evs:
			if ok(ev) {
				return
			}
			seen = append(seen, ev)
		case <-deadline:
			t.Fatalf("no install.status event for %s; saw %+v", what, seen)
		}
	}
}

// waitRoute waits until the edge answers domain from instance's app at addr, the node its upstream is on.
func waitRoute(t *testing.T, s *tu.Server, domain, instance, addr string) {
	t.Helper()
	https := edgeClient(s, true, "")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // only against a hang
	defer cancel()
	for {
		up, _ := s.Host.Upstream(ctx, instance, "", 0)
		r, body := fetch(t, https, "GET", at(s, true, domain, "/"))
		if h, _, _ := net.SplitHostPort(up); h == addr && r.StatusCode == http.StatusOK && strings.TrimSpace(body) == "web v1" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("https://%s/ answers %d %q with the upstream %q; want web v1 from %s", domain, r.StatusCode, body, up, addr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
