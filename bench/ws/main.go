// Command ws is StackHub's WebSocket benchmark (see bench/ws/README.md). It seeds users straight into a fresh
// SQLite database, starts the real `stackhub serve`, opens -conns authenticated GeekApk connections (?push=1) on
// loopback and reports the server's RSS per connection, DM latency at -rate messages a second, and how long one
// event takes to reach -conns event-stream connections.
//
// Run it through bench/ws/run.sh, which raises the file limit; or from the module root:
// go run ./bench/ws -conns 1000
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stackhub/stackhub/bench/internal/proc"
	"github.com/stackhub/stackhub/bench/internal/serve"
)

type options struct {
	conns    int
	rate     int
	duration time.Duration
	warmup   time.Duration
	rounds   int
	parallel int
	settle   time.Duration
	keep     bool
	out      string
}

func main() {
	var o options
	flag.IntVar(&o.conns, "conns", 10_000, "authenticated GeekApk connections, and event-stream connections")
	flag.IntVar(&o.rate, "rate", 1000, "DMs per second")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured DM time")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "DMs sent before the measured window, not recorded")
	flag.IntVar(&o.rounds, "rounds", 5, "fan-out rounds (one event each)")
	flag.IntVar(&o.parallel, "parallel", 64, "connections being opened at once")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "idle time before each RSS reading")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (binary, database, server log)")
	flag.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The whole run is bounded: whatever happens, it ends.
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "ws:", err)
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
	tmp, err := os.MkdirTemp("", "stackhub-ws-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := filepath.Join(tmp, "stackhub")
	logf("building ./cmd/stackhub")
	if err := serve.GoBuild(ctx, root, bin, "./cmd/stackhub"); err != nil {
		return err
	}
	dsn := filepath.Join(tmp, "bench.db")
	t := time.Now()
	users, app, err := seed(ctx, dsn, o.conns)
	if err != nil {
		return err
	}
	logf("seeded %d users in %s", len(users), time.Since(t).Round(time.Millisecond))
	srv, err := serve.Start(ctx, serve.Config{Bin: bin, Dir: tmp, Args: []string{"--database", dsn, "--log-level", "warn"}})
	if err != nil {
		return err
	}
	defer srv.Stop()
	rep := &report{opts: o}
	if err := measure(ctx, o, srv, users, app, rep); err != nil {
		return err
	}
	if err := srv.Alive(); err != nil {
		return err
	}
	return rep.emit(o.out)
}

// measure runs the three measurements against a running server.
func measure(ctx context.Context, o options, srv *serve.Proc, users []benchUser, app int64, rep *report) error {
	rss := func() (int64, error) {
		m, err := proc.ReadStatus(srv.PID())
		return m.RSS, err
	}
	sleep(ctx, o.settle)
	var err error
	if rep.idleRSS, err = rss(); err != nil {
		return err
	}
	// 1. Connections and memory.
	dm := &dmRun{base: time.Now()}
	urls := make([]string, len(users))
	uids := make([]int64, len(users))
	for i, u := range users {
		urls[i] = fmt.Sprintf("%s/%d/%s?push=1", srv.WS, u.UID, u.Passhash)
		uids[i] = u.UID
	}
	t := time.Now()
	geek, err := dialAll(ctx, urls, nil, o.parallel, dm.onMsg)
	if err != nil {
		return err
	}
	defer geek.close()
	rep.connectTime = time.Since(t)
	logf("%d GeekApk connections open in %s (server holds %d file descriptors)", len(urls),
		rep.connectTime.Round(time.Millisecond), proc.FDs(srv.PID()))
	probe, err := dialAll(ctx, []string{srv.WS + "/"}, nil, 1, func(int, []byte) {})
	if err != nil {
		return err
	}
	defer probe.close()
	sleep(ctx, o.settle)
	if rep.connRSS, err = rss(); err != nil {
		return err
	}
	logf("RSS idle %s, with %d connections %s: %.1f KiB per connection", mib(rep.idleRSS), len(urls),
		mib(rep.connRSS), float64(rep.connRSS-rep.idleRSS)/float64(len(urls))/1024)

	// 2. DM latency, open loop.
	total := o.rate * int((o.warmup + o.duration).Seconds())
	dm.lat = make([]atomic.Int64, total)
	logf("DMs: %d/s for %s (+%s warm-up)", o.rate, o.duration, o.warmup)
	if rep.dmRate, err = dm.send(ctx, geek.conns, uids, o.rate); err != nil {
		return err
	}
	sleep(ctx, time.Second) // the last ones arrive
	warm := o.rate * int(o.warmup.Seconds())
	rep.dm = summarize(dm.lat[warm:])
	rep.dmLost = int64(total) - dm.received.Load()
	logf("DM latency p50 %s p99 %s max %s; %d lost", ms(rep.dm.p50), ms(rep.dm.p99), ms(rep.dm.max), rep.dmLost)

	// 3. Fan-out of one event to as many event-stream connections, each authenticated as its user. The GeekApk
	// connections close first: both sets at once would pass the file limit of this container (20,000 per process).
	geek.close()
	sleep(ctx, o.settle) // each user leaving writes their online_at; let that finish
	f := &fanout{base: time.Now(), at: make([][]atomic.Int64, o.rounds)}
	for r := range f.at {
		f.at[r] = make([]atomic.Int64, len(users))
	}
	streamURL := "ws" + strings.TrimPrefix(srv.Base, "http") + "/api/v1/events"
	surls := make([]string, len(users))
	for i := range surls {
		surls[i] = streamURL
	}
	cookie := func(i int) http.Header {
		return http.Header{"Cookie": {fmt.Sprintf("geekapk_uid=%d; geekapk_passhash=%s", users[i].UID, users[i].Passhash)}}
	}
	streams, err := dialAll(ctx, surls, cookie, o.parallel, f.onMsg)
	if err != nil {
		return err
	}
	defer streams.close()
	logf("%d event-stream connections open (server holds %d file descriptors)", len(surls), proc.FDs(srv.PID()))
	sleep(ctx, o.settle)
	for r := range o.rounds {
		start := time.Since(f.base).Nanoseconds()
		if err := comment(ctx, srv, users[0], app, fmt.Sprintf("fanout %d", r)); err != nil {
			return err
		}
		res := waitFanout(ctx, f.at[r], start)
		rep.fanouts = append(rep.fanouts, res)
		logf("fan-out round %d: all %d received after %s (first %s, p50 %s); %d missing", r, len(users)-res.missing,
			ms(res.last), ms(res.first), ms(res.p50), res.missing)
		sleep(ctx, time.Second)
	}
	m, err := proc.ReadStatus(srv.PID())
	rep.peakRSS = m.HWM
	rep.drops = geek.fails.Load() + streams.fails.Load()
	return err
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// comment posts a top-level comment as u: one comment.created event, public, so every stream sees it.
func comment(ctx context.Context, srv *serve.Proc, u benchUser, app int64, content string) error {
	body := strings.NewReader(fmt.Sprintf(`{"content":%q}`, content))
	req, _ := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/app/%d/comment", srv.Base, app), body)
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: "geekapk_uid", Value: fmt.Sprint(u.UID)})
	req.AddCookie(&http.Cookie{Name: "geekapk_passhash", Value: u.Passhash})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post comment: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("post comment: %s", res.Status)
	}
	return nil
}
