// Command install measures StackHub's install overhead (see bench/README.md, "Install overhead").
//
// It builds the stackhub binary and the test app image (FROM scratch, nothing pulled), starts `stackhub serve`
// on loopback with a temp data dir, imports a Websoft9-layout template of the app with `stackhub catalog
// import`, then, alternating to spread drift evenly, times
//
//   - StackHub: POST /installApp {appName, appId} until GET /getAppInfo (polled every 20 ms) says status "1";
//   - the baseline: `docker run -d` of the same image with the same container config, until the same condition
//     a deployer would wait for (the port answers HTTP, or Docker says healthy when the image has a healthcheck);
//   - for information, the same container made through the Engine API (create + start, no CLI process).
//
// It reports medians, p90 and the ratio StackHub ÷ docker run (the target is under 1.3×), the install job's
// stages from GET /api/v1/jobs/{id}, and the teardown times. Everything it creates is removed at the end, also
// on failure or Ctrl-C.
//
// Run it from the module root: go run ./bench/install [-runs 10] [-variants plain,healthcheck] [-out FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stackhub/stackhub/bench/install/kit"
	"github.com/stackhub/stackhub/bench/internal/serve"
)

type options struct {
	runs, warmup int
	variants     []string
	poll         time.Duration
	timeout      time.Duration
	target       float64
	out          string
	keep         bool
	trace        bool
	stackhub     string
}

// variant is one app shape, measured both ways.
type variant struct {
	name, short, key, image string
	health                  bool
	shWaits, baseWaits      string
}

var variants = map[string]variant{
	"plain": {name: "plain", short: "plain", key: kit.KeyPlain, image: kit.ImagePlain,
		shWaits: `getAppInfo status "1": the container runs and GET / on the web port got an HTTP answer ` +
			`(StackHub's waitHealthy checks every 100 ms)`,
		baseWaits: "GET / on the published port gets an HTTP answer"},
	"healthcheck": {name: "healthcheck", short: "hc", key: kit.KeyHealth, image: kit.ImageHealth, health: true,
		shWaits: `getAppInfo status "1": Docker reports the container healthy ` +
			`(StackHub's waitHealthy checks every 100 ms)`,
		baseWaits: `Docker reports the container "healthy" (inspect)`},
}

func main() {
	var o options
	var vs string
	flag.IntVar(&o.runs, "runs", 10, "measured runs per arm and variant")
	flag.IntVar(&o.warmup, "warmup", 1, "unrecorded runs per arm and variant first")
	flag.StringVar(&vs, "variants", "plain,healthcheck", "app shapes to measure: plain (the target), healthcheck")
	flag.DurationVar(&o.poll, "poll", 20*time.Millisecond, "how often every waiter polls")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up on one install after this long")
	flag.Float64Var(&o.target, "target", 1.3, "the target ratio StackHub ÷ docker run (plain variant)")
	flag.StringVar(&o.out, "out", "", "also write the report to this file")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (binaries, data dir, server log)")
	flag.StringVar(&o.stackhub, "stackhub", "", "use this stackhub binary instead of building ./cmd/stackhub")
	flag.BoolVar(&o.trace, "trace", false, "log every HTTP probe of the apps, and every job event")
	flag.Parse()
	for _, v := range strings.Split(vs, ",") {
		if _, ok := variants[strings.TrimSpace(v)]; !ok {
			fmt.Fprintf(os.Stderr, "install: unknown variant %q (plain, healthcheck)\n", v)
			os.Exit(2)
		}
		o.variants = append(o.variants, strings.TrimSpace(v))
	}
	if o.runs < 1 {
		fmt.Fprintln(os.Stderr, "install: -runs must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }() // a second Ctrl-C kills at once
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "install:", err)
		os.Exit(1)
	}
}

var logf = kit.Logf

// bench is a run: the prepared Docker, network and server, and the options.
type bench struct {
	*kit.Bench
	o options
}

// shRun is one StackHub install.
type shRun struct {
	total, accepted, answered, uninstall time.Duration
	t0ms                                 int64
	events                               []kit.JobEvent
}

// baseRun is one container started without StackHub.
type baseRun struct {
	total, returned, answered, remove time.Duration
}

type results struct {
	v         variant
	sh        []shRun
	run, api  []baseRun
	order     []string
	loadAfter string
}

