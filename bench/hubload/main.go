// Command hubload is StackHub's reproducible load benchmark (see bench/README.md).
//
// It seeds a fresh database through the store (10,000 users, 10,000 apps, 100,000 comments), builds and starts
// the real `stackhub serve` on loopback, measures its idle RSS and binary size, then loads GET /app/<aid>,
// GET /app/all?max=20 and GET /app/<aid>/comments?max=20 with 50 concurrent keep-alive clients, next to a
// baseline: a minimal net/http server (bench/baseline) answering a fixed JSON body the size of GET /app/<aid>.
// It prints a markdown report and writes it to -out.
//
// Run it from the module root: go run ./bench/hubload -database /tmp/bench.db
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stackhub/stackhub/bench/internal/dsn"
	"github.com/stackhub/stackhub/bench/internal/proc"
	"github.com/stackhub/stackhub/bench/internal/serve"
	"github.com/stackhub/stackhub/internal/store"
)

type options struct {
	database    string
	duration    time.Duration
	warmup      time.Duration
	clients     int
	seedOnly    bool
	skipSeed    bool
	out         string
	idleWait    time.Duration
	seedWorkers int
	batch       int
	keep        bool
	seed        uint64
	quietWait   time.Duration
	retries     int
}

func main() {
	var o options
	flag.StringVar(&o.database, "database", "", "SQLite path or postgres:// DSN of an EMPTY database (default: a fresh SQLite file in a temp dir)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured load time per endpoint")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unrecorded warm-up before each endpoint's measured window")
	flag.IntVar(&o.clients, "clients", 50, "concurrent clients (one keep-alive connection each)")
	flag.BoolVar(&o.seedOnly, "seed-only", false, "seed the database and stop")
	flag.BoolVar(&o.skipSeed, "skip-seed", false, "do not seed: load a database seeded by an earlier run")
	flag.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	flag.DurationVar(&o.idleWait, "idle-wait", 3*time.Second, "how long the server sits idle before its RSS is read")
	flag.IntVar(&o.seedWorkers, "seed-workers", 0, "concurrent seeding transactions (0: 1 on SQLite, 4 on PostgreSQL)")
	flag.IntVar(&o.batch, "batch", 1000, "rows per seeding transaction")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (binaries, server log, default SQLite file)")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed of the data set and of the request mix")
	flag.DurationVar(&o.quietWait, "quiet-wait", 30*time.Second, "before each endpoint, wait up to this long for other processes to leave the CPU idle")
	flag.IntVar(&o.retries, "retries", 2, "measure an endpoint again, up to this many times, when other processes disturbed its window")
	flag.Parse()
	if o.clients < 1 || o.duration <= 0 || o.batch < 1 {
		fmt.Fprintln(os.Stderr, "hubload: -clients, -duration and -batch must be positive")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "hubload:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func run(ctx context.Context, o options) error {
	root, err := serve.ModuleRoot(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "stackhub-hubload-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	if o.database == "" {
		o.database = filepath.Join(tmp, "bench.db")
	}
	st, err := store.Open(ctx, o.database)
	if err != nil {
		return err
	}
	engine := "SQLite"
	if st.Dialect() == store.Postgres {
		engine = "PostgreSQL"
	}
	if o.seedWorkers == 0 {
		o.seedWorkers = 1
		if engine == "PostgreSQL" {
			o.seedWorkers = 4
		}
	}
	rep := &report{Engine: engine, Database: dsn.Redact(o.database), Opts: o, CPUs: runtime.NumCPU()}

	// 1. Seed.
	if !o.skipSeed {
		empty, err := isEmpty(ctx, st)
		if err != nil {
			st.Close()
			return err
		}
		if !empty {
			st.Close()
			return fmt.Errorf("%s already holds apps: give a fresh database, or -skip-seed to reuse it", rep.Database)
		}
		logf("seeding %s (%d workers, %d rows per transaction)", rep.Database, o.seedWorkers, o.batch)
		cfg := seedConfig{Users: 10_000, Apps: 10_000, Comments: 100_000, Batch: o.batch, Workers: o.seedWorkers, Seed: o.seed}
		rep.Seed, err = seed(ctx, st, cfg, logf)
		if err != nil {
			st.Close()
			return err
		}
		if engine == "PostgreSQL" {
			t := time.Now()
			if err := vacuumPostgres(ctx, o.database); err != nil {
				st.Close()
				return fmt.Errorf("vacuum: %w", err)
			}
			rep.Seed.Vacuum = time.Since(t)
		}
		rep.Seeded = true
		logf("seeded in %s", rep.Seed.Total.Round(time.Millisecond))
	}
	appIDs, hot, err := seededApps(ctx, st)
	if err == nil {
		err = checkCounters(ctx, st, appIDs, hot.ID, o.seed)
	}
	st.Close()
	if err != nil {
		return err
	}
	rep.Apps, rep.HotApp, rep.HotComments = len(appIDs), hot.ID, hot.CommentsNum
	logf("%d apps; app %d has the most comments (%d); counters check out", len(appIDs), hot.ID, hot.CommentsNum)
	if o.seedOnly {
		return rep.emit(o.out)
	}

	// 2. Build, start, idle RSS.
	bin := filepath.Join(tmp, "stackhub")
	stripped := filepath.Join(tmp, "stackhub-stripped")
	baseBin := filepath.Join(tmp, "baseline")
	logf("building ./cmd/stackhub (plain and -ldflags=\"-s -w\") and ./bench/baseline, CGO_ENABLED=0 as `make build`")
	for _, b := range []struct {
		out, pkg string
		flags    []string
	}{
		{bin, "./cmd/stackhub", nil},
		{stripped, "./cmd/stackhub", []string{"-ldflags=-s -w"}},
		{baseBin, "./bench/baseline", nil},
	} {
		if err := serve.GoBuild(ctx, root, b.out, b.pkg, b.flags...); err != nil {
			return err
		}
	}
	if rep.BinSize, err = fileSize(bin); err != nil {
		return err
	}
	if rep.StrippedSize, err = fileSize(stripped); err != nil {
		return err
	}

	srv, err := serve.Start(ctx, serve.Config{Bin: bin, Dir: tmp, Args: []string{"--database", o.database}})
	if err != nil {
		return err
	}
	defer srv.Stop()
	logf("stackhub serve pid %d on %s; idle %s before reading its RSS", srv.PID(), srv.Base, o.idleWait)
	if !sleepUntil(ctx, time.Now().Add(o.idleWait)) {
		return ctx.Err()
	}
	if m, err := proc.ReadStatus(srv.PID()); err != nil {
		logf("idle RSS: %v", err)
	} else {
		rep.IdleRSS = m.RSS
	}

	// 3. The baseline answers a body the size of a real GET /app/<aid>.
	body, err := probe(ctx, fmt.Sprintf("%s/app/%d", srv.Base, appIDs[0]))
	if err != nil {
		return err
	}
	rep.BaselineBytes = len(body)
	base, err := startBaseline(ctx, baseBin, len(body))
	if err != nil {
		return err
	}
	defer base.Stop()
	if b, err := probe(ctx, base.Base+"/"); err != nil || len(b) != len(body) {
		return fmt.Errorf("baseline probe: %d bytes, %v", len(b), err)
	}
	for _, p := range []string{"/app/all?max=20", fmt.Sprintf("/app/%d/comments?max=20", hot.ID)} {
		if _, err := probe(ctx, srv.Base+p); err != nil {
			return err
		}
	}

	// 4. Load.
	randApp := func(r *mrand.Rand) int64 { return appIDs[r.IntN(len(appIDs))] }
	spid, bpid := srv.PID(), base.PID()
	targets := []target{
		{Name: "baseline (before)", PID: bpid, URL: func(*mrand.Rand) string { return base.Base + "/" }},
		{Name: "GET /app/<aid>", PID: spid, URL: func(r *mrand.Rand) string {
			return srv.Base + "/app/" + strconv.FormatInt(randApp(r), 10)
		}},
		{Name: "GET /app/all?max=20", PID: spid, URL: func(*mrand.Rand) string { return srv.Base + "/app/all?max=20" }},
		{Name: "GET /app/<aid>/comments?max=20", PID: spid, URL: func(r *mrand.Rand) string {
			return srv.Base + "/app/" + strconv.FormatInt(randApp(r), 10) + "/comments?max=20"
		}},
		{Name: fmt.Sprintf("GET /app/%d/comments?max=20 (hottest app)", hot.ID), PID: spid, URL: func(*mrand.Rand) string {
			return srv.Base + "/app/" + strconv.FormatInt(hot.ID, 10) + "/comments?max=20"
		}},
		{Name: "baseline (after)", PID: bpid, URL: func(*mrand.Rand) string { return base.Base + "/" }},
	}
	cfg := loadConfig{Clients: o.clients, Warmup: o.warmup, Window: o.duration, Timeout: 5 * time.Second, Seed: o.seed,
		DB: engine == "PostgreSQL"}
	for _, t := range targets {
		// A window disturbed by other processes is measured again (after waiting for quiet), up to -retries
		// times; the least disturbed attempt is kept, and the report flags it if it was still noisy.
		var best loadResult
		for attempt := 0; attempt <= o.retries; attempt++ {
			if err := waitQuiet(ctx, o.quietWait); err != nil {
				return err
			}
			logf("load %s: %d clients, %s warm-up + %s", t.Name, o.clients, o.warmup, o.duration)
			res := runLoad(ctx, t, cfg)
			if err := ctx.Err(); err != nil {
				return err
			}
			logf("  %.0f req/s, p50 %s, p99 %s, %d errors, other processes %.2f cores", res.RPS, ms(res.P50),
				ms(res.P99), res.Errors, res.OtherCores())
			if attempt == 0 || res.OtherCores() < best.OtherCores() {
				best = res
			}
			if !best.Noisy() {
				break
			}
			if attempt < o.retries {
				logf("  disturbed by other processes: measuring again")
			}
		}
		rep.Results = append(rep.Results, best)
	}
	if m, err := proc.ReadStatus(spid); err != nil {
		logf("peak RSS: %v", err)
	} else {
		rep.PeakRSS = m.HWM
	}
	if err := srv.Alive(); err != nil {
		return err
	}
	return rep.emit(o.out)
}

