package swarm

// Tests on the real two-node Swarm of scripts/swarm.sh (testenv.sh starts it and exports its variables): node 1
// is the manager StackHub talks to, node 2 a worker. Every test runs the harness's stackhub-swarm-app image
// (built on both nodes; nothing can be pulled here), uses its own project name and removes what it created.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
	"github.com/stackhub/stackhub/internal/testutil/swarmtest"
)

// The shared Swarm (scripts/swarm.sh, started by scripts/testenv.sh), read once by TestMain; a test that needs
// it fails with setupErr when it is not set up.
var (
	setupErr  error
	manager   string   // Docker host of node 1
	worker    string   // Docker host of node 2
	addrs     []string // node addresses: node 1, node 2
	hostnames []string // node hostnames: node 1, node 2
	appImage  string
)

func TestMain(m *testing.M) {
	if env, err := swarmtest.Load(); err != nil {
		setupErr = err
	} else {
		manager, worker, addrs, hostnames, appImage = env.Manager, env.Worker, env.Addrs, env.Hostnames, env.Image
	}
	os.Exit(m.Run())
}

// newEngine is an engine on the test Swarm that reaches both nodes; the test holds the Swarm shared, or alone
// when exclusive (it stops a node).
func newEngine(t *testing.T, exclusive ...bool) *Engine {
	t.Helper()
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	if len(exclusive) > 0 && exclusive[0] {
		swarmtest.RequireExclusive(t)
	} else {
		swarmtest.Require(t)
	}
	e, err := New(Options{Host: manager, NodeHosts: map[string]string{hostnames[1]: worker}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := e.Version(ctx); err != nil {
		t.Fatalf("test Swarm: %v (bash scripts/swarm.sh up)", err)
	}
	return e
}

// project renders compose (with ${IMAGE} and ${PORT*} left to the .env written here) into a fresh directory
// and loads it under a fresh name; Cleanup takes the stack down with its volumes and checks nothing is left.
func project(t *testing.T, e *Engine, compose string, env map[string]string) *engine.Project {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "shsw-" + hex.EncodeToString(b)
	dir := t.TempDir()
	var vars strings.Builder
	fmt.Fprintf(&vars, "IMAGE=%s\n", appImage)
	for k, v := range env {
		fmt.Fprintf(&vars, "%s=%s\n", k, v)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(vars.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, engine.ComposeFile), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := engine.Load(ctx, name, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := e.Down(ctx, name, true); err != nil {
			t.Errorf("cleanup Down: %v", err)
		}
		assertGone(t, e, name)
	})
	return p
}

// reload loads p's directory again after the compose file changed.
func reload(t *testing.T, p *engine.Project, compose string) *engine.Project {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.WorkingDir, engine.ComposeFile), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	np, err := engine.Load(context.Background(), p.Name, p.WorkingDir)
	if err != nil {
		t.Fatal(err)
	}
	return np
}

// assertGone checks that no service, network or volume (on either node) of the project is left.
func assertGone(t *testing.T, e *Engine, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svcs, err := e.services(ctx, name)
	if err != nil || len(svcs) > 0 {
		t.Errorf("services of %s left: %d (%v)", name, len(svcs), err)
	}
	nets, err := e.c.NetworkList(ctx, client.NetworkListOptions{Filters: namespaceFilter(name)})
	if err != nil || len(nets.Items) > 0 {
		t.Errorf("networks of %s left: %d (%v)", name, len(nets.Items), err)
	}
	for _, host := range []string{manager, worker} {
		c, err := newClient(host)
		if err != nil {
			t.Fatal(err)
		}
		vols, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", engine.LabelProject+"="+name)})
		c.Close()
		if err != nil || len(vols.Items) > 0 {
			t.Errorf("volumes of %s left on %s: %d (%v)", name, host, len(vols.Items), err)
		}
	}
}

// get answers the body of GET url, retrying until it answers 200 (a task that just started may not listen yet).
func get(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("%s: %s", r.Status, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// put PUTs body to url, retrying until it answers 204 (a task that just started may not listen yet; the PUT is
// idempotent).
func put(t *testing.T, url, body string) {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
		r, err := c.Do(req)
		if err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusNoContent {
				return
			}
			err = fmt.Errorf("%s", r.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("PUT %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitStatus polls Status until ok accepts it; the deadline is only against hangs.
func waitStatus(t *testing.T, e *Engine, name, what string, ok func(*engine.Status) bool) *engine.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var last *engine.Status
	for {
		st, err := e.Status(ctx, name)
		if err == nil {
			last = st
			if ok(st) {
				return st
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: last status %+v (err %v)", what, last, err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func ctxMinute(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

const statelessCompose = `
services:
  web:
    image: ${IMAGE}
    environment:
      NODE: "{{.Node.Hostname}}"
    ports:
      - "${PORT}:8080"
    healthcheck:
      test: ["CMD", "/app", "get", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 3s
      retries: 3
    deploy:
      replicas: 2
      placement:
        max_replicas_per_node: 1
`

func TestNodes(t *testing.T) {
	e := newEngine(t)
	nodes, err := e.Nodes(ctxMinute(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 {
		t.Fatalf("nodes = %+v, want the 2 of the test Swarm", nodes)
	}
	for i, n := range nodes { // sorted by hostname: node 1, node 2
		if n.Hostname != hostnames[i] || n.Addr != addrs[i] || n.State != "ready" || n.Availability != "active" ||
			n.CPUs <= 0 || n.MemoryBytes <= 0 || n.EngineVersion == "" || n.ID == "" {
			t.Errorf("node %d = %+v, want %s at %s, ready, active, with CPUs, memory and a version", i+1, n, hostnames[i], addrs[i])
		}
	}
	if nodes[0].Role != "manager" || !nodes[0].Leader || nodes[1].Role != "worker" || nodes[1].Leader {
		t.Errorf("roles: %+v; want node 1 the leading manager, node 2 a worker", nodes)
	}
}

// A stateless app with two replicas, one per node, answering on both node addresses; Stop, Start and Down.
func TestStatelessAcrossNodes(t *testing.T) {
	e := newEngine(t)
	port := dockertest.FreePort(t)
	p := project(t, e, statelessCompose, map[string]string{"PORT": fmt.Sprint(port)})
	ctx := ctxMinute(t)
	var stages []string
	if err := e.Up(ctx, p, map[string]string{engine.LabelInstance: p.Name}, func(pr engine.Progress) {
		stages = append(stages, pr.Stage)
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(stages, "create") || !slices.Contains(stages, "network") {
		t.Errorf("progress stages %v: want network and create", stages)
	}
	st, err := e.Status(ctx, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	var on []string
	for _, s := range st.Services {
		if s.Service != "web" || s.State != "running" || s.Health != "healthy" || s.Replicas != 2 ||
			!slices.Contains(s.HostPorts, port) || s.NodeState != "ready" {
			t.Errorf("state %+v: want web running, healthy, 1 of 2, publishing %d on a ready node", s, port)
		}
		on = append(on, s.Node)
	}
	slices.Sort(on)
	if !slices.Equal(on, hostnames) {
		t.Fatalf("replicas run on %v, want one on each of %v", on, hostnames)
	}
	for i, a := range addrs { // host-mode ports: each node answers from its own task
		if body := get(t, fmt.Sprintf("http://%s:%d/", a, port)); !strings.Contains(body, "on "+hostnames[i]) {
			t.Errorf("node %s answered %q, want its own task (on %s)", a, body, hostnames[i])
		}
	}
	// docker stack sees it.
	out, err := exec.Command("docker", "-H", manager, "stack", "ps", "--format", "{{.Name}} {{.Node}}", p.Name).CombinedOutput()
	if err != nil || !strings.Contains(string(out), p.Name+"_web.1") || !strings.Contains(string(out), p.Name+"_web.2") {
		t.Errorf("docker stack ps %s: %s (%v)", p.Name, out, err)
	}
	ports, err := e.PublishedPorts(ctx)
	if err != nil || !ports[port] {
		t.Errorf("PublishedPorts = %v (%v), want %d", ports, err, port)
	}
	if ok, err := e.Exists(ctx, p.Name); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	var logs strings.Builder
	if err := e.Logs(ctx, p.Name, 10, false, &logs); err != nil || !strings.Contains(logs.String(), "web | listening on :8080") {
		t.Errorf("Logs = %q, %v; want web's lines", logs.String(), err)
	}

	if err := e.Stop(ctx, p.Name); err != nil {
		t.Fatal(err)
	}
	st, err = e.Status(ctx, p.Name)
	if err != nil || len(st.Services) != 2 || st.Services[0].State != "exited" || st.Services[1].State != "exited" {
		t.Fatalf("after Stop: %+v, %v; want both replicas exited", st, err)
	}
	if c := (http.Client{Timeout: time.Second}); true {
		if _, err := c.Get(fmt.Sprintf("http://%s:%d/", addrs[1], port)); err == nil {
			t.Error("a stopped app still answers")
		}
	}
	if err := e.Start(ctx, p.Name); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		get(t, fmt.Sprintf("http://%s:%d/", a, port))
	}
	if err := e.Restart(ctx, p.Name); err != nil {
		t.Fatal(err)
	}
	get(t, fmt.Sprintf("http://%s:%d/", addrs[0], port))
	if err := e.Down(ctx, p.Name, false); err != nil {
		t.Fatal(err)
	}
	assertGone(t, e, p.Name)
	if ok, err := e.Exists(ctx, p.Name); ok || err != nil {
		t.Errorf("Exists after Down = %v, %v", ok, err)
	}
}

const statefulCompose = `
services:
  here:
    image: ${IMAGE}
    environment:
      NODE: "{{.Node.Hostname}}"
      GEN: "${GEN}"
    ports:
      - "${PORT1}:8080"
    volumes:
      - here-data:/data
  there:
    image: ${IMAGE}
    environment:
      NODE: "{{.Node.Hostname}}"
      GEN: "${GEN}"
    ports:
      - "${PORT2}:8080"
    volumes:
      - there-data:/data
    deploy:
      placement:
        constraints:
          - "node.hostname==${NODE2}"
    depends_on:
      here:
        condition: service_started
volumes:
  here-data:
  there-data:
`

// Services with named volumes are pinned (to this node, or to the node their constraint names), keep their data
// across a Converge that replaces their tasks, and Down removes their volumes on both nodes.
func TestStatefulPinned(t *testing.T) {
	e := newEngine(t)
	port1, port2 := dockertest.FreePort(t), dockertest.FreePort(t)
	env := map[string]string{"PORT1": fmt.Sprint(port1), "PORT2": fmt.Sprint(port2), "NODE2": hostnames[1], "GEN": "1"}
	p := project(t, e, statefulCompose, env)
	ctx := ctxMinute(t)
	if err := e.Up(ctx, p, nil, nil); err != nil {
		t.Fatal(err)
	}
	where := func() map[string]string {
		st, err := e.Status(ctx, p.Name)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, s := range st.Services {
			if s.State != "running" {
				t.Errorf("%+v: want running", s)
			}
			out[s.Service] = s.Node
		}
		return out
	}
	want := map[string]string{"here": hostnames[0], "there": hostnames[1]}
	if got := where(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("services run on %v, want %v (a volume pins to this node unless a constraint names another)", got, want)
	}
	put(t, fmt.Sprintf("http://%s:%d/data/k", addrs[0], port1), "kept here")
	put(t, fmt.Sprintf("http://%s:%d/data/k", addrs[1], port2), "kept there")
	vols, err := e.Volumes(ctx, p.Name)
	if err != nil || len(vols) != 2 {
		t.Errorf("Volumes = %v, %v; want here-data (node 1) and there-data (node 2)", vols, err)
	}
	if mp, err := e.VolumeMountpoint(ctx, p.Name+"_here-data"); err != nil || mp == "" {
		t.Errorf("VolumeMountpoint of the local volume = %q, %v", mp, err)
	}
	if _, err := e.VolumeMountpoint(ctx, p.Name+"_there-data"); err == nil || !strings.Contains(err.Error(), hostnames[1]) {
		t.Errorf("VolumeMountpoint of node 2's volume: %v; want an error naming %s", err, hostnames[1])
	}

	if err := os.WriteFile(filepath.Join(p.WorkingDir, ".env"), []byte(fmt.Sprintf("IMAGE=%s\nPORT1=%d\nPORT2=%d\nNODE2=%s\nGEN=2\n",
		appImage, port1, port2, hostnames[1])), 0o644); err != nil {
		t.Fatal(err)
	}
	p2 := reload(t, p, statefulCompose)
	changed, err := e.Converge(ctx, p2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(changed)
	if !slices.Equal(changed, []string{"here", "there"}) {
		t.Errorf("Converge changed %v, want both (their environment changed)", changed)
	}
	if got := where(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after Converge services run on %v, want %v still", got, want)
	}
	if body := get(t, fmt.Sprintf("http://%s:%d/data/k", addrs[0], port1)); body != "kept here" {
		t.Errorf("here's data after Converge: %q", body)
	}
	if body := get(t, fmt.Sprintf("http://%s:%d/data/k", addrs[1], port2)); body != "kept there" {
		t.Errorf("there's data after Converge: %q", body)
	}
	changed, err = e.Converge(ctx, p2, nil, nil)
	if err != nil || len(changed) != 0 {
		t.Errorf("a second Converge changed %v (%v), want nothing", changed, err)
	}
	// project's Cleanup: Down with volumes, then nothing left on either node.
}

// A project with a key Swarm cannot honour is refused before anything exists.
func TestRefusedBeforeAnything(t *testing.T) {
	e := newEngine(t)
	for key, bad := range map[string]string{
		"privileged":   "    privileged: true\n",
		"build":        "    build: .\n",
		"network_mode": "    network_mode: host\n",
	} {
		t.Run(key, func(t *testing.T) {
			compose := "services:\n  ok:\n    image: ${IMAGE}\n    volumes: [data:/data]\n  bad:\n    image: ${IMAGE}\n" + bad +
				"networks:\n  extra: {}\nvolumes:\n  data: {}\n"
			p := project(t, e, compose, nil)
			ctx := ctxMinute(t)
			err := e.CheckHost(ctx, p)
			if err == nil || !strings.Contains(err.Error(), "service bad") || !strings.Contains(err.Error(), key) {
				t.Errorf("CheckHost: %v; want a refusal naming service bad and %s", err, key)
			}
			err = e.Up(ctx, p, nil, nil)
			if err == nil || !strings.Contains(err.Error(), "service bad") || !strings.Contains(err.Error(), key) {
				t.Fatalf("Up: %v; want a refusal naming service bad and %s", err, key)
			}
			assertGone(t, e, p.Name)
		})
	}
}

func setAvailability(t *testing.T, e *Engine, hostname string, a swarm.NodeAvailability) {
	t.Helper()
	ctx := ctxMinute(t)
	nodes, err := e.swarmNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Description.Hostname == hostname {
			n.Spec.Availability = a
			if _, err := e.c.NodeUpdate(ctx, n.ID, client.NodeUpdateOptions{Version: n.Version, Spec: n.Spec}); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no node %s", hostname)
}

const soloCompose = `
services:
  solo:
    image: ${IMAGE}
    environment:
      NODE: "{{.Node.Hostname}}"
    ports:
      - "${PORT}:8080"
`

// Node 2's engine stops: Status shows the node down, its stateless task moves to node 1, and the replica that
// may not share node 1 waits; when node 2 is back, both replicas run again.
func TestNodeDown(t *testing.T) {
	e := newEngine(t, true)
	ctx := ctxMinute(t)
	portWeb, portSolo := dockertest.FreePort(t), dockertest.FreePort(t)
	web := project(t, e, statelessCompose, map[string]string{"PORT": fmt.Sprint(portWeb)})
	solo := project(t, e, soloCompose, map[string]string{"PORT": fmt.Sprint(portSolo)})
	if err := e.Up(ctx, web, nil, nil); err != nil {
		t.Fatal(err)
	}
	// Put solo on node 2: node 1 takes no new task while it is created.
	setAvailability(t, e, hostnames[0], swarm.NodeAvailabilityPause)
	err := e.Up(ctx, solo, nil, nil)
	setAvailability(t, e, hostnames[0], swarm.NodeAvailabilityActive)
	if err != nil {
		t.Fatal(err)
	}
	if body := get(t, fmt.Sprintf("http://%s:%d/", addrs[1], portSolo)); !strings.Contains(body, hostnames[1]) {
		t.Fatalf("solo answered %q, want it on %s", body, hostnames[1])
	}

	restart := swarmtest.StopNodeAwhile(t, 2)
	waitStatus(t, e, solo.Name, "solo to move to node 1", func(st *engine.Status) bool {
		return len(st.Services) == 1 && st.Services[0].State == "running" && st.Services[0].Node == hostnames[0]
	})
	if body := get(t, fmt.Sprintf("http://%s:%d/", addrs[0], portSolo)); !strings.Contains(body, hostnames[0]) {
		t.Errorf("moved solo answered %q, want it on %s", body, hostnames[0])
	}
	st := waitStatus(t, e, web.Name, "web's replica on node 2 to show the node down", func(st *engine.Status) bool {
		for _, s := range st.Services {
			if s.Node == hostnames[1] && s.NodeState == "down" || s.Node == "" && s.State == "created" {
				return true
			}
		}
		return false
	})
	running := 0
	for _, s := range st.Services {
		if s.State == "running" && s.Node == hostnames[0] {
			running++
		}
	}
	if running != 1 {
		t.Errorf("web: %+v; want its replica on node 1 still running", st.Services)
	}
	nodes, err := e.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[1].State != "down" {
		t.Errorf("Nodes = %+v, %v; want node 2 down", nodes, err)
	}

	restart()
	waitStatus(t, e, web.Name, "web's two replicas to run again on both nodes", func(st *engine.Status) bool {
		var on []string
		for _, s := range st.Services {
			if s.State == "running" && s.NodeState == "ready" {
				on = append(on, s.Node)
			}
		}
		slices.Sort(on)
		return slices.Equal(on, hostnames)
	})
	get(t, fmt.Sprintf("http://%s:%d/", addrs[1], portWeb))
}

const dependsCompose = `
services:
  web:
    image: ${IMAGE}
    healthcheck:
      test: ["CMD", "/app", "get", "http://127.0.0.1:8080/"]
      interval: 1s
      retries: 30
    deploy:
      placement:
        constraints: ["node.hostname==${NODE2}"]
  check:
    image: ${IMAGE}
    command: ["get", "http://web:8080/"]
    deploy:
      placement:
        constraints: ["node.hostname==${NODE1}"]
    depends_on:
      web:
        condition: service_healthy
  after:
    image: ${IMAGE}
    depends_on:
      check:
        condition: service_completed_successfully
`

// depends_on conditions in order: check (on node 1) runs once web (on node 2) is healthy and reaches it by name
// over the overlay network; after starts once check has completed; Status shows check done, not down.
func TestDependsOn(t *testing.T) {
	e := newEngine(t)
	p := project(t, e, dependsCompose, map[string]string{"NODE1": hostnames[0], "NODE2": hostnames[1]})
	ctx := ctxMinute(t)
	var order []string
	if err := e.Up(ctx, p, nil, func(pr engine.Progress) {
		if pr.Stage == "create" {
			order = append(order, pr.Service)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []string{"web", "check", "after"}) {
		t.Errorf("created %v, want web, check, after", order)
	}
	st, err := e.Status(ctx, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Services {
		switch s.Service {
		case "check":
			if s.State != "exited" || s.ExitCode != 0 || !s.OneShot {
				t.Errorf("check: %+v; want exited 0, one-shot", s)
			}
		default:
			if s.State != "running" {
				t.Errorf("%s: %+v; want running", s.Service, s)
			}
		}
	}
}
