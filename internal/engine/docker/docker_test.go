package docker

// Tests on a real Docker Engine. Every container runs the testapp image built by dockertest (nothing can be
// pulled here); every test uses its own project name and removes what it created, failed or not.

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// env is one test project on the engine.
type env struct {
	t    *testing.T
	e    *Engine
	cli  *client.Client
	name string // project name, also W9_ID
	net  string // W9_NETWORK, an external network named after the project so Cleanup removes it
	dir  string
	p    *engine.Project
}

// newEnv renders compose (with .env vars plus W9_ID and W9_NETWORK) into a fresh directory and loads it.
func newEnv(t *testing.T, compose string, vars map[string]string, files map[string]string) *env {
	t.Helper()
	cli := dockertest.Require(t)
	name := dockertest.Project(t)
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	v := &env{t: t, e: e, cli: cli, name: name, net: name + "-net", dir: t.TempDir()}
	t.Cleanup(func() { // runs before dockertest's Cleanup, which catches whatever Down leaves
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Down(ctx, name, true); err != nil {
			t.Errorf("cleanup Down: %v", err)
		}
	})
	var envFile strings.Builder
	fmt.Fprintf(&envFile, "W9_ID=%s\nW9_NETWORK=%s\n", v.name, v.net)
	for k, val := range vars {
		fmt.Fprintf(&envFile, "%s=%s\n", k, val)
	}
	files[engine.ComposeFile] = compose
	files[".env"] = envFile.String()
	for f, body := range files {
		path := filepath.Join(v.dir, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v.p, err = engine.Load(context.Background(), name, v.dir)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// progress records the stages an operation reports.
type progress struct {
	mu     sync.Mutex
	stages []string
}

func (p *progress) fn(pr engine.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stages = append(p.stages, pr.Stage+":"+pr.Service)
}

func (v *env) up(labels map[string]string) {
	v.t.Helper()
	var pr progress
	if err := v.e.Up(ctxT(v.t, time.Minute), v.p, labels, pr.fn); err != nil {
		v.t.Fatalf("Up: %v", err)
	}
}

func (v *env) status() *engine.Status {
	v.t.Helper()
	st, err := v.e.Status(ctxT(v.t, time.Minute), v.name)
	if err != nil {
		v.t.Fatalf("Status: %v", err)
	}
	return st
}

func service(st *engine.Status, name string) engine.ServiceState {
	for _, s := range st.Services {
		if s.Service == name {
			return s
		}
	}
	return engine.ServiceState{}
}

// waitStatus polls Status until ok holds, failing after timeout with the last status seen.
func (v *env) waitStatus(what string, timeout time.Duration, ok func(*engine.Status) bool) *engine.Status {
	v.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := v.status()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("waiting for %s: last status %+v", what, st.Services)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stopInBackground stops the project in a goroutine and returns once the daemon has sent its container SIGTERM
// (its "kill" event with signal 15); the channel closes when Stop returns.
func (v *env) stopInBackground() <-chan struct{} {
	v.t.Helper()
	ctx := ctxT(v.t, time.Minute)
	// Since a second ago, so the daemon replays an event sent before it registered the subscription.
	evs := v.cli.Events(ctx, client.EventsListOptions{Since: fmt.Sprint(time.Now().Add(-time.Second).Unix()), Filters: client.Filters{}.
		Add("type", "container").Add("event", "kill").Add("label", engine.LabelProject+"="+v.name)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := v.e.Stop(ctx, v.name); err != nil {
			v.t.Errorf("Stop %s: %v", v.name, err)
		}
	}()
	for {
		select {
		case m := <-evs.Messages:
			if m.Actor.Attributes["signal"] == "15" {
				return done
			}
		case err := <-evs.Err:
			v.t.Fatalf("docker events: %v", err)
		}
	}
}

// cancelAfterLines is a log writer that calls cancel once it holds lines lines.
type cancelAfterLines struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	lines  int
	cancel func()
}

func (w *cancelAfterLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Count(w.buf.Bytes(), []byte("\n")) >= w.lines {
		w.cancel()
	}
	return len(p), nil
}

func (w *cancelAfterLines) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func allState(state string) func(*engine.Status) bool {
	return func(st *engine.Status) bool {
		if len(st.Services) == 0 {
			return false
		}
		for _, s := range st.Services {
			if s.State != state {
				return false
			}
		}
		return true
	}
}

var httpc = &http.Client{Timeout: 3 * time.Second}

// get retries GET url until it answers 200 (a container just started may not listen yet).
func get(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := httpc.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(res.Body)
			res.Body.Close()
			if rerr == nil && res.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("%s: %s", res.Status, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func put(t *testing.T, url, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	res, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", url, err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: %s", url, res.Status)
	}
}

func (v *env) networkExists(name string) bool {
	v.t.Helper()
	_, err := v.cli.NetworkInspect(ctxT(v.t, time.Minute), name, client.NetworkInspectOptions{})
	if err != nil && !errdefs.IsNotFound(err) {
		v.t.Fatalf("inspect network %s: %v", name, err)
	}
	return err == nil
}

func (v *env) volumeExists(name string) bool {
	v.t.Helper()
	_, err := v.cli.VolumeInspect(ctxT(v.t, time.Minute), name, client.VolumeInspectOptions{})
	if err != nil && !errdefs.IsNotFound(err) {
		v.t.Fatalf("inspect volume %s: %v", name, err)
	}
	return err == nil
}

const healthcheck = `
    healthcheck:
      test: ["CMD", "/testapp", "check", "http://127.0.0.1:8080/health"]
      interval: 500ms
      timeout: 2s
      retries: 3
      start_period: 30s`

// TestLifecycle runs a web app and its database through Up, Stop, Start, Restart and Down.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	web, db := dockertest.Image(t, "stackhub-test/web:v1"), dockertest.Image(t, "stackhub-test/db:v1")
	port := dockertest.FreePort(t)
	v := newEnv(t, `
services:
  web:
    image: `+web+`
    container_name: $W9_ID
    environment:
      APP_NAME: web
      VERSION: v1
      DATA_DIR: /data
      DEPENDS_URL: http://db:8080/
    ports: ["${W9_HTTP_PORT_SET}:8080"]
    volumes:
      - data:/data
      - ./src/conf.txt:/conf.txt:ro
    restart: unless-stopped
    depends_on:
      db: {condition: service_healthy}
    networks: [default, backend]
  db:
    image: `+db+`
    environment:
      APP_NAME: db
      READY_AFTER: "2"`+healthcheck+`
    restart: unless-stopped
    networks: [backend]
networks:
  default:
    name: ${W9_NETWORK}
    external: true
  backend: {}
volumes:
  data: {}
`, map[string]string{"W9_HTTP_PORT_SET": fmt.Sprint(port)}, map[string]string{"src/conf.txt": "conf\n"})
	labels := map[string]string{"io.stackhub.instance": v.name, "io.stackhub.app": "testapp"}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if v.networkExists(v.net) {
		t.Fatalf("external network %s exists before Up", v.net)
	}

	start := time.Now()
	v.up(labels)
	t.Logf("Up took %v", time.Since(start))

	st := v.status()
	if len(st.Services) != 2 {
		t.Fatalf("status %+v", st.Services)
	}
	dbs, webs := service(st, "db"), service(st, "web")
	if dbs.State != "running" || dbs.Health != "healthy" || dbs.Container != v.name+"-db-1" {
		t.Errorf("db %+v", dbs)
	}
	if webs.State != "running" || webs.Container != v.name || !slices.Contains(webs.HostPorts, port) || webs.OneShot {
		t.Errorf("web %+v", webs)
	}
	if got := get(t, base+"/"); got != "web v1\n" {
		t.Errorf("GET / = %q", got)
	}
	if got := get(t, base+"/dep"); got != "db v1\n" {
		t.Errorf("GET /dep (web -> db by service name) = %q", got)
	}
	put(t, base+"/data", "kept")

	// The Compose CLI's view: both containers carry the project label, and ours.
	ps := dockertest.Docker(t, "ps", "--filter", "label="+engine.LabelProject+"="+v.name, "--format", "{{.Names}}")
	if names := strings.Fields(ps); len(names) != 2 || !slices.Contains(names, v.name) || !slices.Contains(names, v.name+"-db-1") {
		t.Errorf("docker ps lists %q", names)
	}
	for _, c := range []string{v.name, v.name + "-db-1"} {
		in, err := v.cli.ContainerInspect(ctxT(t, time.Minute), c, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for k, val := range labels {
			if in.Container.Config.Labels[k] != val {
				t.Errorf("%s: label %s = %q, want %q", c, k, in.Container.Config.Labels[k], val)
			}
		}
		if c == v.name {
			var found bool
			for _, m := range in.Container.Mounts {
				if m.Destination == "/conf.txt" {
					found = true
					if m.Source != filepath.Join(v.dir, "src", "conf.txt") || m.RW {
						t.Errorf("bind %+v", m)
					}
				}
			}
			if !found {
				t.Errorf("no /conf.txt bind in %+v", in.Container.Mounts)
			}
		}
	}
	if !v.networkExists(v.net) || !v.networkExists(v.name+"_backend") {
		t.Errorf("networks %s and %s_backend should exist", v.net, v.name)
	}

	var logs bytes.Buffer
	if err := v.e.Logs(ctxT(t, time.Minute), v.name, 10, false, &logs); err != nil {
		t.Fatalf("Logs: %v", err)
	}
	// db logs every healthcheck, so its start may be past the tail; web has served only a few requests.
	if s := logs.String(); !strings.Contains(s, "web | listening on :8080") || !strings.Contains(s, "\ndb | ") {
		t.Errorf("logs:\n%s", s)
	}
	// Following ends, without an error, when the context does: it is cancelled once both last lines arrived (the
	// minute only guards against a hang).
	fctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	followed := &cancelAfterLines{lines: 2, cancel: cancel}
	err := v.e.Logs(fctx, v.name, 1, true, followed)
	timedOut := errors.Is(fctx.Err(), context.DeadlineExceeded)
	cancel()
	if err != nil || timedOut {
		t.Errorf("Logs(follow) = %v (timed out: %v), output %q", err, timedOut, followed.String())
	}

	if err := v.e.Stop(ctxT(t, time.Minute), v.name); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if st := v.status(); !allState("exited")(st) {
		t.Errorf("after Stop: %+v", st.Services)
	}
	if err := v.e.Start(ctxT(t, time.Minute), v.name); err != nil {
		t.Fatalf("Start: %v", err)
	}
	v.waitStatus("running after Start", time.Minute, allState("running"))
	if got := get(t, base+"/data"); got != "kept" {
		t.Errorf("GET /data after Start = %q", got)
	}
	if err := v.e.Restart(ctxT(t, time.Minute), v.name); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	v.waitStatus("running after Restart", time.Minute, allState("running"))
	if got := get(t, base+"/"); got != "web v1\n" {
		t.Errorf("GET / after Restart = %q", got)
	}

	// Down without volumes: containers, the project's network and the external network StackHub created are
	// gone; the volume stays, and a new Up finds the data in it.
	if err := v.e.Down(ctxT(t, time.Minute), v.name, false); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if st := v.status(); len(st.Services) != 0 {
		t.Errorf("after Down: %+v", st.Services)
	}
	if ps := dockertest.Docker(t, "ps", "-a", "-q", "--filter", "label="+engine.LabelProject+"="+v.name); strings.TrimSpace(ps) != "" {
		t.Errorf("containers left after Down: %q", ps)
	}
	if v.networkExists(v.name + "_backend") {
		t.Error("project network left after Down")
	}
	if v.networkExists(v.net) {
		t.Error("the external network StackHub created is left after Down, though unused")
	}
	if !v.volumeExists(v.name + "_data") {
		t.Fatal("Down(volumes=false) removed the volume")
	}
	v.up(labels)
	if got := get(t, base+"/data"); got != "kept" {
		t.Errorf("GET /data after Down and Up = %q", got)
	}
	if err := v.e.Down(ctxT(t, time.Minute), v.name, true); err != nil {
		t.Fatalf("Down(volumes): %v", err)
	}
	if v.volumeExists(v.name + "_data") {
		t.Error("Down(volumes=true) left the volume")
	}
	if v.networkExists(v.net) || v.networkExists(v.name+"_backend") {
		t.Error("networks left after the second Down")
	}
}

// TestCompletedSuccessfully: a one-shot init container must finish before the app starts.
func TestCompletedSuccessfully(t *testing.T) {
	t.Parallel()
	img := dockertest.Image(t, "stackhub-test/web:v1")
	v := newEnv(t, `
services:
  init:
    image: `+img+`
    command: ["once"]
    restart: "no"
  web:
    image: `+img+`
    restart: unless-stopped
    depends_on:
      init: {condition: service_completed_successfully}
  worker:
    image: `+img+`
    restart: unless-stopped
`, nil, map[string]string{})
	v.up(nil)
	st := v.status()
	in, web := service(st, "init"), service(st, "web")
	if in.State != "exited" || in.ExitCode != 0 || !in.OneShot || in.LastLog != "init done" {
		t.Errorf("init %+v", in)
	}
	if web.State != "running" || web.OneShot {
		t.Errorf("web %+v", web)
	}
	// Containers are listed in creation (dependency) order, even when created within the same second (as web and
	// worker are), so Start starts dependencies first and Stop stops dependents first.
	cs, err := v.e.containers(ctxT(t, time.Minute), v.name)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range cs {
		order = append(order, c.Labels[engine.LabelService])
	}
	if !slices.Equal(order, []string{"init", "web", "worker"}) {
		t.Errorf("containers in order %v, want [init web worker]", order)
	}
	if !v.networkExists(v.name + "_default") {
		t.Errorf("no default network %s_default", v.name)
	}
}

// TestTTYLogs: a container with a terminal logs one raw stream, not stdout and stderr multiplexed; Status (from
// its own inspect) and Logs both read it as such.
func TestTTYLogs(t *testing.T) {
	t.Parallel()
	img := dockertest.Image(t, "stackhub-test/web:v1")
	v := newEnv(t, `
services:
  init:
    image: `+img+`
    command: ["once"]
    restart: "no"
    tty: true
`, nil, map[string]string{})
	v.up(nil)
	st := v.waitStatus("init to exit", time.Minute, allState("exited"))
	if in := service(st, "init"); in.LastLog != "init done" {
		t.Errorf("init LastLog %q, want %q", in.LastLog, "init done")
	}
	var logs bytes.Buffer
	if err := v.e.Logs(ctxT(t, time.Minute), v.name, 10, false, &logs); err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(logs.String(), "\r", ""); !strings.Contains(got, "init | init done\n") {
		t.Errorf("Logs = %q, want the line init | init done", logs.String())
	}
}

// TestCrash: a crashing service is reported with its exit code and last log line; a service_healthy
// dependency that exits fails Up with its name and code.
func TestCrash(t *testing.T) {
	t.Parallel()
	img := dockertest.Image(t, "stackhub-test/web:v1")
	t.Run("status", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, `
services:
  app:
    image: `+img+`
    command: ["crash"]
    environment: {EXIT_CODE: "3"}
    restart: "no"
`, nil, map[string]string{})
		v.up(nil)
		st := v.waitStatus("app to exit", time.Minute, allState("exited"))
		app := service(st, "app")
		if app.ExitCode != 3 || !strings.Contains(app.LastLog, "fatal: cannot connect") {
			t.Errorf("app %+v", app)
		}
	})
	t.Run("healthy dependency exits", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, `
services:
  db:
    image: `+img+`
    command: ["crash"]
    environment: {EXIT_CODE: "3"}
    restart: "no"`+healthcheck+`
  web:
    image: `+img+`
    depends_on:
      db: {condition: service_healthy}
`, nil, map[string]string{})
		// db never becomes healthy (its start_period alone is 30 s): Up returns because it notices the exit, not
		// because its context ran out (that minute only guards against a hang).
		err := v.e.Up(ctxT(t, time.Minute), v.p, nil, func(engine.Progress) {})
		if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "db") || !strings.Contains(err.Error(), "code 3") {
			t.Fatalf("Up = %v, want an error naming db and code 3", err)
		}
		if ok, _ := v.e.Exists(ctxT(t, time.Minute), v.name); !ok {
			t.Error("what Up created should be left for Down")
		}
	})
}

