package host_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/client"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

func httpGet(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return strings.TrimSpace(string(b))
}

// waitBody GETs url until it answers want, for a minute at most (a service with no healthcheck is only known to
// run, not to listen yet), and returns the last answer or error.
func waitBody(t *testing.T, url, want string) string {
	t.Helper()
	var got string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		res, err := http.Get(url)
		if err != nil {
			got = err.Error()
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if got = strings.TrimSpace(string(b)); got == want {
			break
		}
	}
	return got
}

// stackFor is the web stand-in's stack; extraEnv adds .env lines (a second *_PORT_SET is a port the version books).
func stackFor(lib *tu.Library, readyAfter string, extraEnv ...string) map[string]any {
	env := fmt.Sprintf("W9_ID=versioned\nW9_VERSION=v1\nW9_DIST=community\nW9_NETWORK=%s\nW9_HTTP_PORT_SET=%d\nW9_POWER_PASSWORD=changeme\nREADY_AFTER=%s\n",
		lib.Network, lib.BasePort, readyAfter) + strings.Join(extraEnv, "")
	return map[string]any{"compose": tu.WebCompose, "env": env, "requirements": map[string]any{"cpu": 0, "memory": 0, "disk": 0}}
}

func runJob(t *testing.T, c *client.Client, start func() (*client.Job, error)) *client.Job {
	t.Helper()
	job, err := start()
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.Follow(t.Context(), job.ID, func(client.JobEvent) {})
	if err != nil {
		t.Fatal(err)
	}
	return done
}

