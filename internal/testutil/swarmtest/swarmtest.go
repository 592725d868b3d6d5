// Package swarmtest gives tests the two-node Docker Swarm of scripts/swarm.sh (scripts/testenv.sh starts it and
// exports STACKHUB_TEST_SWARM_*). Packages run their tests in parallel processes on the one Swarm: a test that
// only runs stacks takes it shared (Require); one that stops a node or changes a node's availability takes it
// alone (RequireExclusive), so it never pulls a node from under another package's test.
package swarmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// LockFile is the lock every test on the Swarm holds, shared or exclusive, while it runs.
const LockFile = "/tmp/stackhub-swarm.lock"

// Env is the test Swarm: node 1 is the manager (and leader), node 2 a worker.
type Env struct {
	Manager   string   // node 1's Docker host (unix://...)
	Worker    string   // node 2's Docker host
	Addrs     []string // the nodes' addresses, node 1 then node 2: host-mode ports answer there
	Hostnames []string // the nodes' hostnames, node 1 then node 2
	Image     string   // the test app image, on both nodes (see scripts/swarm.sh)
}

// Load reads the Swarm's variables; the error says how to get them.
func Load() (*Env, error) {
	e := &Env{Manager: os.Getenv("STACKHUB_TEST_SWARM_MANAGER"), Worker: os.Getenv("STACKHUB_TEST_SWARM_WORKER"),
		Addrs: strings.Split(os.Getenv("STACKHUB_TEST_SWARM_ADDRS"), ","), Image: os.Getenv("STACKHUB_TEST_SWARM_IMAGE"),
		Hostnames: strings.Split(os.Getenv("STACKHUB_TEST_SWARM_HOSTNAMES"), ",")}
	if e.Manager == "" || e.Worker == "" || len(e.Addrs) != 2 || len(e.Hostnames) != 2 || e.Image == "" {
		return nil, fmt.Errorf("the test Swarm is not set up (STACKHUB_TEST_SWARM_* unset): run scripts/testenv.sh " +
			"as root (it starts it with scripts/swarm.sh up) and load /tmp/stackhub-testenv.env")
	}
	return e, nil
}

// Require fails the test when the Swarm is not set up (in CI and locally alike, as Docker), and holds the Swarm
// shared until the test ends.
func Require(t testing.TB) *Env { return require(t, syscall.LOCK_SH) }

// RequireExclusive is Require for a test that disturbs the nodes: it waits until no other test holds the Swarm.
func RequireExclusive(t testing.TB) *Env { return require(t, syscall.LOCK_EX) }

func require(t testing.TB, how int) *Env {
	t.Helper()
	e, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(LockFile, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("open %s: %v", LockFile, err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		t.Fatalf("lock %s: %v", LockFile, err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
	return e
}

// StopNode stops node n's (1 or 2) dockerd and waits until it is gone; StartNode starts it again and waits until it
// answers (it rejoins the Swarm by itself). Only under RequireExclusive.
func StopNode(t testing.TB, n int) { harness(t, "stop-node", n) }

// StartNode: see StopNode.
func StartNode(t testing.TB, n int) { harness(t, "start-node", n) }

// StopNodeAwhile stops node n's engine and returns what starts it again; the test's cleanup starts it if the test
// has not (a failing test must not leave the shared Swarm a node short).
func StopNodeAwhile(t testing.TB, n int) (restart func()) {
	t.Helper()
	StopNode(t, n)
	var once sync.Once
	restart = func() { once.Do(func() { StartNode(t, n) }) }
	t.Cleanup(restart)
	return restart
}

func harness(t testing.TB, verb string, n int) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "swarm.sh")
	if out, err := exec.Command("bash", script, verb, fmt.Sprint(n)).CombinedOutput(); err != nil {
		t.Fatalf("swarm.sh %s %d: %v\n%s", verb, n, err, out)
	}
}