// TestMissingImage: an image that is not local and cannot be pulled is listed, and Pull fails fast naming it.
func TestMissingImage(t *testing.T) {
	t.Parallel()
	img := dockertest.Image(t, "stackhub-test/web:v1")
	const missing = "stackhub-test/missing:nope"
	v := newEnv(t, `
services:
  app:
    image: `+missing+`
  web:
    image: `+img+`
`, nil, map[string]string{})
	ctx := ctxT(t, 60*time.Second)
	got, err := v.e.MissingImages(ctx, v.p)
	if err != nil || !slices.Equal(got, []string{missing}) {
		t.Fatalf("MissingImages = %v, %v; want [%s]", got, err, missing)
	}
	var pr progress
	start := time.Now()
	err = v.e.Pull(ctx, v.p, pr.fn)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Pull = %v, want an error naming %s", err, missing)
	}
	t.Logf("Pull failed after %v: %v", time.Since(start), err)
	if !slices.Contains(pr.stages, "pull:") {
		t.Errorf("no pull progress: %v", pr.stages)
	}
	if err := v.e.Up(ctx, v.p, nil, func(engine.Progress) {}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Up with a missing image = %v, want an error naming it", err)
	}
}

// TestPortsAndLookups: PublishedPorts and Exists see a project, running or stopped.
func TestPortsAndLookups(t *testing.T) {
	t.Parallel()
	img := dockertest.Image(t, "stackhub-test/web:v1")
	port := dockertest.FreePort(t)
	v := newEnv(t, `
services:
  web:
    image: `+img+`
    container_name: ${W9_ID}-web
    ports: ["127.0.0.1:${W9_HTTP_PORT_SET}:8080"]
    environment: {STOP_IGNORE: "1"}
    stop_grace_period: 1s
`, map[string]string{"W9_HTTP_PORT_SET": fmt.Sprint(port)}, map[string]string{})
	ctx := ctxT(t, time.Minute)
	if ok, err := v.e.Exists(ctx, v.name, v.name+"-web"); err != nil || ok {
		t.Fatalf("Exists before Up = %v, %v", ok, err)
	}
	v.up(map[string]string{"io.stackhub.instance": v.name})
	if got := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "testapp v1\n" {
		t.Errorf("GET / = %q", got)
	}
	check := func(when string) {
		ports, err := v.e.PublishedPorts(ctx)
		if err != nil || !ports[port] {
			t.Errorf("%s: PublishedPorts lacks %d: %v", when, port, err)
		}
	}
	check("running")
	// The app ignores SIGTERM: Stop waits its stop_grace_period (1s), then kills it. Proved by order, not by a
	// clock: a twin with a grace period of a minute, whose stop began first, must still be running when Stop
	// returns. Were the grace periods ignored (the daemon's default for both) or overridden by Stop, the twin
	// would stop first.
	twin := newEnv(t, `
services:
  web:
    image: `+img+`
    container_name: ${W9_ID}-web
    environment: {STOP_IGNORE: "1"}
    stop_grace_period: 1m
`, nil, map[string]string{})
	twin.up(nil)
	// Running is not enough: until the app has set SIGTERM aside, a stop signal ends it at once.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var logs bytes.Buffer
		if err := twin.e.Logs(ctx, twin.name, 10, false, &logs); err == nil && strings.Contains(logs.String(), "listening on") {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the twin never listened: %v %s", err, logs.String())
		}
	}
	twinStopped := twin.stopInBackground()
	if err := v.e.Stop(ctx, v.name); err != nil {
		t.Fatal(err)
	}
	if web := service(twin.status(), "web"); web.State != "running" {
		t.Errorf("the twin (grace period 1m, stopped first) is %q when Stop returns: Stop does not honour stop_grace_period 1s", web.State)
	} else if _, err := twin.cli.ContainerKill(ctx, twin.name+"-web", client.ContainerKillOptions{}); err != nil {
		t.Fatalf("kill the twin: %v", err)
	}
	<-twinStopped
	check("stopped")
	if ok, err := v.e.Exists(ctx, v.name); err != nil || !ok {
		t.Errorf("Exists(project) = %v, %v", ok, err)
	}
	if ok, err := v.e.Exists(ctx, "sh-test-nonexistent", v.name+"-web"); err != nil || !ok {
		t.Errorf("Exists(container name) = %v, %v", ok, err)
	}
	if ok, err := v.e.Exists(ctx, "sh-test-nonexistent", "sh-test-nonexistent-web"); err != nil || ok {
		t.Errorf("Exists(nothing) = %v, %v", ok, err)
	}
	if err := v.e.Down(ctx, v.name, true); err != nil {
		t.Fatal(err)
	}
	if ok, err := v.e.Exists(ctx, v.name, v.name+"-web"); err != nil || ok {
		t.Errorf("Exists after Down = %v, %v", ok, err)
	}
}