// waitQuiet waits, up to limit, until the machine is idle (below noiseCores of busy CPU over a second): between
// endpoints, the server and the baseline idle, so whatever runs then is someone else's work that would skew the
// next measurement. After limit it goes on regardless; the report flags the noise.
func waitQuiet(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for said := false; ; {
		c0, ok := cpuTimes(os.Getpid(), false)
		if !sleepUntil(ctx, time.Now().Add(time.Second)) {
			return ctx.Err()
		}
		c1, ok1 := cpuTimes(os.Getpid(), false)
		if !ok || !ok1 {
			return nil
		}
		busy := (c1.Machine - c0.Machine).Seconds()
		if busy <= noiseCores {
			return nil
		}
		if time.Now().After(deadline) {
			logf("  the machine is still busy (%.2f cores used by other processes); measuring anyway", busy)
			return nil
		}
		if !said {
			logf("  waiting for other processes to leave the CPU idle (%.2f cores busy)", busy)
			said = true
		}
	}
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// startBaseline runs bench/baseline and reads the address it prints.
func startBaseline(ctx context.Context, bin string, size int) (*serve.Proc, error) {
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-size", strconv.Itoa(size))
	cmd.Stderr = os.Stderr
	// A plain pipe rather than StdoutPipe: Wait (in serve.Watch) must not close it under the reader.
	stdout, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = w
	serve.DieWithParent(cmd, syscall.SIGKILL)
	err = cmd.Start()
	w.Close()
	if err != nil {
		stdout.Close()
		return nil, fmt.Errorf("start baseline: %w", err)
	}
	c := serve.Watch(cmd, "baseline")
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() { // keep draining so the child never blocks on a full pipe
		}
		stdout.Close()
	}()
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, "listening ")
		if !ok || !found {
			c.Stop()
			return nil, fmt.Errorf("baseline: unexpected first line %q", line)
		}
		c.Base = "http://" + addr
		return c, nil
	case <-time.After(10 * time.Second):
		c.Stop()
		return nil, errors.New("baseline: no address within 10 s")
	case <-ctx.Done():
		c.Stop()
		return nil, ctx.Err()
	}
}
