package builtin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/engine/docker"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// standInParallel is how many templates run on the engine at once.
const standInParallel = 2

// Every built-in template's Compose structure runs on the real Docker Engine: its networks (the external
// W9_NETWORK), volumes, binds, environment, depends_on conditions, restart policies, container names and
// published ports, with the test app standing in for each upstream image under that image's name. Only what
// the stand-in cannot do is changed: commands are dropped, and healthchecks probe the test app.
func TestStandInImagesRunOnRealEngine(t *testing.T) {
	cli := dockertest.Require(t)
	ts, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })

	type run struct {
		key     string
		version string
		in      installed
	}
	var runs []run
	var images []string
	for _, tpl := range ts {
		project := dockertest.Project(t)
		version := tpl.Versions[0]
		in := install(t, tpl, version, project, project+"-net", func() int { return dockertest.FreePort(t) })
		for _, s := range in.project.Services {
			if !slices.Contains(images, s.Image) {
				images = append(images, s.Image)
			}
		}
		runs = append(runs, run{tpl.Key, version, in})
	}
	standInImages(t, cli, images)

	sem := make(chan struct{}, standInParallel)
	for _, r := range runs {
		t.Run(r.key, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			runStandIn(t, cli, eng, r.in)
		})
	}
}

// standInImages tags the test app image as each name for the test's duration. When the test ends it removes
// those tags, and gives a name that held a real image (say a developer's pulled redis:8.8) back to that image.
func standInImages(t *testing.T, cli *client.Client, names []string) {
	t.Helper()
	ctx := t.Context()
	original := map[string]string{} // name → the image it held before the test
	for _, name := range names {
		in, err := cli.ImageInspect(ctx, name)
		switch {
		case errdefs.IsNotFound(err):
		case err != nil:
			t.Fatalf("inspect %s: %v", name, err)
		case in.Config == nil || in.Config.Labels["io.stackhub.test"] != "testapp": // a stand-in left by a killed run is just removed
			original[name] = in.ID
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, name := range names {
			err := dockertest.Untag(ctx, name)
			if id, ok := original[name]; ok && err == nil {
				_, err = cli.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: name})
			}
			if err != nil {
				t.Errorf("restore image name %s: %v", name, err)
			}
		}
	})
	for _, name := range names {
		dockertest.Image(t, name)
	}
}

// runStandIn brings the installed project up with the stand-in, checks it, and takes it down when the test ends.
func runStandIn(t *testing.T, cli *client.Client, eng *docker.Engine, in installed) {
	p := in.project
	standIn(p)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := eng.Down(ctx, p.Name, true); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := eng.Up(ctx, p, map[string]string{"io.stackhub.test": "builtin"}, nil); err != nil {
		logs(t, eng, p.Name)
		t.Fatalf("up: %v", err)
	}

	// Every service runs, and is healthy where it has a healthcheck.
	var st *engine.Status
	for {
		var err error
		if st, err = eng.Status(ctx, p.Name); err != nil {
			t.Fatalf("status: %v", err)
		}
		if settled(p, st) || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(st.Services) != len(p.Services) {
		t.Errorf("status lists %d containers, the project has %d services", len(st.Services), len(p.Services))
	}
	for _, s := range st.Services {
		wantHealth := ""
		if hc := p.Services[s.Service].HealthCheck; hc != nil && len(hc.Test) > 0 {
			wantHealth = "healthy"
		}
		if s.State != "running" || s.Health != wantHealth {
			logs(t, eng, p.Name)
			t.Errorf("service %s: state %s, health %q; want running, health %q", s.Service, s.State, s.Health, wantHealth)
		}
	}

	for name, s := range p.Services {
		// Each container carries its name, Compose's project label and the network W9_NETWORK names.
		ct, err := cli.ContainerInspect(ctx, engine.ContainerName(p, name), client.ContainerInspectOptions{})
		if err != nil {
			t.Errorf("service %s: %v", name, err)
			continue
		}
		if got := ct.Container.Config.Labels[engine.LabelProject]; got != p.Name {
			t.Errorf("service %s: label %s=%q, want %q", name, engine.LabelProject, got, p.Name)
		}
		network := in.env["W9_NETWORK"]
		if _, ok := ct.Container.NetworkSettings.Networks[network]; !ok {
			t.Errorf("service %s is not on the network %s", name, network)
		}
		// The first published port reaches the stand-in through the template's own mapping.
		if len(s.Ports) > 0 {
			get(t, fmt.Sprintf("http://127.0.0.1:%s/", s.Ports[0].Published), "service "+name)
		}
	}

	vols, err := eng.Volumes(ctx, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != len(p.Volumes) {
		t.Errorf("volumes %v, the project declares %d", vols, len(p.Volumes))
	}
}

// standIn changes what the test app cannot do like the upstream image: it drops command and entrypoint
// overrides, serves on the container port of each service's first published port (8080 when none), and probes
// that port in place of each healthcheck.
func standIn(p *engine.Project) {
	for name, s := range p.Services {
		port := 8080
		if len(s.Ports) > 0 {
			port = int(s.Ports[0].Target)
		}
		s.Command, s.Entrypoint = nil, nil
		if s.Environment == nil {
			s.Environment = types.MappingWithEquals{}
		}
		v := strconv.Itoa(port)
		s.Environment["PORT"] = &v
		if hc := s.HealthCheck; hc != nil && !hc.Disable {
			interval, timeout, retries := types.Duration(500*time.Millisecond), types.Duration(2*time.Second), uint64(30)
			hc.Test = types.HealthCheckTest{"CMD", "/testapp", "check", fmt.Sprintf("http://127.0.0.1:%d/health", port)}
			hc.Interval, hc.Timeout, hc.Retries, hc.StartPeriod, hc.StartInterval = &interval, &timeout, &retries, nil, nil
		}
		p.Services[name] = s
	}
}

// settled reports whether every service of p runs, and those with a healthcheck are no longer starting.
func settled(p *engine.Project, st *engine.Status) bool {
	if len(st.Services) < len(p.Services) {
		return false
	}
	for _, s := range st.Services {
		if s.State != "running" || s.Health == "starting" {
			return false
		}
		if hc := p.Services[s.Service].HealthCheck; hc != nil && len(hc.Test) > 0 && s.Health == "" {
			return false
		}
	}
	return true
}

// get expects url to answer 200 with the test app's greeting (a minute guards against a hang).
func get(t *testing.T, url, what string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		res, err := c.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusOK && strings.HasPrefix(string(body), "testapp ") {
			return
		}
		last = fmt.Sprintf("%s: %q", res.Status, body)
	}
	t.Errorf("%s: GET %s: %s", what, url, last)
}

// logs reports the project's container logs, to explain a failure.
func logs(t *testing.T, eng *docker.Engine, project string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	if err := eng.Logs(ctx, project, 50, false, &b); err != nil {
		t.Logf("logs: %v", err)
	}
	t.Logf("logs of %s:\n%s", project, b.String())
}