// TestCancel: cancelling Up while it waits returns the context's error, and Down cleans up.
func TestCancel(t *testing.T) {
	t.Parallel()
	img := dockertest.Image(t, "stackhub-test/web:v1")
	v := newEnv(t, `
services:
  db:
    image: `+img+`
    environment: {READY_AFTER: "3600"}`+healthcheck+`
  web:
    image: `+img+`
    depends_on:
      db: {condition: service_healthy}
`, nil, map[string]string{})
	// Cancel once Up waits for db (which is never healthy): Up must return the context's error while db is still
	// starting. The minute only guards against an Up that ignores the cancellation.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- v.e.Up(ctx, v.p, nil, func(pr engine.Progress) {
			if pr.Stage == "wait" {
				cancel()
			}
		})
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Up did not return a minute after its context was cancelled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Up = %v, want context.Canceled", err)
	}
	st := v.status()
	if len(st.Services) != 1 || service(st, "db").Health != "starting" {
		t.Errorf("after the cancelled Up: %+v", st.Services)
	}
	if err := v.e.Down(ctxT(t, time.Minute), v.name, true); err != nil {
		t.Fatal(err)
	}
	if ok, err := v.e.Exists(ctxT(t, time.Minute), v.name); err != nil || ok {
		t.Errorf("Exists after Down = %v, %v", ok, err)
	}
	if v.networkExists(v.name + "_default") {
		t.Error("network left after Down")
	}
}

