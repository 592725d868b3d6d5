package docker

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// TestReplicas runs a service with deploy.replicas: 2 as Compose does: two containers named <project>-web-1 and
// -2 with their container numbers, each publishing its own random host port, both answering to the service name
// for a dependent service; status, logs, converge and Down cover both, and replicas: 0 runs none.
func TestReplicas(t *testing.T) {
	t.Parallel()
	img := dockertest.Image(t, "stackhub-test/web:v1")
	port := dockertest.FreePort(t)
	v := newEnv(t, `
services:
  web:
    image: `+img+`
    deploy:
      replicas: ${WEB_REPLICAS}
    ports: ["8080"]`+healthcheck+`
  front:
    image: `+img+`
    environment:
      APP_NAME: front
      DEPENDS_URL: http://web:8080/
    ports: ["127.0.0.1:${FRONT_PORT}:8080"]
    depends_on:
      web: {condition: service_healthy}
  off:
    image: `+img+`
    scale: 0
`, map[string]string{"WEB_REPLICAS": "2", "FRONT_PORT": strconv.Itoa(port)}, map[string]string{})
	ctx := ctxT(t, time.Minute)
	v.up(nil)

	st := v.status()
	var webs []engine.ServiceState
	for _, s := range st.Services {
		switch s.Service {
		case "web":
			webs = append(webs, s)
		case "off":
			t.Errorf("a service with replicas 0 runs %s", s.Container)
		}
	}
	if len(webs) != 2 {
		t.Fatalf("web runs %d containers, want 2: %+v", len(webs), st.Services)
	}
	got := map[int]bool{} // host ports the replicas publish
	for i, w := range webs {
		n := i + 1
		if w.Container != v.name+"-web-"+strconv.Itoa(n) || w.Number != n || w.Replicas != 2 || w.State != "running" ||
			w.Health != "healthy" {
			t.Errorf("replica %d: %+v", n, w)
			continue
		}
		in, err := v.cli.ContainerInspect(ctx, w.Container, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range hostPorts(in.Container.NetworkSettings.Ports) { // the ones Docker picked
			got[p] = true
		}
		if got := in.Container.Config.Labels[engine.LabelNumber]; got != strconv.Itoa(n) {
			t.Errorf("%s: %s = %q, want %d", w.Container, engine.LabelNumber, got, n)
		}
		if got := in.Container.Config.Labels[engine.LabelService]; got != "web" {
			t.Errorf("%s: %s = %q, want web", w.Container, engine.LabelService, got)
		}
	}
	if len(got) < 2 {
		t.Errorf("the replicas publish host ports %v, want a different one each", got)
	}
	if front := service(st, "front"); front.Container != v.name+"-front-1" || front.Replicas != 1 {
		t.Errorf("front %+v", front)
	}

	// The service name reaches both replicas: with either one stopped, front still gets an answer from web (the
	// engine's DNS answers only for running containers, so the other replica served it).
	dep := fmt.Sprintf("http://127.0.0.1:%d/dep", port)
	for _, n := range []string{"1", "2"} {
		c := v.name + "-web-" + n
		if _, err := v.cli.ContainerStop(ctx, c, client.ContainerStopOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := get(t, dep); got != "testapp v1\n" {
			t.Errorf("GET /dep with %s stopped = %q", c, got)
		}
		if _, err := v.cli.ContainerStart(ctx, c, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	v.waitStatus("every replica healthy again", time.Minute, func(st *engine.Status) bool {
		for _, s := range st.Services {
			if s.State != "running" || s.Service == "web" && s.Health != "healthy" {
				return false
			}
		}
		return len(st.Services) == 3
	})

	var logs bytes.Buffer
	// A long tail: the healthchecks log a line every 500 ms, and the restart above may be seconds ago.
	if err := v.e.Logs(ctx, v.name, 1000, false, &logs); err != nil {
		t.Fatalf("Logs: %v", err)
	}
	for _, prefix := range []string{"web-1 | listening on :8080", "web-2 | listening on :8080", "front | listening on :8080"} {
		if !strings.Contains(logs.String(), prefix) {
			t.Errorf("logs lack %q:\n%s", prefix, logs.String())
		}
	}

	// Converge: the same project changes nothing; one replica fewer recreates web with one container.
	if re, err := v.e.Converge(ctx, v.p, nil, nil); err != nil || len(re) != 0 {
		t.Fatalf("Converge(same) = %v, %v; want nothing recreated", re, err)
	}
	s := v.p.Services["web"]
	s.SetScale(1)
	v.p.Services["web"] = s
	if re, err := v.e.Converge(ctx, v.p, nil, nil); err != nil || !slices.Equal(re, []string{"web"}) {
		t.Fatalf("Converge(replicas 1) = %v, %v; want web recreated", re, err)
	}
	var names []string
	for _, s := range v.status().Services {
		if s.Service == "web" {
			names = append(names, s.Container)
		}
	}
	if !slices.Equal(names, []string{v.name + "-web-1"}) {
		t.Errorf("after scaling to 1, web runs %v", names)
	}

	if err := v.e.Down(ctx, v.name, true); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if ps := dockertest.Docker(t, "ps", "-a", "-q", "--filter", "label="+engine.LabelProject+"="+v.name); strings.TrimSpace(ps) != "" {
		t.Errorf("containers left after Down: %q", ps)
	}
}
