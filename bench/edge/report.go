package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/stackhub/stackhub/bench/internal/stats"
)

// report is the markdown: the medians over the rounds, every round, then the handshakes. Ratios are taken
// within a round (against that round's direct run) before the median, so slow drift of the machine's load
// cancels out.
func report(cfg runConfig, loads [][]loadResult, hss [][]handshakeResult, caddyVersion, loadBefore, loadAfter string) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# StackHub edge benchmark, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- source: %s\n", os.Getenv("BENCH_SOURCE"))
	fmt.Fprintf(&b, "- machine: %s, %d CPUs, %s; load average (1/5/15 min) %s before, %s after\n", host,
		runtime.NumCPU(), runtime.Version(), loadBefore, loadAfter)
	if caddyVersion != "" {
		fmt.Fprintf(&b, "- Caddy: %s\n", caddyVersion)
	} else {
		fmt.Fprintf(&b, "- Caddy: not measured: %s\n", cfg.caddyNote)
	}
	fmt.Fprintf(&b, "- app: bench/baseline, a %d-byte body; %d keep-alive HTTP/1.1 connections, closed loop, %s warm-up, %s measured, %d rounds\n\n",
		cfg.size, cfg.clients, cfg.warmup, cfg.window, cfg.rounds)

	b.WriteString("Medians over the rounds:\n\n")
	b.WriteString("| served | req/s | p50 | p99 | server CPU/s | vs direct | vs Caddy |\n|---|---:|---:|---:|---:|---:|---:|\n")
	caddy := -1
	for j, r := range loads[0] {
		if strings.HasPrefix(r.Name, "Caddy") {
			caddy = j
		}
	}
	for j := range loads[0] {
		var rps, vsDirect, vsCaddy, cpu []float64
		var p50, p99 []time.Duration
		for _, round := range loads {
			r := round[j]
			rps = append(rps, r.RPS)
			p50, p99 = append(p50, r.P50), append(p99, r.P99)
			cpu = append(cpu, r.CPU.Seconds()/cfg.window.Seconds())
			vsDirect = append(vsDirect, r.RPS/round[0].RPS)
			if caddy >= 0 {
				vsCaddy = append(vsCaddy, r.RPS/round[caddy].RPS)
			}
		}
		proxyCPU, c := "–", "–"
		if j > 0 {
			proxyCPU = fmt.Sprintf("%.2f", stats.Median(cpu))
		}
		if caddy >= 0 && j > 0 {
			c = fmt.Sprintf("%.2f×", stats.Median(vsCaddy))
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %.2f× | %s |\n", loads[0][j].Name, stats.Median(rps),
			ms(stats.Median(p50)), ms(stats.Median(p99)), proxyCPU, stats.Median(vsDirect), c)
	}

	b.WriteString("\nEvery round (in the order run):\n\n")
	b.WriteString("| round | served | req/s | p50 | p99 | max | errors | server CPU/s | app CPU/s |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, round := range loads {
		for k := range round {
			r := round[(i+k)%len(round)]
			proxyCPU := "–"
			if r.CPU > 0 {
				proxyCPU = fmt.Sprintf("%.2f", r.CPU.Seconds()/cfg.window.Seconds())
			}
			fmt.Fprintf(&b, "| %d | %s | %.0f | %s | %s | %s | %d | %s | %.2f |\n", i+1, r.Name, r.RPS, ms(r.P50),
				ms(r.P99), ms(r.Max), r.Errors, proxyCPU, r.UpCPU.Seconds()/cfg.window.Seconds())
		}
	}

	fmt.Fprintf(&b, "\nNew TLS handshakes (TCP connect + full handshake, no resumption, close), %d clients, %s measured, medians over %d rounds:\n\n",
		cfg.hsClients, cfg.hsWindow, cfg.rounds)
	b.WriteString("| served | handshakes/s | every round | p50 | p99 | errors | server CPU/s | negotiated |\n|---|---:|---|---:|---:|---:|---:|---|\n")
	for j := range hss[0] {
		var per, cpu []float64
		var p50, p99 []time.Duration
		var every []string
		errs := 0
		for _, round := range hss {
			h := round[j]
			per, cpu = append(per, h.PerSec), append(cpu, h.CPU.Seconds()/cfg.hsWindow.Seconds())
			p50, p99 = append(p50, h.P50), append(p99, h.P99)
			every = append(every, fmt.Sprintf("%.0f", h.PerSec))
			errs += h.Errors
		}
		h := hss[0][j]
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %d | %.2f | %s %s |\n", h.Name, stats.Median(per),
			strings.Join(every, ", "), ms(stats.Median(p50)), ms(stats.Median(p99)), errs, stats.Median(cpu),
			tls.VersionName(h.Version), h.Curve)
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
