package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

const cliToken = "cli-test-admin-token-0123456789"

// runCLI runs the stackhub CLI (this test binary as main) against the server at url.
func runCLI(t *testing.T, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLIContext(t, context.Background(), url, args...)
}

// runCLIContext is runCLI, killing the CLI when ctx ends.
func runCLIContext(t *testing.T, ctx context.Context, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "STACKHUB_RUN_AS_MAIN=1", "STACKHUB_URL="+url, "DOGETOK="+cliToken)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

func mustCLI(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, url, args...)
	if code != 0 {
		t.Fatalf("stackhub %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+cliToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
}

func TestCLIAndCrashSafety(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		dockertest.Image(t, "stackhub-test/web:v1")
		lib := tu.NewLibrary(t)
		lib.Add(t, "web", tu.WebCompose, "READY_AFTER=0\n")
		lib.Add(t, "never", tu.WebCompose, "READY_AFTER=3600\n")
		dir, dsn := t.TempDir(), e.DSN(t)
		// A random prefix: the sqlite and postgres runs, and other test processes, must not share projects.
		prefix := fmt.Sprintf("c%06x", rand.Uint32()&0xffffff)
		env := []string{"DOGETOK=" + cliToken}
		args := []string{"--data-dir", dir, "--database", dsn, "--prefix", prefix, "--health-timeout", "2m"}
		p := startServe(t, env, args...)
		t.Cleanup(func() {
			for _, name := range []string{"site", "never"} {
				dockertest.Cleanup(t, prefix+"-"+name)
			}
		})

		out := mustCLI(t, p.url, "catalog", "import", lib.Dir)
		if !strings.Contains(out, "accepted web: new app") || !strings.Contains(out, "accepted never: new app") ||
			!strings.Contains(out, "2 accepted, 0 refused") {
			t.Errorf("first import:\n%s", out)
		}
		if out := mustCLI(t, p.url, "catalog", "import", lib.Dir); strings.Count(out, "unchanged") != 2 {
			t.Errorf("second import changed something:\n%s", out)
		}

		out = mustCLI(t, p.url, "app", "install", "web", "--id", "site")
		if !strings.Contains(out, "site is running") || !strings.Contains(out, "waiting") {
			t.Errorf("install output:\n%s", out)
		}
		if out := mustCLI(t, p.url, "app", "list"); !strings.Contains(out, "site") || !strings.Contains(out, "running") {
			t.Errorf("list:\n%s", out)
		}
		if out := mustCLI(t, p.url, "app", "logs", "site", "--tail", "20"); !strings.Contains(out, "listening") {
			t.Errorf("logs:\n%s", out)
		}
		mustCLI(t, p.url, "app", "stop", "site")
		if out := mustCLI(t, p.url, "app", "status", "site"); !strings.Contains(out, "not started (0)") || !strings.Contains(out, "stopped") {
			t.Errorf("status after stop:\n%s", out)
		}
		mustCLI(t, p.url, "app", "start", "site")
		mustCLI(t, p.url, "app", "restart", "site")
		out = mustCLI(t, p.url, "app", "status", "site", "--credentials")
		if !strings.Contains(out, "running (1)") || !strings.Contains(out, "W9_POWER_PASSWORD=") {
			t.Errorf("status after restart:\n%s", out)
		}
		if out := mustCLI(t, p.url, "server", "status"); !strings.Contains(out, "docker:") || !strings.Contains(out, "apps:    1") {
			t.Errorf("server status:\n%s", out)
		}
		// Errors: one line on stderr, a non-zero exit.
		for _, bad := range [][]string{{"app", "install", "nope"}, {"app", "status", "ghost"}, {"app", "install", "web", "--id", "A B"}} {
			_, errOut, code := runCLI(t, p.url, bad...)
			if code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "stackhub: ") {
				t.Errorf("stackhub %v: exit %d, stderr %q; want one line and a failure", bad, code, errOut)
			}
		}
		if _, errOut, code := runCLI(t, "http://127.0.0.1:1", "app", "list"); code == 0 || !strings.Contains(errOut, "cannot reach StackHub") {
			t.Errorf("unreachable server: exit %d, %q", code, errOut)
		}
		mustCLI(t, p.url, "app", "uninstall", "site", "--purge")

		// Crash safety: SIGKILL the server while an install waits for health, start it again, and the install is
		// rolled back with nothing left behind.
		req, _ := http.NewRequest("POST", p.url+"/installApp", strings.NewReader(`{"appName":"never"}`))
		req.Header.Set("Authorization", "Bearer "+cliToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var env1 struct {
			Code string            `json:"code"`
			Data map[string]string `json:"data"`
		}
		_ = json.NewDecoder(res.Body).Decode(&env1)
		res.Body.Close()
		if env1.Code != "1" {
			t.Fatalf("install never: %+v", env1)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			var j struct {
				Job struct{ Stage string } `json:"job"`
			}
			getJSON(t, p.url+"/api/v1/jobs/"+env1.Data["job"], &j)
			if j.Job.Stage == "waiting" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the install never reached the health wait (stage %q)", j.Job.Stage)
			}
			time.Sleep(100 * time.Millisecond)
		}
		project := prefix + "-never"
		if c := strings.Fields(dockertest.Docker(t, "ps", "-aq", "--filter", "label=com.docker.compose.project="+project)); len(c) != 1 {
			t.Fatalf("mid-install containers = %v, want 1", c)
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.wait()

		p = startServe(t, env, args...)
		var info struct {
			Code string            `json:"code"`
			Data map[string]string `json:"data"`
		}
		getJSON(t, p.url+"/getAppInfo?appName=never", &info)
		if info.Data["status"] != "2" || !strings.Contains(info.Data["info"], "interrupted by a server restart") || info.Data["port"] != "" {
			t.Errorf("after the crash: %+v", info)
		}
		for _, kind := range []string{"ps -aq", "network ls -q", "volume ls -q"} {
			args := append(strings.Fields(kind), "--filter", "label=com.docker.compose.project="+project)
			if left := strings.Fields(dockertest.Docker(t, args...)); len(left) != 0 {
				t.Errorf("%s after the crash: %v", kind, left)
			}
		}
		if _, err := os.Stat(dir + "/apps/never"); !os.IsNotExist(err) {
			t.Errorf("the project directory survived the rollback: %v", err)
		}
		mustCLI(t, p.url, "app", "uninstall", "never")
		p.stop(t)
	})
}
