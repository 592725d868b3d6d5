package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stackhub/stackhub/bench/internal/stats"
)

// Targets from the issue.
const (
	targetRSSPerConn = 20_000 // bytes: "20 KB"
	targetDMp99      = 5 * time.Millisecond
	targetFanout     = 250 * time.Millisecond
)

type latency struct{ p50, p99, max time.Duration }

// summarize takes exact nearest-rank percentiles of the recorded latencies (0: never received, left out).
func summarize(lat []atomic.Int64) latency {
	var v []int64
	for i := range lat {
		if n := lat[i].Load(); n > 0 {
			v = append(v, n)
		}
	}
	if len(v) == 0 {
		return latency{}
	}
	slices.Sort(v)
	return latency{p50: time.Duration(stats.Percentile(v, 50)), p99: time.Duration(stats.Percentile(v, 99)),
		max: time.Duration(v[len(v)-1])}
}

type fanoutResult struct {
	first, p50, last time.Duration
	missing          int
}

// waitFanout waits (up to 10 s) until every connection has the round's event, and times it from start.
func waitFanout(ctx context.Context, at []atomic.Int64, start int64) fanoutResult {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var v []int64
		for i := range at {
			if n := at[i].Load(); n > 0 {
				v = append(v, n-start)
			}
		}
		if len(v) == len(at) || time.Now().After(deadline) || ctx.Err() != nil {
			if len(v) == 0 {
				return fanoutResult{missing: len(at)}
			}
			slices.Sort(v)
			return fanoutResult{first: time.Duration(v[0]), p50: time.Duration(stats.Percentile(v, 50)),
				last: time.Duration(v[len(v)-1]), missing: len(at) - len(v)}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type report struct {
	opts                      options
	idleRSS, connRSS, peakRSS int64
	connectTime               time.Duration
	dm                        latency
	dmRate                    float64
	dmLost                    int64
	fanouts                   []fanoutResult
	drops                     int64
}

func (r *report) emit(out string) error {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	perConn := float64(r.connRSS-r.idleRSS) / float64(r.opts.conns)
	var worst time.Duration
	var lasts []string
	for _, f := range r.fanouts {
		worst = max(worst, f.last)
		if f.missing > 0 {
			worst = time.Hour
		}
		lasts = append(lasts, ms(f.last))
	}
	w("# StackHub WebSocket benchmark — %s", time.Now().UTC().Format("2006-01-02 15:04"))
	w("")
	w("- %s, %d CPUs, %s; server and generator share the machine (loopback)", runtime.Version(), runtime.NumCPU(),
		memTotal())
	w("- %d authenticated GeekApk connections (?push=1), opened in %s; %d connections dropped by the server",
		r.opts.conns, r.connectTime.Round(time.Millisecond), r.drops)
	w("")
	w("| measure | result | target | |")
	w("|---|---|---|---|")
	w("| server RSS per connection (RSS with connections − idle RSS) ÷ %d | %.1f KB (%.1f KiB) | < 20 KB | %s |",
		r.opts.conns, perConn/1000, perConn/1024, verdict(perConn < targetRSSPerConn))
	w("| DM latency p50 / p99 / max at %.0f msg/s for %s | %s / %s / %s (%d lost) | p99 < 5 ms | %s |", r.dmRate,
		r.opts.duration, ms(r.dm.p50), ms(r.dm.p99), ms(r.dm.max), r.dmLost,
		verdict(r.dm.p99 > 0 && r.dm.p99 < targetDMp99 && r.dmLost == 0))
	w("| one event to all %d event-stream connections (worst of %d rounds; each: %s) | %s | < 250 ms | %s |",
		r.opts.conns, len(r.fanouts), strings.Join(lasts, ", "), ms(worst), verdict(worst < targetFanout))
	w("")
	w("RSS: idle %s, with connections %s, peak %s.", mib(r.idleRSS), mib(r.connRSS), mib(r.peakRSS))
	fmt.Print(b.String())
	if out != "" {
		return os.WriteFile(out, []byte(b.String()), 0o644)
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "memory unknown"
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.Join(strings.Fields(line), " ")
}