func TestPublishInstallUpgradeRollback(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		for _, tag := range []string{"v1", "v2", "v3"} {
			dockertest.Image(t, "stackhub-test/web:"+tag)
		}
		s := tu.StartServer(t, e, tu.Options{HealthTimeout: 10 * time.Second})
		lib := tu.NewLibrary(t)
		owner, other := s.NewUser("publisher"), s.NewUser("other")
		aid := s.Want(200, owner, "POST", "/app", map[string]any{"name": "Versioned", "package": "versioned"}).Int(t)
		publish := func(ver, readyAfter string, extraEnv ...string) {
			s.Want(201, owner, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": ver, "updates": "release " + ver,
				"stack": stackFor(lib, readyAfter, extraEnv...)})
		}
		adminPort := fmt.Sprintf("W9_ADMIN_PORT_SET=%d\n", lib.BasePort+1) // v2, v3 and v4 book a second port
		publish("v1", "0")
		publish("v2", "0", adminPort)
		publish("v3", "3600", adminPort) // never healthy
		publish("v4", "0", adminPort)    // its image exists nowhere
		var versions []map[string]any
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d/updates", aid), nil).JSON(t, &versions)
		if len(versions) != 4 || versions[0]["stack"] == nil {
			t.Fatalf("published versions = %v", versions)
		}
		var lines []map[string]any
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/timeline/%d?max=1", owner.UID), nil).JSON(t, &lines)
		if len(lines) != 1 || lines[0]["t"] != 6.0 {
			t.Errorf("publishing a version made timeline %v, want type 6", lines)
		}

		// Only the admin installs; only the owner changes stacks.
		if r := s.Do(owner, "POST", "/api/v1/installs", map[string]any{"app": "versioned"}); r.Status != 403 {
			t.Errorf("a user installing: %d %s", r.Status, r.Body)
		}
		s.Want(403, other, "PUT", fmt.Sprintf("/updates/%d/1", aid), map[string]any{"stack": stackFor(lib, "5")})

		c := client.New(s.URL, tu.AdminToken)
		ctx := t.Context()
		bookedVars := func() string {
			var info struct{ Ports []struct{ Variable string } }
			s.Want(200, tu.Admin, "GET", "/api/v1/installs/ver", nil).JSON(t, &info)
			var vars []string
			for _, p := range info.Ports {
				vars = append(vars, p.Variable)
			}
			slices.Sort(vars)
			return strings.Join(vars, ",")
		}
		res, err := c.Install(ctx, client.InstallRequest{App: "versioned", Name: "ver", Version: "v1"})
		if err != nil {
			t.Fatal(err)
		}
		if job := runJob(t, c, func() (*client.Job, error) { return res.Job, nil }); job.State != "succeeded" {
			t.Fatalf("install v1: %+v", job)
		}
		port := res.Instance.Port
		base := "http://127.0.0.1:" + port
		req, _ := http.NewRequest("PUT", base+"/data", strings.NewReader("precious"))
		if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode/100 != 2 {
			t.Fatalf("write data: %v %v", err, r)
		}
		if in, _ := c.Instance(ctx, "ver"); !in.UpdateAvailable || in.Latest != "v4" {
			t.Errorf("update available = %v, latest %q", in.UpdateAvailable, in.Latest)
		}

		start := time.Now()
		if job := runJob(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "ver", "v2") }); job.State != "succeeded" {
			t.Fatalf("upgrade to v2: %+v", job)
		}
		t.Logf("upgrade v1 → v2 took %s", time.Since(start))
		in, _ := c.Instance(ctx, "ver")
		if got := httpGet(t, base+"/"); got != "web v2" || in.Port != port || in.Version != "v2" {
			t.Errorf("after upgrade: %q on port %s (was %s), version %s", got, in.Port, port, in.Version)
		}
		if got := httpGet(t, base+"/data"); got != "precious" {
			t.Errorf("data after upgrade = %q", got)
		}
		if got := bookedVars(); got != "W9_ADMIN_PORT_SET,W9_HTTP_PORT_SET" {
			t.Errorf("after the upgrade to v2 the instance books %s, want its admin port too", got)
		}
		backups, _ := c.Backups(ctx, "ver")
		if len(backups) != 1 || backups[0].Version != "v1" || len(backups[0].Volumes) != 1 {
			t.Fatalf("backups = %+v", backups)
		}
		t.Logf("snapshot: %d bytes of data", backups[0].Size)

		start = time.Now()
		if job := runJob(t, c, func() (*client.Job, error) { return c.Rollback(ctx, "ver") }); job.State != "succeeded" {
			t.Fatalf("rollback: %+v", job)
		}
		t.Logf("rollback to v1 (snapshot restore) took %s", time.Since(start))
		if got := httpGet(t, base+"/"); got != "web v1" {
			t.Errorf("after rollback: %q", got)
		}
		if got := httpGet(t, base+"/data"); got != "precious" {
			t.Errorf("data after rollback = %q", got)
		}
		if got := bookedVars(); got != "W9_HTTP_PORT_SET" { // v1 has no admin port: the rollback gave it back
			t.Errorf("after the rollback to v1 the instance books %s, want only W9_HTTP_PORT_SET", got)
		}

		// v3 never becomes healthy: the upgrade restores v1 by itself and records why.
		job := runJob(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "ver", "v3") })
		if job.State != "failed" || !strings.Contains(job.Error, "did not become healthy") || !strings.Contains(job.Error, "runs v1 again") {
			t.Errorf("upgrade to v3: %+v", job)
		}
		if got := httpGet(t, base+"/"); got != "web v1" {
			t.Errorf("after a failed upgrade the app answers %q", got)
		}
		if got := httpGet(t, base+"/data"); got != "precious" {
			t.Errorf("data after the automatic rollback = %q", got)
		}
		// The port v3 booked went back with it.
		if got := bookedVars(); got != "W9_HTTP_PORT_SET" {
			t.Errorf("after the rolled-back upgrade the instance books %s, want only W9_HTTP_PORT_SET", got)
		}

		// v4's image is missing: the upgrade fails before it stops anything.
		before := dockertest.Docker(t, "inspect", "-f", "{{.Id}} {{.State.StartedAt}}", s.Prefix+"-ver")
		job = runJob(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "ver", "v4") })
		if job.State != "failed" || !strings.Contains(job.Error, "stackhub-test/web:v4") || !strings.Contains(job.Error, "nothing was changed") {
			t.Errorf("upgrade to v4: %+v", job)
		}
		if after := dockertest.Docker(t, "inspect", "-f", "{{.Id}} {{.State.StartedAt}}", s.Prefix+"-ver"); after != before {
			t.Errorf("the running container was touched: %s → %s", before, after)
		}
		in, _ = c.Instance(ctx, "ver")
		if in.Status != "1" || in.Version != "v1" {
			t.Errorf("after the refused upgrade: %+v", in)
		}
		if got := bookedVars(); got != "W9_HTTP_PORT_SET" {
			t.Errorf("after the refused upgrade the instance books %s, want only W9_HTTP_PORT_SET", got)
		}
		var hist []map[string]any
		s.Want(200, tu.Admin, "GET", "/api/v1/installs/ver/upgrades", nil).JSON(t, &hist)
		var results []string
		for _, h := range hist {
			results = append(results, fmt.Sprint(h["kind"], ":", h["to"], ":", h["result"]))
		}
		if got := strings.Join(results, " "); got != "upgrade:v4:failed upgrade:v3:rolled_back rollback:v1:succeeded upgrade:v2:succeeded" {
			t.Errorf("upgrade records = %s", got)
		}

		// Retention keeps the newest three snapshots. Snapshots are files, whatever the database, so the three
		// more upgrades this takes run on one engine only.
		if e.Name != "sqlite" {
			return
		}
		for _, v := range []string{"v2", "v1", "v2"} {
			if job := runJob(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "ver", v) }); job.State != "succeeded" {
				t.Fatalf("upgrade to %s: %+v", v, job)
			}
		}
		if backups, _ := c.Backups(ctx, "ver"); len(backups) != 3 {
			t.Errorf("snapshots kept = %d, want 3", len(backups))
		}
	})
}

