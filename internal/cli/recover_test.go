package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/catalog"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// waitFor calls check until it reports done, for at most a minute; what it says last is the failure message.
func waitFor(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		done, state := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after a minute", what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// body answers GET url's body, or the error.
func body(url string) string {
	res, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return strings.TrimSpace(string(b))
}

// TestInterruptedUpgradeAndRollback: SIGKILL the server while an upgrade waits for the new version's health (the
// new containers already run), start it again, and the app is restored from the upgrade's snapshot: its old
// version runs with its data, the upgrade is recorded rolled back because of the restart. A rollback killed the
// same way is finished on the next start.
func TestInterruptedUpgradeAndRollback(t *testing.T) {
	t.Parallel()
	for _, tag := range []string{"v1", "v2", "v3"} {
		dockertest.Image(t, "stackhub-test/web:"+tag)
	}
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		lib := tu.NewLibrary(t)
		lib.Add(t, "web", tu.WebCompose, "READY_AFTER=6\n") // v1 is healthy 6 s after a start: a rollback to it waits
		dir, dsn := t.TempDir(), e.DSN(t)
		prefix := fmt.Sprintf("u%06x", rand.Uint32()&0xffffff)
		env := []string{"DOGETOK=" + cliToken}
		args := []string{"--data-dir", dir, "--database", dsn, "--prefix", prefix, "--health-timeout", "5m"}
		p := startServe(t, env, args...)
		t.Cleanup(func() { dockertest.Cleanup(t, prefix+"-site") })
		ctx := t.Context()
		c := client.New(p.url, cliToken)

		// v1 from the library; v2 published by the admin never becomes healthy, so its upgrade waits.
		ts, _, err := catalog.ReadWebsoft9(lib.Dir, false)
		if err != nil || len(ts) != 1 {
			t.Fatalf("read the library: %v %v", ts, err)
		}
		imported, err := c.ImportTemplate(ctx, ts[0])
		if err != nil {
			t.Fatal(err)
		}
		for ver, readyAfter := range map[string]string{"v2": "3600", "v3": "0"} {
			// v2 and v3 book a second port, which must go back when v1 is restored.
			env := fmt.Sprintf("W9_ID=web\nW9_VERSION=%s\nW9_DIST=community\nW9_NETWORK=%s\nW9_HTTP_PORT_SET=%d\nW9_ADMIN_PORT_SET=%d\nW9_POWER_PASSWORD=changeme\nREADY_AFTER=%s\n",
				ver, lib.Network, lib.BasePort, lib.BasePort+1, readyAfter)
			publish := fmt.Sprintf(`{"ver":%q,"stack":{"compose":%q,"env":%q}}`, ver, tu.WebCompose, env)
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/apps/%d/versions", p.url, imported.App), strings.NewReader(publish))
			req.Header.Set("Authorization", "Bearer "+cliToken)
			req.Header.Set("Content-Type", "application/json")
			if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 201 {
				t.Fatalf("publish %s: %v %v", ver, err, res)
			}
		}

		mustCLI(t, p.url, "app", "install", "web", "--id", "site", "--version", "v1")
		in, err := c.Instance(ctx, "site")
		if err != nil {
			t.Fatal(err)
		}
		base := "http://127.0.0.1:" + in.Port
		put, _ := http.NewRequest("PUT", base+"/data", strings.NewReader("precious"))
		if res, err := http.DefaultClient.Do(put); err != nil || res.StatusCode/100 != 2 {
			t.Fatalf("write data: %v %v", err, res)
		}

		// crash starts a job, waits until it is midway (the app answers want, the job still runs), kills the
		// server, starts it again and answers the job's upgrade record once it has settled.
		crash := func(start func() (*client.Job, error), want string) (*client.Job, map[string]any) {
			t.Helper()
			job, err := start()
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "job "+fmt.Sprint(job.ID)+" midway", func() (bool, string) {
				j, _, err := c.Job(ctx, job.ID)
				if err != nil {
					return false, err.Error()
				}
				if j.State != "running" {
					t.Fatalf("the job ended before the crash: %+v", j)
				}
				got := body(base + "/")
				return (j.Kind == "rollback" || j.Stage == "waiting") && got == want, "stage " + j.Stage + ", the app answers " + got
			})
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = p.wait()

			p = startServe(t, env, args...)
			c = client.New(p.url, cliToken)
			// The job ends after its upgrade record does (endUpgrade), so a settled job means a settled record.
			var j *client.Job
			var events []client.JobEvent
			waitFor(t, "the job settling", func() (bool, string) {
				var err error
				if j, events, err = c.Job(ctx, job.ID); err != nil {
					return false, err.Error()
				}
				return j.State != "running", fmt.Sprintf("%+v", j)
			})
			var recs []map[string]any
			getJSON(t, p.url+"/api/v1/installs/site/upgrades", &recs)
			if len(recs) == 0 {
				t.Fatal("no upgrade record")
			}
			rec := recs[0]
			if !slices.ContainsFunc(events, func(e client.JobEvent) bool {
				return strings.Contains(e.Message, "the server stopped during the "+j.Kind)
			}) {
				t.Errorf("job %d's log does not say the restart settled it: %+v", j.ID, events)
			}
			return j, rec
		}
		booked := func() string {
			var info struct{ Ports []struct{ Variable string } }
			getJSON(t, p.url+"/api/v1/installs/site", &info)
			var vars []string
			for _, b := range info.Ports {
				vars = append(vars, b.Variable)
			}
			slices.Sort(vars)
			return strings.Join(vars, ",")
		}
		runsV1 := func(when string) {
			t.Helper()
			if in, err := c.Instance(ctx, "site"); err != nil || in.Status != "1" || in.Version != "v1" {
				t.Errorf("%s: %+v %v", when, in, err)
			}
			if got := body(base + "/"); got != "web v1" {
				t.Errorf("%s the app answers %q", when, got)
			}
			if got := body(base + "/data"); got != "precious" {
				t.Errorf("data %s = %q", when, got)
			}
			if got := booked(); got != "W9_HTTP_PORT_SET" {
				t.Errorf("%s the instance books %s, want only v1's W9_HTTP_PORT_SET", when, got)
			}
		}

		j, rec := crash(func() (*client.Job, error) { return c.Upgrade(ctx, "site", "v2") }, "web v2")
		if rec["result"] != "rolled_back" || !strings.Contains(fmt.Sprint(rec["cause"]), "interrupted by a server restart") ||
			rec["snapshot"] == "" {
			t.Errorf("the interrupted upgrade's record: %v", rec)
		}
		if j.State != "failed" || !strings.Contains(j.Error, "runs v1 again") {
			t.Errorf("the interrupted upgrade's job: %+v", j)
		}
		runsV1("after the interrupted upgrade")

		// A rollback from v3 back to v1 is killed while v1 waits for its health, and finished after the restart.
		mustCLI(t, p.url, "app", "upgrade", "site", "--version", "v3")
		if got := body(base + "/data"); got != "precious" {
			t.Fatalf("data on v3 = %q", got)
		}
		if got := booked(); got != "W9_ADMIN_PORT_SET,W9_HTTP_PORT_SET" {
			t.Errorf("on v3 the instance books %s, want its admin port too", got)
		}
		j, rec = crash(func() (*client.Job, error) { return c.Rollback(ctx, "site") }, "web v1")
		if rec["result"] != "succeeded" || rec["to"] != "v1" || rec["snapshot"] == "" || j.State != "succeeded" {
			t.Errorf("the interrupted rollback: record %v, job %+v", rec, j)
		}
		runsV1("after the interrupted rollback")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Uninstall(ctx, "site", true); err != nil {
			t.Error(err)
		}
		p.stop(t)
	})
}
