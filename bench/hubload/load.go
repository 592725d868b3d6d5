package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/stackhub/stackhub/bench/internal/stats"
)

// target is one endpoint under load; url picks the next request's URL (for example a random app id).
type target struct {
	Name string
	URL  func(r *rand.Rand) string
	PID  int // the process answering, for its CPU time
}

// loadResult is what one endpoint did during the measured window.
type loadResult struct {
	Name          string
	OK, Errors    int
	Window        time.Duration
	RPS           float64
	P50, P99, Max time.Duration
	BodyBytes     int64     // bytes of the last successful response body
	CPU           cpuSample // CPU time spent during the window (zero: unknown)
}

// cpuSample is CPU time used: by the answering process, by this load generator, by the PostgreSQL server's
// processes (only when DB is set in loadConfig), and by the whole machine.
type cpuSample struct{ Proc, Self, DB, Machine time.Duration }

// Other is the CPU time of everything else running on the machine: noise.
func (c cpuSample) Other() time.Duration { return max(0, c.Machine-c.Proc-c.Self-c.DB) }

// OtherCores is Other as an average number of busy cores over the window (-1: unknown).
func (r loadResult) OtherCores() float64 {
	if r.CPU.Machine == 0 {
		return -1
	}
	return r.CPU.Other().Seconds() / r.Window.Seconds()
}

// Noisy reports whether other processes used more than noiseCores during the window.
func (r loadResult) Noisy() bool { return r.OtherCores() > noiseCores }

type loadConfig struct {
	Clients        int
	Warmup, Window time.Duration
	Timeout        time.Duration // per request
	Seed           uint64
	DB             bool // count the CPU of processes named "postgres" apart (they serve the hub)
}

// runLoad drives t with cfg.Clients concurrent clients: each has its own keep-alive connection and sends its
// next request as soon as the previous answer is read (a closed loop). Requests of the warm-up are not recorded;
// of the rest, those started and finished inside the window count. It returns once every client has stopped,
// at the latest window + warm-up + one request timeout after the start.
func runLoad(ctx context.Context, t target, cfg loadConfig) loadResult {
	start := time.Now()
	from := start.Add(cfg.Warmup)
	until := from.Add(cfg.Window)
	ctx, cancel := context.WithDeadline(ctx, until.Add(cfg.Timeout))
	defer cancel()

	type clientResult struct {
		lat  []time.Duration
		errs int
		body int64
	}
	results := make([]clientResult, cfg.Clients)
	var wg sync.WaitGroup
	for c := range cfg.Clients {
		wg.Go(func() {
			tr := &http.Transport{
				Proxy:               nil, // loopback: never through a proxy from the environment
				MaxIdleConns:        4,
				MaxIdleConnsPerHost: 4,
				IdleConnTimeout:     time.Minute,
				DisableCompression:  true,
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: cfg.Timeout}
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(c)))
			res := &results[c]
			res.lat = make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(until) {
					return
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL(r), nil)
				if err != nil {
					res.errs++
					continue
				}
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode == http.StatusOK
				var n int64
				if err == nil {
					n, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = ok && err == nil
				}
				el := time.Since(t0)
				if t0.Before(from) || t0.Add(el).After(until) {
					continue // warm-up, or finished after the window closed
				}
				if !ok {
					res.errs++
					continue
				}
				res.body = n
				res.lat = append(res.lat, el)
			}
		})
	}

	// Sample CPU times at the window's edges.
	var c0, c1 cpuSample
	var cpuOK bool
	if sleepUntil(ctx, from) {
		c0, cpuOK = cpuTimes(t.PID, cfg.DB)
		if sleepUntil(ctx, until) {
			var ok bool
			c1, ok = cpuTimes(t.PID, cfg.DB)
			cpuOK = cpuOK && ok
		} else {
			cpuOK = false
		}
	}
	wg.Wait()

	out := loadResult{Name: t.Name, Window: cfg.Window}
	var all []time.Duration
	for _, res := range results {
		all = append(all, res.lat...)
		out.Errors += res.errs
		if res.body > 0 {
			out.BodyBytes = res.body
		}
	}
	out.OK = len(all)
	out.RPS = float64(out.OK) / cfg.Window.Seconds()
	if len(all) > 0 {
		slices.Sort(all)
		out.P50, out.P99, out.Max = stats.Percentile(all, 50), stats.Percentile(all, 99), all[len(all)-1]
	}
	if cpuOK {
		out.CPU = cpuSample{Proc: c1.Proc - c0.Proc, Self: c1.Self - c0.Self, DB: max(0, c1.DB-c0.DB),
			Machine: c1.Machine - c0.Machine}
	}
	return out
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// probe GETs url once and returns the body, failing on anything but 200.
func probe(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return body, nil
}
