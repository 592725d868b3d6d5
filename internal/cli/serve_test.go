package cli

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/swarmtest"
	"github.com/stackhub/stackhub/internal/testutil/testports"
)

// TestMain lets the test binary act as the stackhub command, so tests can run it as a real process.
func TestMain(m *testing.M) {
	if os.Getenv("STACKHUB_RUN_AS_MAIN") == "1" {
		root := Root()
		root.SetArgs(os.Args[1:])
		if err := root.Execute(); err != nil {
			fmt.Fprintln(os.Stderr, "stackhub:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// freeAddr is a loopback address on a port that stays this test process's (testports): a restarted server binds
// it again, and no client's source port, nor another test, takes it in between.
func freeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", testports.Port(t))
}

// syncBuffer is a bytes.Buffer the child process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	url            string
	ws             string // the GeekApk listener's address
	exited         chan struct{}
	err            error // how the process ended, once exited is closed
}

// wait waits for the process to end and returns how it ended.
func (p *proc) wait() error {
	<-p.exited
	return p.err
}

func startServe(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	addr := freeAddr(t)
	p := &proc{stdout: &syncBuffer{}, stderr: &syncBuffer{}, url: "http://" + addr, ws: freeAddr(t), exited: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], append([]string{"serve", "--listen", addr, "--ws-listen", p.ws}, args...)...)
	p.cmd.Env = append(append(os.Environ(), "STACKHUB_RUN_AS_MAIN=1", "DOGETOK="), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.wait() })
	deadline := time.After(time.Minute)
	for {
		res, err := http.Get(p.url + "/api/v1/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.exited: // a server that cannot start says why at once; no use waiting out the minute
			t.Fatalf("serve exited before it was healthy: %v\n%s", p.err, p.stderr)
		case <-deadline:
			t.Fatalf("server did not become healthy: %v\n%s", err, p.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if err := p.err; err != nil {
			t.Fatalf("serve exited with %v after SIGTERM\n%s", err, p.stderr)
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop within a minute of SIGTERM")
	}
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Errorf("no graceful shutdown in the log:\n%s", p.stderr)
	}
}

func TestServeGeneratesAdminTokenOnceAndStopsGracefully(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		dir := t.TempDir()
		dsn := e.DSN(t)
		p := startServe(t, nil, "--data-dir", dir, "--database", dsn)
		b, err := os.ReadFile(filepath.Join(dir, "admin-token"))
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimSpace(string(b))
		if len(token) < 32 || !strings.Contains(p.stdout.String(), token) {
			t.Errorf("token %q not printed on first start: %q", token, p.stdout)
		}
		if strings.Contains(p.stderr.String(), token) {
			t.Error("the admin token reached the log")
		}
		if fi, _ := os.Stat(filepath.Join(dir, "admin-token")); fi.Mode().Perm() != 0o600 {
			t.Errorf("admin-token mode = %v, want 0600", fi.Mode().Perm())
		}
		// The token works; migrations created app 0.
		req, _ := http.NewRequest("POST", p.url+"/doge/useradd", strings.NewReader(`{"simple_name":"first"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 201 {
			t.Fatalf("useradd with the generated token: %v %v", err, res.Status)
		}
		res.Body.Close()
		res, err = http.Get(p.url + "/app/0")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("app 0: %v %v", err, res)
		}
		res.Body.Close()
		p.stop(t)

		// Second start: same token, not printed again, data kept (migrations are idempotent).
		p = startServe(t, nil, "--data-dir", dir, "--database", dsn)
		if strings.Contains(p.stdout.String(), token) {
			t.Error("the token was printed again on the second start")
		}
		res, err = http.Get(p.url + "/user/1")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("user 1 after restart: %v %v", err, res)
		}
		res.Body.Close()
		p.stop(t)
	})
}

func TestServeRefusesBadSettings(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "serve", "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "STACKHUB_RUN_AS_MAIN=1", "WEBHOOKS=newUser:ftp://x")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "newUser:ftp://x") {
		t.Errorf("bad WEBHOOKS: err %v, output %q; want a failure naming the entry", err, out)
	}
}

// TestServeEngineSwarm: serve --engine swarm refuses to start on an engine that is no Swarm manager, naming the
// fix; on the test Swarm's manager (scripts/swarm.sh) it serves, and `stackhub node list` shows both nodes.
func TestServeEngineSwarm(t *testing.T) {
	cmd := exec.Command(os.Args[0], "serve", "--engine", "swarm", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0",
		"--ws-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "STACKHUB_RUN_AS_MAIN=1") // DOCKER_HOST is the main engine, in no Swarm
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--engine swarm needs DOCKER_HOST") || !strings.Contains(string(out), "docker swarm init") {
		t.Errorf("serve --engine swarm on a single engine: err %v, output %q; want a refusal naming the fix", err, out)
	}

	sw := swarmtest.Require(t)
	hostnames := sw.Hostnames
	p := startServe(t, []string{"DOGETOK=" + cliToken, "DOCKER_HOST=" + sw.Manager, "STACKHUB_ENGINE=swarm"}, "--data-dir", t.TempDir())
	list := mustCLI(t, p.url, "node", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], hostnames[0]) || !strings.Contains(lines[1], "manager (leader)") ||
		!strings.HasPrefix(lines[2], hostnames[1]) || !strings.Contains(lines[2], "worker") {
		t.Errorf("node list:\n%s\nwant the manager (leader) and the worker", list)
	}
	p.stop(t)
}
