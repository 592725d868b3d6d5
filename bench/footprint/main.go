// Command footprint measures what an idle `stackhub serve` costs (see bench/README.md, "Idle footprint"): its
// resident memory (VmRSS) and CPU over an idle window, first with no app installed, then with 20 instances of
// the test web app running. The targets: under 40 MB and under 1 % of a core, and no polling loop that grows
// with the number of apps (the CPU of dockerd and containerd over the same windows is reported as a witness:
// a loop that inspects every app would show up there too).
//
// It builds the stackhub binary and the test app image (nothing is pulled), starts serve on loopback with a
// temp data dir, imports the template with `stackhub catalog import`, and removes every app (uninstall with
// purge), the server and the network at the end, also on failure or Ctrl-C.
//
// Run it from the module root: go run ./bench/footprint [-apps 20] [-settle 10s] [-window 30s] [-out FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/stackhub/stackhub/bench/install/kit"
	"github.com/stackhub/stackhub/bench/internal/proc"
)

type options struct {
	apps           int
	settle, window time.Duration
	out, stackhub  string
	keep, restart  bool
	maxRSS         float64 // MB
	maxCPU         float64 // % of one core
}

func main() {
	var o options
	flag.IntVar(&o.apps, "apps", 20, "instances of the test app to install")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "idle time before each measurement window")
	flag.DurationVar(&o.window, "window", 30*time.Second, "length of each idle measurement window")
	flag.StringVar(&o.out, "out", "", "also write the report to this file")
	flag.StringVar(&o.stackhub, "stackhub", "", "use this stackhub binary instead of building ./cmd/stackhub")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (binaries, data dir, server log)")
	flag.BoolVar(&o.restart, "restart", true, "also measure the server started again on the same data dir, with its apps")
	flag.Float64Var(&o.maxRSS, "target-rss", 40, "target: idle RSS with all apps under this many MB (10^6 bytes)")
	flag.Float64Var(&o.maxCPU, "target-cpu", 1, "target: idle CPU with all apps under this % of one core")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }() // a second Ctrl-C kills at once
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "footprint:", err)
		os.Exit(1)
	}
}

var logf = kit.Logf

// sample is one idle window.
type sample struct {
	apps                     int
	rssEnd, rssMax, hwm      int64
	rssAnon, rssFile         int64 // at the end
	threads, fds             int
	cpu, dockerd, containerd time.Duration
	containerdProcs          int
	wakeups                  int64
	elapsed                  time.Duration
}

func (s sample) pct(d time.Duration) float64 { return float64(d) / float64(s.elapsed) * 100 }

func run(ctx context.Context, o options) (err error) {
	b, err := kit.Setup(ctx, kit.Options{Name: "footprint", Prefix: "shf", Stackhub: o.stackhub, Keep: o.keep})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.Close(); err == nil {
			err = cerr
		}
	}()
	srv := b.Server

	idle, err := measure(ctx, o, srv, 0)
	if err != nil {
		return err
	}
	logf("installing %d instances of %s", o.apps, kit.KeyPlain)
	t0 := time.Now()
	for i := 1; i <= o.apps; i++ {
		if _, err := srv.InstallApp(ctx, kit.KeyPlain, fmt.Sprintf("app%02d", i)); err != nil {
			return err
		}
	}
	if err := waitRunning(ctx, srv, o.apps); err != nil {
		return err
	}
	installAll := time.Since(t0)
	logf("all %d running after %s", o.apps, installAll.Round(time.Millisecond))
	full, err := measure(ctx, o, srv, o.apps)
	if err != nil {
		return err
	}
	// Still all running after the idle window?
	if err := waitRunning(ctx, srv, o.apps); err != nil {
		return err
	}
	var again *sample
	if o.restart {
		// A server after a reboot or an upgrade: it neither migrates nor seeds the catalog, and its apps run.
		logf("restarting stackhub serve on the same data dir")
		b.Server.Stop()
		ns, err := kit.StartServer(ctx, b.Server.Bin, b.Dir, b.Prefix)
		if err != nil {
			return err // the apps are swept by their prefix
		}
		b.Server, srv = ns, ns
		if err := waitRunning(ctx, srv, o.apps); err != nil {
			return err
		}
		s, err := measure(ctx, o, srv, o.apps)
		if err != nil {
			return err
		}
		again = &s
	}
	report := render(b.Header, o, idle, full, installAll, again)
	fmt.Print(report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			return err
		}
		logf("report written to %s", o.out)
	}
	return nil
}

