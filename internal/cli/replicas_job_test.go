package cli

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// TestReplicaDiesMidInstall: an install runs on replica A (its app never becomes healthy, so the job waits); B,
// started meanwhile, leaves the job alone and follows it; A is killed (SIGKILL), and B rolls the install back with
// the restart recovery, leaving nothing behind.
func TestReplicaDiesMidInstall(t *testing.T) {
	t.Parallel()
	e := postgresEngine(t)
	dockertest.Image(t, "stackhub-test/web:v1")
	lib := tu.NewLibrary(t)
	lib.Add(t, "never", tu.WebCompose, "READY_AFTER=3600\n")
	dir, dsn := t.TempDir(), e.DSN(t)
	prefix := fmt.Sprintf("r%06x", rand.Uint32()&0xffffff)
	env := []string{"DOGETOK=" + cliToken}
	args := []string{"--data-dir", dir, "--database", dsn, "--prefix", prefix, "--health-timeout", "10m"}
	a := startServe(t, env, args...)
	project := prefix + "-never"
	t.Cleanup(func() { dockertest.Cleanup(t, project) })
	mustCLI(t, a.url, "catalog", "import", lib.Dir)

	req, _ := http.NewRequest("POST", a.url+"/installApp", strings.NewReader(`{"appName":"never"}`))
	req.Header.Set("Authorization", "Bearer "+cliToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var installed struct {
		Code string            `json:"code"`
		Data map[string]string `json:"data"`
	}
	_ = json.NewDecoder(res.Body).Decode(&installed)
	res.Body.Close()
	if installed.Code != "1" {
		t.Fatalf("install never: %+v", installed)
	}
	job := func(base string) (stage, state string) {
		var j struct {
			Job struct{ Stage, State string } `json:"job"`
		}
		getJSON(t, base+"/api/v1/jobs/"+installed.Data["job"], &j)
		return j.Job.Stage, j.Job.State
	}
	waitFor(t, "the install waits for health", func() (bool, string) {
		stage, _ := job(a.url)
		return stage == "waiting", stage
	})

	b := startServe(t, env, args...) // its start reconciles: it must leave A's running job alone
	if stage, state := job(b.url); stage != "waiting" || state != "running" {
		t.Fatalf("B's start touched A's job: stage %q, state %q", stage, state)
	}
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.wait()

	// B notices A's lease end (30 s) on its next takeover round (every 10 s): a deadline of two minutes.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, state := job(b.url); state != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B did not take over the install of the dead replica within two minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	var info struct {
		Data map[string]string `json:"data"`
	}
	getJSON(t, b.url+"/getAppInfo?appName=never", &info)
	if info.Data["status"] != "2" || !strings.Contains(info.Data["info"], "interrupted") {
		t.Errorf("after A died: %+v", info)
	}
	for _, kind := range []string{"ps -aq", "network ls -q"} {
		args := append(strings.Fields(kind), "--filter", "label=com.docker.compose.project="+project)
		if left := strings.Fields(dockertest.Docker(t, args...)); len(left) != 0 {
			t.Errorf("%s after the takeover: %v", kind, left)
		}
	}
	mustCLI(t, b.url, "app", "uninstall", "never")
	b.stop(t)
}
