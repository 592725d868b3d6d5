package edge_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/engine/swarm"
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