// waitRunning polls getAllAppInfo until n instances report status "1"; any "2" fails.
func waitRunning(ctx context.Context, srv *kit.Server, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		ins, err := srv.GetAllAppInfo(ctx)
		if err != nil {
			return err
		}
		up := 0
		for _, in := range ins {
			switch in.Status {
			case "1":
				up++
			case "2":
				return fmt.Errorf("%s failed: %s", in.AppName, in.Info)
			}
		}
		if up == n && len(ins) == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d instances running after 5 minutes", up, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// measure lets the server sit idle for settle, then reads its CPU time (and dockerd's and containerd's) over
// window, with its RSS every second. Nothing talks to the server meanwhile.
func measure(ctx context.Context, o options, srv *kit.Server, apps int) (sample, error) {
	s := sample{apps: apps}
	pid := srv.PID()
	logf("%d apps: settling %s, then measuring %s of idle", apps, o.settle, o.window)
	select {
	case <-ctx.Done():
		return s, ctx.Err()
	case <-time.After(o.settle):
	}
	_, cpu0, err := proc.CPU(pid)
	if err != nil {
		return s, err
	}
	w0, err := wakeups(pid)
	if err != nil {
		return s, err
	}
	d0, c0 := proc.CPUByName(isDockerd), proc.CPUByName(isContainerd)
	t0 := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Since(t0) < o.window {
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-tick.C:
		}
		if err := srv.Alive(); err != nil {
			return s, err
		}
		m, err := proc.ReadStatus(pid)
		if err != nil {
			return s, err
		}
		s.rssMax = max(s.rssMax, m.RSS)
	}
	_, cpu1, err := proc.CPU(pid)
	if err != nil {
		return s, err
	}
	s.elapsed = time.Since(t0)
	s.cpu = cpu1 - cpu0
	w1, err := wakeups(pid)
	if err != nil {
		return s, err
	}
	s.wakeups = w1 - w0
	s.dockerd, _ = proc.CPUDelta(d0, proc.CPUByName(isDockerd))
	s.containerd, s.containerdProcs = proc.CPUDelta(c0, proc.CPUByName(isContainerd))
	m, err := proc.ReadStatus(pid)
	if err != nil {
		return s, err
	}
	s.rssEnd, s.hwm, s.threads, s.fds = m.RSS, m.HWM, m.Threads, proc.FDs(pid)
	s.rssAnon, s.rssFile = m.RSSAnon, m.RSSFile
	logf("%d apps: RSS %.1f MB, CPU %.2f %% of a core, %d context switches", apps, mb(s.rssEnd), s.pct(s.cpu), s.wakeups)
	return s, nil
}

func mb(b int64) float64  { return float64(b) / 1e6 }
func mib(b int64) float64 { return float64(b) / (1 << 20) }

