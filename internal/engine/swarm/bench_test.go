package swarm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
	"github.com/stackhub/stackhub/internal/testutil/swarmtest"
)

// benchStack is one stack file for both sides: docker stack deploy reads it as it is, StackHub loads it as a
// Compose project. Host-mode port and dnsrr, since this Swarm has no routing mesh.
const benchStack = `services:
  web:
    image: %s
    ports:
      - target: 8080
        published: %d
        mode: host
    deploy:
      endpoint_mode: dnsrr
`

// BenchmarkSwarmInstall times, in the same run, a StackHub Swarm install of a one-service stack from Up's start
// until the app answers on its port, against `docker stack deploy` of the same stack file plus the wait for its
// port. Each side's stack is removed (untimed) before the next. Reports both medians and their ratio (goal ≤1.3).
//
//	go test -run '^$' -bench SwarmInstall -benchtime 10x ./internal/engine/swarm/
func BenchmarkSwarmInstall(b *testing.B) {
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	swarmtest.Require(b)
	e, err := New(Options{Host: manager})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	var ours, theirs []time.Duration
	for i := 0; i < b.N; i++ {
		port := dockertest.FreePort(b)
		dir := b.TempDir()
		file := filepath.Join(dir, engine.ComposeFile)
		if err := os.WriteFile(file, fmt.Appendf(nil, benchStack, appImage, port), 0o644); err != nil {
			b.Fatal(err)
		}

		name := benchName()
		p, err := engine.Load(ctx, name, dir)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := e.Up(ctx, p, nil, nil); err != nil {
			b.Fatal(err)
		}
		answer(b, port)
		ours = append(ours, time.Since(start))
		if err := e.Down(ctx, name, true); err != nil {
			b.Fatal(err)
		}

		name = benchName()
		start = time.Now()
		if out, err := exec.Command("docker", "-H", manager, "stack", "deploy", "--resolve-image", "never",
			"-c", file, name).CombinedOutput(); err != nil {
			b.Fatalf("docker stack deploy: %v\n%s", err, out)
		}
		answer(b, port)
		theirs = append(theirs, time.Since(start))
		if out, err := exec.Command("docker", "-H", manager, "stack", "rm", name).CombinedOutput(); err != nil {
			b.Fatalf("docker stack rm: %v\n%s", err, out)
		}
		if err := e.Down(ctx, name, true); err != nil { // waits until the stack's tasks and networks are gone
			b.Fatal(err)
		}
	}
	med := func(d []time.Duration) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[len(s)/2].Microseconds()) / 1000
	}
	b.ReportMetric(med(ours), "stackhub-ms")
	b.ReportMetric(med(theirs), "stack-deploy-ms")
	b.ReportMetric(med(ours)/med(theirs), "ratio")
}

func benchName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "shbench-" + hex.EncodeToString(b)
}

// answer waits until the app answers on port, on whichever node its task runs.
func answer(b *testing.B, port int) {
	b.Helper()
	c := http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, a := range addrs {
			if r, err := c.Get(fmt.Sprintf("http://%s:%d/", a, port)); err == nil {
				r.Body.Close()
				if r.StatusCode == http.StatusOK {
					return
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("nothing answered on port %d within a minute", port)
}