func run(ctx context.Context, o options) (err error) {
	kb, err := kit.Setup(ctx, kit.Options{Name: "installbench", Prefix: "shb", Stackhub: o.stackhub, Keep: o.keep})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := kb.Close(); err == nil {
			err = cerr
		}
	}()
	b := &bench{Bench: kb, o: o}
	header := append(kb.Header, fmt.Sprintf("runs: %d measured + %d warm-up per arm, polled every %s", o.runs, o.warmup, o.poll))
	var all []results
	for _, name := range o.variants {
		r, err := b.measure(ctx, variants[name])
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		all = append(all, r)
	}
	if err := b.Server.Alive(); err != nil {
		return err
	}
	// Tear down before the report, which says whether anything was left behind.
	b.Uninstall()
	report := render(header, all, o, b.Sweep())
	fmt.Print(report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			return err
		}
		logf("report written to %s", o.out)
	}
	return nil
}

// measure runs the warm-up, then the measured runs, alternating which arm goes first.
func (b *bench) measure(ctx context.Context, v variant) (results, error) {
	res := results{v: v}
	for i := 1; i <= b.o.warmup; i++ {
		logf("%s: warm-up %d", v.name, i)
		if _, err := b.stackhub(ctx, v, fmt.Sprintf("%s-warm%d", v.short, i)); err != nil {
			return res, err
		}
		if _, err := b.dockerRun(ctx, v, fmt.Sprintf("%s-base-%s-warm%d", b.Prefix, v.short, i)); err != nil {
			return res, err
		}
		if _, err := b.engineAPI(ctx, v, fmt.Sprintf("%s-api-%s-warm%d", b.Prefix, v.short, i)); err != nil {
			return res, err
		}
	}
	for i := 1; i <= b.o.runs; i++ {
		arms := []string{"stackhub", "docker run", "api"}
		if i%2 == 0 {
			slices.Reverse(arms)
		}
		res.order = append(res.order, strings.Join(arms, ", "))
		for _, arm := range arms {
			switch arm {
			case "stackhub":
				r, err := b.stackhub(ctx, v, fmt.Sprintf("%s-run%d", v.short, i))
				if err != nil {
					return res, err
				}
				res.sh = append(res.sh, r)
			case "docker run":
				r, err := b.dockerRun(ctx, v, fmt.Sprintf("%s-base-%s-run%d", b.Prefix, v.short, i))
				if err != nil {
					return res, err
				}
				res.run = append(res.run, r)
			case "api":
				r, err := b.engineAPI(ctx, v, fmt.Sprintf("%s-api-%s-run%d", b.Prefix, v.short, i))
				if err != nil {
					return res, err
				}
				res.api = append(res.api, r)
			}
		}
		n := len(res.sh) - 1
		logf("%s run %d: stackhub %s (app answered at %s), docker run %s, engine API %s", v.name, i,
			kit.Ms(res.sh[n].total), kit.Ms(res.sh[n].answered), kit.Ms(res.run[n].total), kit.Ms(res.api[n].total))
	}
	res.loadAfter = kit.LoadAvg()
	return res, nil
}