// TestCancelledCallsReturnContextError: a call cut short by its context returns an error that is the context's,
// whichever Docker call it was in.
func TestCancelledCallsReturnContextError(t *testing.T) {
	t.Parallel()
	dockertest.Require(t)
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.waitFor(ctx, "sh-test-nonexistent-db-1", "db", "service_healthy"); !errors.Is(err, context.Canceled) {
		t.Errorf("waitFor = %v, want context.Canceled", err)
	}
	if err := e.Stop(ctx, "sh-test-nonexistent"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop = %v, want context.Canceled", err)
	}
	p := &engine.Project{Name: "sh-test-nonexistent", Services: types.Services{"a": {Name: "a"}}}
	a := p.Services["a"]
	a.Image = "stackhub-test/web:v1"
	p.Services["a"] = a
	if err := e.createAndStart(ctx, p, "a", 1, nil, func(engine.Progress) {}); !errors.Is(err, context.Canceled) {
		t.Errorf("createAndStart = %v, want context.Canceled", err)
	}
}

// TestSharedNetworkConcurrentUp: projects on different instances run independently, even when they share a
// missing external network: Up creates it once, and Down removes it only when its last user is gone.
func TestSharedNetworkConcurrentUp(t *testing.T) {
	t.Parallel()
	img := dockertest.Image(t, "stackhub-test/web:v1")
	const compose = `
services:
  web:
    image: %s
    environment: {APP_NAME: %s}
networks:
  default:
    name: ${W9_NETWORK}
    external: true
`
	a := newEnv(t, fmt.Sprintf(compose, img, "a"), nil, map[string]string{})
	b := newEnv(t, fmt.Sprintf(compose, img, "b"), nil, map[string]string{})
	// Both on a's network (Cleanup removes it with a's project), through one Engine, as in the host service.
	b.p.Networks["default"] = a.p.Networks["default"]
	b.e = a.e

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, v := range []*env{a, b} {
		wg.Go(func() { errs[i] = v.e.Up(ctxT(t, time.Minute), v.p, nil, func(engine.Progress) {}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Up: %v", err)
	}
	nets, err := a.cli.NetworkList(ctxT(t, time.Minute), client.NetworkListOptions{Filters: client.Filters{}.Add("name", a.net)})
	if err != nil {
		t.Fatal(err)
	}
	var same int
	for _, n := range nets.Items {
		if n.Name == a.net {
			same++
		}
	}
	if same != 1 {
		t.Errorf("%d networks named %s, want 1", same, a.net)
	}
	// b is stopped, not removed: it still needs the network to start again.
	if err := b.e.Stop(ctxT(t, time.Minute), b.name); err != nil {
		t.Fatal(err)
	}
	if err := a.e.Down(ctxT(t, time.Minute), a.name, true); err != nil {
		t.Fatal(err)
	}
	if !a.networkExists(a.net) {
		t.Error("Down removed the shared network while a stopped project still uses it")
	}
	if err := b.e.Start(ctxT(t, time.Minute), b.name); err != nil {
		t.Fatalf("Start after the other project's Down: %v", err)
	}
	if err := b.e.Down(ctxT(t, time.Minute), b.name, true); err != nil {
		t.Fatal(err)
	}
	if a.networkExists(a.net) {
		t.Error("the shared network outlived its last user")
	}
}

// TestPullPolicy: never uses the local image and refuses a missing one without trying; always pulls even a
// local image (here it fails: nothing can be pulled where StackHub is tested); missing pulls nothing local.
func TestPullPolicy(t *testing.T) {
	t.Parallel()
	img := dockertest.Image(t, "stackhub-test/web:v1")
	ctx := ctxT(t, 60*time.Second)
	pull := func(policy, image string) ([]string, error) {
		v := newEnv(t, "services:\n  app:\n    image: "+image+"\n    pull_policy: "+policy+"\n", nil, map[string]string{})
		var pr progress
		err := v.e.Pull(ctx, v.p, pr.fn)
		return pr.stages, err
	}
	for _, policy := range []string{"never", "missing", "if_not_present", "daily"} {
		if stages, err := pull(policy, img); err != nil || len(stages) != 0 {
			t.Errorf("pull_policy %s with the image here: %v, stages %v; want nothing done", policy, err, stages)
		}
	}
	stages, err := pull("never", "stackhub-test/missing:nope")
	if err == nil || !strings.Contains(err.Error(), "image stackhub-test/missing:nope is not on this server, and its pull_policy is never") {
		t.Errorf("never with a missing image: %v", err)
	}
	if len(stages) != 0 {
		t.Errorf("never tried a pull: %v", stages)
	}
	stages, err = pull("always", img)
	if err == nil || !strings.Contains(err.Error(), "pull "+img) || !slices.Contains(stages, "pull:") {
		t.Errorf("always with the image here: %v, stages %v; want a pull tried (and failed: no registry)", err, stages)
	}
}

// TestBuildHonoursDockerignore: on the real Engine, what the build context's .dockerignore excludes is not in the
// image (a pattern, a folder less an exception), and the install's .env never is.
func TestBuildHonoursDockerignore(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	v := newEnv(t, "services:\n  web:\n    build:\n      context: .\n", nil, map[string]string{
		"Dockerfile":    "FROM stackhub-test/web:v1\nCOPY . /ctx/\n",
		".dockerignore": "*.secret\nlogs/\n!logs/keep.log\n",
		"app.txt":       "unique to " + t.Name() + " " + t.TempDir(),
		"db.secret":     "s3cret",
		"logs/a.log":    "noise",
		"logs/keep.log": "kept",
	})
	img := v.p.Services["web"].Image
	t.Cleanup(func() { _, _ = v.cli.ImageRemove(context.Background(), img, client.ImageRemoveOptions{Force: true}) })
	if err := v.e.Pull(ctxT(t, time.Minute), v.p, nil); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(dockertest.Docker(t, "create", img))
	t.Cleanup(func() { dockertest.Docker(t, "rm", id) })
	tr := tar.NewReader(strings.NewReader(dockertest.Docker(t, "export", id)))
	var files []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if rel, ok := strings.CutPrefix(h.Name, "ctx/"); ok && h.Typeflag == tar.TypeReg {
			files = append(files, rel)
		}
	}
	slices.Sort(files)
	if got, want := strings.Join(files, " "), ".dockerignore Dockerfile app.txt docker-compose.yml logs/keep.log"; got != want {
		t.Errorf("the image holds %s\nwant %s", got, want)
	}
}

// Two installs of the same files share one built image. When the one whose containers use it goes down while
// the other is between its Pull (which found the image) and its Up, nothing uses the image and the Down removes
// it; the Up then builds it again rather than failing on a missing image. While an Up holds it, a Down leaves it.
func TestBuiltImageOutlivesAnotherDown(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	compose := `
services:
  web:
    build:
      context: .
    restart: unless-stopped
`
	files := func() map[string]string {
		return map[string]string{
			"Dockerfile": "FROM stackhub-test/web:v1\nCOPY data.txt /greeting/data.txt\n",
			"data.txt":   "unique to " + t.Name() + " " + t.TempDir(), // a build of its own, shared by both
		}
	}
	same := files()
	first := newEnv(t, compose, nil, same)
	second := newEnv(t, compose, nil, same)
	img := first.p.Services["web"].Image
	if !strings.HasPrefix(img, engine.BuildRepo+":") || second.p.Services["web"].Image != img {
		t.Fatalf("the build services' images are %q and %q, want one stackhub-build image", img, second.p.Services["web"].Image)
	}
	t.Cleanup(func() {
		_, _ = first.cli.ImageRemove(context.Background(), img, client.ImageRemoveOptions{Force: true})
	})
	exists := func() bool {
		_, err := first.cli.ImageInspect(ctxT(t, time.Minute), img)
		return err == nil
	}
	if err := first.e.Pull(ctxT(t, time.Minute), first.p, nil); err != nil || !exists() {
		t.Fatalf("Pull built nothing: %v", err)
	}
	first.up(nil)
	if err := second.e.Pull(ctxT(t, time.Minute), second.p, nil); err != nil {
		t.Fatal(err)
	}
	if err := first.e.Down(ctxT(t, time.Minute), first.name, false); err != nil {
		t.Fatal(err)
	}
	if exists() {
		t.Fatalf("the Down kept %s, which no container uses: this test no longer shows the race", img)
	}
	var pr progress
	if err := second.e.Up(ctxT(t, time.Minute), second.p, nil, pr.fn); err != nil {
		t.Fatalf("Up after the image went: %v", err)
	}
	if !slices.Contains(pr.stages, "build:web") {
		t.Errorf("Up did not build the image again: %v", pr.stages)
	}
	if st := service(second.status(), "web"); st.State != "running" {
		t.Errorf("web %+v", st)
	}
	// Held by an Up in progress, a built image survives a Down that would otherwise remove it.
	second.e.buildMu.Lock()
	second.e.holding[img]++
	second.e.buildMu.Unlock()
	if err := second.e.Down(ctxT(t, time.Minute), second.name, false); err != nil {
		t.Fatal(err)
	}
	if !exists() {
		t.Errorf("a Down removed %s while an Up held it", img)
	}
	second.e.buildMu.Lock()
	second.e.holding[img]--
	second.e.buildMu.Unlock()
	if err := second.e.Down(ctxT(t, time.Minute), second.name, false); err != nil {
		t.Fatal(err)
	}
	if exists() {
		t.Errorf("%s outlived the last install that built or used it", img)
	}
}

// A build of the same content by another project takes the tag; the image it replaced is untagged, and its own
// project's Down may never come (or not name it). Any Down removes such an image once no container uses it, and
// leaves the tagged build of another project alone.
func TestDownRemovesUntaggedBuilds(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	compose := "services:\n  web:\n    build:\n      context: .\n"
	same := map[string]string{
		"Dockerfile": "FROM stackhub-test/web:v1\nCOPY data.txt /greeting/data.txt\n",
		"data.txt":   "unique to " + t.Name() + " " + t.TempDir(),
	}
	first, second, other := newEnv(t, compose, nil, same), newEnv(t, compose, nil, same), newEnv(t, compose, nil, same)
	img := first.p.Services["web"].Image
	t.Cleanup(func() {
		_, _ = first.cli.ImageRemove(context.Background(), img, client.ImageRemoveOptions{Force: true})
	})
	idOf := func() string {
		in, err := first.cli.ImageInspect(ctxT(t, time.Minute), img)
		if err != nil {
			t.Fatalf("inspect %s: %v", img, err)
		}
		return in.ID
	}
	nop := func(engine.Progress) {}
	if err := first.e.build(ctxT(t, time.Minute), first.name, "web", first.p.Services["web"], nop); err != nil {
		t.Fatal(err)
	}
	replaced := idOf()
	// The tests of other packages share this engine, and their Downs rightly remove a superseded build: a stopped
	// container keeps this one until the test has staged what it needs, and goes before the last Down.
	keeper := strings.TrimSpace(dockertest.Docker(t, "create", replaced))
	kept := true
	t.Cleanup(func() {
		if kept {
			_, _ = first.cli.ContainerRemove(context.Background(), keeper, client.ContainerRemoveOptions{Force: true})
		}
	})
	if err := second.e.build(ctxT(t, time.Minute), second.name, "web", second.p.Services["web"], nop); err != nil {
		t.Fatal(err)
	}
	tagged := idOf()
	if tagged == replaced {
		t.Fatalf("the second build kept image %s (its label names its own project): this test no longer shows an untagged build", tagged)
	}
	exists := func(id string) bool {
		_, err := first.cli.ImageInspect(ctxT(t, time.Minute), id)
		return err == nil
	}
	down := func() {
		if err := other.e.Down(ctxT(t, time.Minute), other.name, false); err != nil {
			t.Fatal(err)
		}
	}
	// The newer build untagged while the older holds the tag is what a build in flight looks like, between the
	// daemon's commit and its tag (perhaps by another server on this engine): a Down leaves it.
	dockertest.Docker(t, "tag", replaced, img)
	down()
	if !exists(tagged) {
		t.Fatalf("a Down removed %s, untagged but newer than the image holding its tag (a build in flight)", tagged)
	}
	dockertest.Docker(t, "tag", tagged, img)
	dockertest.Docker(t, "rm", keeper)
	kept = false
	down()
	if exists(replaced) {
		t.Errorf("the untagged build %s outlived a Down", replaced)
	}
	if idOf() != tagged {
		t.Errorf("a Down of a third project removed or moved the second project's build")
	}
}
