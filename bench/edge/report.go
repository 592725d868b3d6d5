package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

func report(cfg runConfig, loads []loadResult, hss []handshakeResult, caddyVersion, loadBefore, loadAfter string) string {
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
	fmt.Fprintf(&b, "- app: bench/baseline, a %d-byte body; %d keep-alive HTTP/1.1 connections, closed loop, %s warm-up, %s measured each\n\n",
		cfg.size, cfg.clients, cfg.warmup, cfg.window)

	b.WriteString("| served | req/s | p50 | p99 | max | errors | proxy CPU/s | app CPU/s | vs direct |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	direct := loads[0].RPS
	for _, r := range loads {
		proxyCPU := "–"
		if r.CPU > 0 {
			proxyCPU = fmt.Sprintf("%.2f", r.CPU.Seconds()/cfg.window.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %d | %s | %.2f | %.2f× |\n", r.Name, r.RPS, ms(r.P50), ms(r.P99),
			ms(r.Max), r.Errors, proxyCPU, r.UpCPU.Seconds()/cfg.window.Seconds(), r.RPS/direct)
	}
	if len(loads) >= 4 {
		var edge, caddy float64
		for _, r := range loads {
			switch {
			case strings.HasPrefix(r.Name, "StackHub edge"):
				edge = r.RPS
			case strings.HasPrefix(r.Name, "Caddy"):
				caddy = r.RPS
			}
		}
		if edge > 0 && caddy > 0 {
			fmt.Fprintf(&b, "\nEdge / Caddy: %.2f× (requests per second).\n", edge/caddy)
		}
	}

	fmt.Fprintf(&b, "\nNew TLS handshakes (TCP connect + full handshake, no resumption, close), %d clients, %s measured:\n\n",
		cfg.hsClients, cfg.hsWindow)
	b.WriteString("| served | handshakes/s | p50 | p99 | errors | proxy CPU/s | negotiated |\n|---|---:|---:|---:|---:|---:|---|\n")
	for _, h := range hss {
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %d | %.2f | %s %s |\n", h.Name, h.PerSec, ms(h.P50), ms(h.P99), h.Errors,
			h.CPU.Seconds()/cfg.hsWindow.Seconds(), tls.VersionName(h.Version), h.Curve)
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