// poll calls ok every interval (the first time at once) until it is true, and returns the time since t0.
func poll(ctx context.Context, every time.Duration, limit time.Time, t0 time.Time, ok func() (bool, error)) (time.Duration, error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		done, err := ok()
		if err != nil {
			return 0, err
		}
		if done {
			return time.Since(t0), nil
		}
		if time.Now().After(limit) {
			return 0, kit.ErrTimeout
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// watchAnswer probes the port in the background; the channel gets the time since t0 of the first answer.
//
// Probing starts only once Docker reports the container running (container != "": polled through the API;
// "": already running). A probe sent earlier reaches docker-proxy, which tries the container's address before
// it is on the bridge; the host's failed neighbour (ARP) lookup is retried only after retrans_time (1 s), so
// every connection to the app — StackHub's own readiness check included — then stalls for up to a second.
// A client that probes early would measure its own disturbance.
//
// A probe starts every poll interval whether or not the earlier ones have finished, so one slow probe never
// hides the moment the app answers.
func (b *bench) watchAnswer(ctx context.Context, port, container string, t0 time.Time) <-chan time.Duration {
	ch := make(chan time.Duration, 1)
	go func() {
		defer close(ch)
		ctx, cancel := context.WithTimeout(ctx, b.o.timeout)
		defer cancel()
		if container != "" {
			if _, err := poll(ctx, b.o.poll, time.Now().Add(b.o.timeout), t0, func() (bool, error) {
				return kit.Running(ctx, b.Docker, container)
			}); err != nil {
				return
			}
		}
		won := make(chan time.Duration, 1)
		t := time.NewTicker(b.o.poll)
		defer t.Stop()
		for {
			go func() {
				start := time.Since(t0)
				err := kit.Probe(ctx, port)
				if b.o.trace && ctx.Err() == nil {
					logf("  probe :%s at %s took %s: %v", port, kit.Ms(start), kit.Ms(time.Since(t0)-start), err)
				}
				if err == nil {
					select {
					case won <- time.Since(t0):
					default:
					}
				}
			}()
			select {
			case d := <-won:
				ch <- d
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return ch
}

// answeredBy waits up to 5 s more for the background probe's result; 0 when the app never answered.
func answeredBy(ch <-chan time.Duration) time.Duration {
	select {
	case d := <-ch:
		return d
	case <-time.After(5 * time.Second):
		return 0
	}
}

func (b *bench) stackhub(ctx context.Context, v variant, name string) (r shRun, err error) {
	t0 := time.Now()
	r.t0ms = t0.UnixMilli()
	ins, err := b.Server.InstallApp(ctx, v.key, name)
	if err != nil {
		return r, err
	}
	r.accepted = time.Since(t0)
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		t := time.Now()
		uerr := b.Server.UninstallApp(uctx, name, true)
		r.uninstall = time.Since(t)
		if uerr != nil && err == nil {
			err = fmt.Errorf("uninstall %s: %w", name, uerr)
		}
	}()
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	answered := b.watchAnswer(actx, ins.Port, ins.Container, t0)
	r.total, err = poll(ctx, b.o.poll, t0.Add(b.o.timeout), t0, func() (bool, error) {
		in, err := b.Server.GetAppInfo(ctx, name)
		if err != nil {
			return false, err
		}
		if in.Status == "2" {
			return false, fmt.Errorf("install of %s failed: %s", name, in.Info)
		}
		return in.Status == "1", nil
	})
	if err != nil {
		_, evs, _ := b.Server.Job(context.WithoutCancel(ctx), ins.Job)
		return r, fmt.Errorf("stackhub install %s: %w\njob log: %+v\nserver log:\n%s", name, err, evs, b.Server.LogTail(15))
	}
	r.answered = answeredBy(answered)
	state, evs, err := b.Server.Job(ctx, ins.Job)
	if err != nil {
		return r, err
	}
	if state != "succeeded" {
		return r, fmt.Errorf("job %s of %s is %q after status 1", ins.Job, name, state)
	}
	r.events = evs
	if b.o.trace {
		for _, e := range evs {
			logf("  job %s +%d ms %s: %s", ins.Job, e.At-r.t0ms, e.Stage, e.Message)
		}
	}
	return r, nil
}

// waitBaseline waits for the variant's condition on a container started at t0 on port.
func (b *bench) waitBaseline(ctx context.Context, v variant, name string, port int, t0 time.Time) (total, answered time.Duration, err error) {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	ans := b.watchAnswer(actx, strconv.Itoa(port), "", t0)
	if !v.health {
		d, ok := <-ans
		if !ok {
			return 0, 0, fmt.Errorf("%s: port %d did not answer within %s", name, port, b.o.timeout)
		}
		return d, d, nil
	}
	total, err = poll(ctx, b.o.poll, t0.Add(b.o.timeout), t0, func() (bool, error) {
		h, err := kit.Health(ctx, b.Docker, name)
		if h == "unhealthy" {
			err = errors.New(name + " is unhealthy")
		}
		return h == "healthy", err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", name, err)
	}
	return total, answeredBy(ans), nil
}

func (b *bench) dockerRun(ctx context.Context, v variant, name string) (r baseRun, err error) {
	port, err := serve.FreePort()
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, "docker", "run", "-d", "--name", name, "--label", "io.stackhub.bench="+b.Prefix,
		"--network", b.Network, "--restart", "unless-stopped", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port),
		"-e", "APP_NAME=web", v.image).CombinedOutput()
	r.returned = time.Since(t0)
	defer func() {
		t := time.Now()
		rmOut, rmErr := exec.Command("docker", "rm", "-f", name).CombinedOutput()
		r.remove = time.Since(t)
		if rmErr != nil && err == nil {
			err = fmt.Errorf("docker rm -f %s: %v: %s", name, rmErr, rmOut)
		}
	}()
	if err != nil {
		return r, fmt.Errorf("docker run: %v: %s", err, out)
	}
	r.total, r.answered, err = b.waitBaseline(ctx, v, name, port, t0)
	return r, err
}

func (b *bench) engineAPI(ctx context.Context, v variant, name string) (r baseRun, err error) {
	port, err := serve.FreePort()
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	err = kit.RunAPI(ctx, b.Docker, name, b.Prefix, b.Network, v.image, port)
	r.returned = time.Since(t0)
	defer func() {
		t := time.Now()
		rmErr := kit.Remove(context.WithoutCancel(ctx), b.Docker, name)
		r.remove = time.Since(t)
		if rmErr != nil && err == nil {
			err = rmErr
		}
	}()
	if err != nil {
		return r, err
	}
	r.total, r.answered, err = b.waitBaseline(ctx, v, name, port, t0)
	return r, err
}