func TestBadStacksAreRefused(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		lib := tu.NewLibrary(t)
		u := s.NewUser("publisher")
		aid := s.Want(200, u, "POST", "/app", map[string]any{"name": "Bad", "package": "bad"}).Int(t)
		good := stackFor(lib, "0")
		env := good["env"].(string)
		for name, tc := range map[string]struct {
			compose, env, mentions string
		}{
			"invalid YAML":      {"services:\n  web:\n    image: [unclosed\n", env, "line"},
			"required variable": {strings.Replace(tu.WebCompose, "DATA_DIR: /data", "DATA_DIR: ${NOWHERE:?set it}", 1), env, "NOWHERE"},
			"privileged":        {strings.Replace(tu.WebCompose, "restart: unless-stopped", "restart: unless-stopped\n    privileged: true", 1), env, "privileged"},
			"docker socket":     {strings.Replace(tu.WebCompose, "- data:/data", "- data:/data\n      - /var/run/docker.sock:/var/run/docker.sock", 1), env, "docker.sock"},
			"bind outside":      {strings.Replace(tu.WebCompose, "- data:/data", "- ../../etc:/host-etc", 1), env, "../../etc"},
			"oversize":          {tu.WebCompose + "\n# " + strings.Repeat("x", 1<<20) + "\n", env, "over the limit"},
		} {
			t.Run(name, func(t *testing.T) {
				r := s.Do(u, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": name,
					"stack": map[string]any{"compose": tc.compose, "env": tc.env}})
				if r.Status != 400 || !strings.Contains(r.Text(), tc.mentions) {
					t.Errorf("status %d %s; want 400 naming %q", r.Status, r.Body, tc.mentions)
				}
			})
		}
		if n := s.Want(200, tu.Anon, "GET", fmt.Sprintf("/updates/%d", aid), nil).Int(t); n != 0 {
			t.Errorf("refused stacks stored %d versions", n)
		}
		// The same rules apply through /api/v1; the admin may publish host access, which is then recorded.
		bad := map[string]any{"ver": "x", "stack": map[string]any{"compose": strings.Replace(tu.WebCompose, "restart: unless-stopped",
			"restart: unless-stopped\n    privileged: true", 1), "env": env}}
		if r := s.Do(u, "POST", fmt.Sprintf("/api/v1/apps/%d/versions", aid), bad); r.Status != 400 || !strings.Contains(r.Text(), "privileged") {
			t.Errorf("v1 publish of a privileged stack by a user: %d %s", r.Status, r.Body)
		}
		var v map[string]any
		s.Want(201, tu.Admin, "POST", fmt.Sprintf("/api/v1/apps/%d/versions", aid), bad).JSON(t, &v)
		if st, _ := v["stack"].(map[string]any); st == nil || st["host_access"] == nil {
			t.Errorf("admin-published privileged stack does not record host access: %v", v)
		}
	})
}
