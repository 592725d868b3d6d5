// Command hubprof profiles the real `stackhub serve` under load: it runs the server in-process (the same
// cli.Root as cmd/stackhub) on a database seeded by hubload, loads one path with a closed loop of keep-alive
// clients, and writes a CPU profile of the whole process (server and load; focus on the server with
// `go tool pprof -focus=ServeHTTP`). Not part of bench/run.sh: a tool for finding the next hot spot.
//
//	go run ./bench/hubload -database /tmp/b.db -seed-only
//	go run ./bench/hubprof -database /tmp/b.db -path '/app/%d' -duration 10s -out /tmp/app.prof
//	go tool pprof -top -focus=ServeHTTP /tmp/app.prof
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackhub/stackhub/bench/internal/serve"
	"github.com/stackhub/stackhub/internal/cli"
)

func main() {
	database := flag.String("database", "", "seeded SQLite path or postgres:// DSN (see hubload -seed-only)")
	path := flag.String("path", "/app/%d", "path to load; %d is replaced by a random app id in [1, -apps]")
	apps := flag.Int("apps", 10000, "app ids to draw from")
	clients := flag.Int("clients", 50, "concurrent keep-alive clients")
	warmup := flag.Duration("warmup", 2*time.Second, "unprofiled warm-up")
	duration := flag.Duration("duration", 10*time.Second, "profiled load")
	out := flag.String("out", "hubprof.prof", "CPU profile to write")
	flag.Parse()
	if *database == "" {
		log.Fatal("-database is required")
	}

	port, err := serve.FreePort()
	if err != nil {
		log.Fatal(err)
	}
	wsPort, err := serve.FreePort()
	if err != nil {
		log.Fatal(err)
	}
	listen, wsListen := fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", wsPort)
	dir, err := os.MkdirTemp("", "hubprof-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Setenv("DOGETOK", "hubprof-admin-token-0123456789")
	root := cli.Root()
	root.SetArgs([]string{"serve", "--listen", listen, "--ws-listen", wsListen, "--data-dir", filepath.Join(dir, "data"),
		"--database", *database})
	go func() {
		if err := root.Execute(); err != nil {
			log.Fatal(err)
		}
	}()
	base := "http://" + listen
	if err := serve.WaitHealthy(context.Background(), base, time.Minute); err != nil {
		log.Fatalf("stackhub serve: %v", err)
	}

	load(base, *path, *apps, *clients, *warmup)
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	n := load(base, *path, *apps, *clients, *duration)
	pprof.StopCPUProfile()
	f.Close()
	fmt.Printf("%s: %.0f req/s over %s; profile in %s\n", *path, float64(n)/duration.Seconds(), *duration, *out)
}

// load runs the closed loop for d and returns the number of 200 answers.
func load(base, path string, apps, clients int, d time.Duration) int64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			r := rand.New(rand.NewPCG(uint64(c), 7))
			for time.Now().Before(stop) {
				url := base + path
				if strings.Contains(path, "%d") {
					url = base + fmt.Sprintf(path, 1+r.IntN(apps))
				}
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
				resp, err := hc.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return n.Load()
}