func render(header []string, o options, idle, full sample, installAll time.Duration, again *sample) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# StackHub idle footprint — %s\n\n", time.Now().UTC().Format("2006-01-02 15:04:05 UTC"))
	for _, h := range header {
		fmt.Fprintf(&sb, "- %s\n", h)
	}
	fmt.Fprintf(&sb, "- `stackhub serve` (default settings, SQLite, log level info) on loopback; each window: %s of "+
		"idle after %s of settling, no request to the server during either\n", o.window, o.settle)
	fmt.Fprintf(&sb, "- apps: %d instances of the test web app (one container each, no healthcheck), requested one "+
		"after the other through POST /installApp (the install jobs overlap); all %d reported status \"1\" %s after the first request\n\n",
		o.apps, o.apps, installAll.Round(100*time.Millisecond))

	sb.WriteString("| | 0 apps | " + fmt.Sprint(full.apps) + " apps | target |\n|---|---|---|---|\n")
	rssOK := mb(full.rssEnd) < o.maxRSS
	cpuOK := full.pct(full.cpu) < o.maxCPU
	fmt.Fprintf(&sb, "| **RSS** (VmRSS at the end of the window) | %.1f MB (%.1f MiB) | **%.1f MB** (%.1f MiB) | < %.0f MB: %s |\n",
		mb(idle.rssEnd), mib(idle.rssEnd), mb(full.rssEnd), mib(full.rssEnd), o.maxRSS, verdict(rssOK))
	fmt.Fprintf(&sb, "| of which anonymous (heap, stacks, runtime) / file-backed (the binary's pages) | %.1f / %.1f MB | %.1f / %.1f MB | |\n",
		mb(idle.rssAnon), mb(idle.rssFile), mb(full.rssAnon), mb(full.rssFile))
	fmt.Fprintf(&sb, "| RSS, highest 1 s sample in the window | %.1f MB | %.1f MB | |\n", mb(idle.rssMax), mb(full.rssMax))
	fmt.Fprintf(&sb, "| peak RSS since start (VmHWM; the second column includes the %d installs) | %.1f MB | %.1f MB | |\n",
		full.apps, mb(idle.hwm), mb(full.hwm))
	fmt.Fprintf(&sb, "| **CPU** (utime+stime over the window) | %.3f %% of a core (%s) | **%.3f %%** of a core (%s) | < %.0f %%: %s |\n",
		idle.pct(idle.cpu), kit.Ms(idle.cpu), full.pct(full.cpu), kit.Ms(full.cpu), o.maxCPU, verdict(cpuOK))
	fmt.Fprintf(&sb, "| context switches of all its threads in the window (wake-ups) | %d (%.1f/s) | %d (%.1f/s) | flat: no per-app loop |\n",
		idle.wakeups, float64(idle.wakeups)/idle.elapsed.Seconds(), full.wakeups, float64(full.wakeups)/full.elapsed.Seconds())
	fmt.Fprintf(&sb, "| OS threads | %d | %d | |\n", idle.threads, full.threads)
	fmt.Fprintf(&sb, "| open file descriptors | %d | %d | |\n", idle.fds, full.fds)
	fmt.Fprintf(&sb, "| dockerd CPU over the same window | %.3f %% (%s) | %.3f %% (%s) | witness |\n",
		idle.pct(idle.dockerd), kit.Ms(idle.dockerd), full.pct(full.dockerd), kit.Ms(full.dockerd))
	fmt.Fprintf(&sb, "| containerd + shims CPU (%d / %d processes) | %.3f %% (%s) | %.3f %% (%s) | witness |\n",
		idle.containerdProcs, full.containerdProcs, idle.pct(idle.containerd), kit.Ms(idle.containerd),
		full.pct(full.containerd), kit.Ms(full.containerd))
	sb.WriteString("\nCPU time is reported in clock ticks of 10 ms, so over a 30 s window the resolution is 0.033 % of a " +
		"core. Context switches catch what is too cheap to show as CPU: any timer or polling loop wakes a thread, so a " +
		"loop over the apps (say, inspecting each one every few seconds) would add wake-ups, and Docker API calls, in " +
		"proportion to the number of apps. dockerd and containerd are the whole machine's daemons: other work using " +
		"Docker on the machine shows up there too, so they are a witness only when the machine is otherwise quiet. " +
		"Right after the installs the Go runtime returns the freed heap to the OS in the background (its scavenger), " +
		"which adds wake-ups for a while: a longer -settle (60s) shows the steady state.\n")
	growth := full.cpu - idle.cpu
	fmt.Fprintf(&sb, "\nStackHub's idle CPU with %d apps minus with 0: %s over %s.\n", full.apps, kit.Ms(growth),
		full.elapsed.Round(time.Second))
	if again != nil {
		fmt.Fprintf(&sb, "\nStarted again on the same data dir with its %d apps running (a reboot or an upgrade: no "+
			"migration, no catalog to seed; the targets above are for the first start): RSS %.1f MB (%.1f MiB), "+
			"anonymous / file-backed %.1f / %.1f MB, peak since that start %.1f MB, CPU %.3f %% of a core (%s), %d "+
			"context switches.\n", again.apps, mb(again.rssEnd), mib(again.rssEnd), mb(again.rssAnon), mb(again.rssFile),
			mb(again.hwm), again.pct(again.cpu), kit.Ms(again.cpu), again.wakeups)
	}
	return sb.String()
}

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}
