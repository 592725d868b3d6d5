package host_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// projectObjects lists the containers, networks or volumes ("ps -aq", "network ls -q", "volume ls -q") that
// carry a project's label.
func projectObjects(t *testing.T, kind, project string) []string {
	t.Helper()
	args := append(strings.Fields(kind), "--filter", "label=com.docker.compose.project="+project)
	return strings.Fields(dockertest.Docker(t, args...))
}

// publishApp creates the app "versioned" and publishes one version per stack; it returns the app id.
func publishApp(t *testing.T, s *tu.Server, stacks map[string]map[string]any) int64 {
	t.Helper()
	owner := s.NewUser("publisher")
	aid := s.Want(200, owner, "POST", "/app", map[string]any{"name": "Versioned", "package": "versioned"}).Int(t)
	for _, ver := range []string{"v1", "v2"} {
		if st, ok := stacks[ver]; ok {
			s.Want(201, owner, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": ver, "stack": st})
		}
	}
	return aid
}

// TestPurgeDeletesSnapshots: an uninstall without purge keeps the volumes and the upgrade snapshots (copies of
// them); with purge, nothing of the instance is left: no snapshot, no volume, no project directory, no row.
func TestPurgeDeletesSnapshots(t *testing.T) {
	t.Parallel()
	for _, tag := range []string{"v1", "v2"} {
		dockertest.Image(t, "stackhub-test/web:"+tag)
	}
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		lib := tu.NewLibrary(t)
		publishApp(t, s, map[string]map[string]any{"v1": stackFor(lib, "0"), "v2": stackFor(lib, "0")})
		c := client.New(s.URL, tu.AdminToken)
		ctx := t.Context()
		project, backups := s.Prefix+"-ver", filepath.Join(s.DataDir, "backups", "ver")
		installAndUpgrade := func() {
			t.Helper()
			if job := runJob(t, c, func() (*client.Job, error) {
				res, err := c.Install(ctx, client.InstallRequest{App: "versioned", Name: "ver", Version: "v1"})
				if err != nil {
					return nil, err
				}
				return res.Job, nil
			}); job.State != "succeeded" {
				t.Fatalf("install v1: %+v", job)
			}
			if job := runJob(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "ver", "v2") }); job.State != "succeeded" {
				t.Fatalf("upgrade to v2: %+v", job)
			}
		}
		gone := func(what string) {
			t.Helper()
			if _, err := s.Store.Q().Instance(ctx, "ver"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: the instance row is still there (%v)", what, err)
			}
			if left := projectObjects(t, "ps -aq", project); len(left) != 0 {
				t.Errorf("%s: containers left: %v", what, left)
			}
		}

		installAndUpgrade()
		if err := c.Uninstall(ctx, "ver", false); err != nil {
			t.Fatal(err)
		}
		gone("uninstall")
		if snaps, err := os.ReadDir(backups); err != nil || len(snaps) != 1 {
			t.Errorf("snapshots after an uninstall without purge: %v %v, want the one kept", snaps, err)
		}
		if v := projectObjects(t, "volume ls -q", project); len(v) != 1 {
			t.Errorf("volumes after an uninstall without purge: %v, want the data volume kept", v)
		}

		installAndUpgrade() // the same name again: a second snapshot joins the kept one
		r := s.Do(tu.Admin, "POST", "/uninstallApp", map[string]any{"appName": "ver", "purge": true})
		if r.Status != 200 || !strings.Contains(r.Text(), `"code":"1"`) {
			t.Fatalf("uninstallApp purge: %d %s", r.Status, r.Body)
		}
		gone("purge")
		if _, err := os.Stat(backups); !os.IsNotExist(err) {
			t.Errorf("the snapshots survived the purge: %v", err)
		}
		if _, err := os.Stat(filepath.Join(s.DataDir, "apps", "ver")); !os.IsNotExist(err) {
			t.Errorf("the project directory survived the purge: %v", err)
		}
		if v := projectObjects(t, "volume ls -q", project); len(v) != 0 {
			t.Errorf("volumes after the purge: %v", v)
		}
		if recs, err := s.Store.Q().Upgrades(ctx, "ver"); err != nil || len(recs) != 0 {
			t.Errorf("upgrade records after the purge: %+v %v", recs, err)
		}
	})
}

// TestUninstallOutlivesItsClient: a client that goes away in the middle of an uninstall (uninstallApp or
// DELETE /api/v1/installs/{name}) does not stop it: the containers and the instance row still go.
func TestUninstallOutlivesItsClient(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		lib := tu.NewLibrary(t)
		// The app ignores SIGTERM, so stopping it takes its whole grace period: the uninstall is surely still
		// under way when the client gives up.
		st := stackFor(lib, "0")
		compose := strings.Replace(tu.WebCompose, "restart: unless-stopped", "restart: unless-stopped\n    stop_grace_period: 5s", 1)
		st["compose"] = strings.Replace(compose, "DATA_DIR: /data", "DATA_DIR: /data\n      STOP_IGNORE: \"1\"", 1)
		publishApp(t, s, map[string]map[string]any{"v1": st})
		c := client.New(s.URL, tu.AdminToken)
		ctx := t.Context()
		for _, name := range []string{"one", "two"} {
			res, err := c.Install(ctx, client.InstallRequest{App: "versioned", Name: name})
			if err != nil {
				t.Fatal(err)
			}
			if job := runJob(t, c, func() (*client.Job, error) { return res.Job, nil }); job.State != "succeeded" {
				t.Fatalf("install %s: %+v", name, job)
			}
		}

		requests := map[string]*http.Request{}
		requests["one"], _ = http.NewRequest("POST", s.URL+"/uninstallApp?appName=one&token="+tu.AdminToken, nil)
		requests["two"], _ = http.NewRequest("DELETE", s.URL+"/api/v1/installs/two", nil)
		requests["two"].Header.Set("Authorization", "Bearer "+tu.AdminToken)
		for name, req := range requests {
			reqCtx, cancel := context.WithCancel(ctx)
			answered := make(chan error, 1)
			go func() {
				res, err := s.HTTP.Do(req.WithContext(reqCtx))
				if err == nil {
					res.Body.Close()
				}
				answered <- err
			}()
			waitInstance(t, s, name, func(inst *store.Instance, err error) bool {
				return err == nil && inst.State == store.StateUninstalling
			})
			cancel()
			if err := <-answered; !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: the request ended with %v before the client went away; nothing was tested", name, err)
			}
		}
		for name := range requests {
			waitInstance(t, s, name, func(inst *store.Instance, err error) bool {
				if err == nil && inst.State != store.StateUninstalling {
					t.Fatalf("%s: the uninstall was abandoned: state %s, %s", name, inst.State, inst.Cause)
				}
				return errors.Is(err, store.ErrNotFound)
			})
			if left := projectObjects(t, "ps -aq", s.Prefix+"-"+name); len(left) != 0 {
				t.Errorf("%s: containers left: %v", name, left)
			}
		}
	})
}

// waitInstance reads an instance's row until done says so, for at most a minute.
func waitInstance(t *testing.T, s *tu.Server, name string, done func(*store.Instance, error) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		inst, err := s.Store.Q().Instance(t.Context(), name)
		if done(inst, err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %+v, %v after a minute", name, inst, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
