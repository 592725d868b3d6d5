package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackhub/stackhub/bench/internal/proc"
	"github.com/stackhub/stackhub/bench/internal/stats"
)

// target is one server under load: its URL, the address to dial whatever the URL's host, and the process that
// answers (for its CPU time; 0: none).
type target struct {
	Name string
	URL  string
	Addr string
	PID  int
}

type loadResult struct {
	Name          string
	OK, Errors    int
	RPS           float64
	P50, P99, Max time.Duration
	CPU           time.Duration // of the answering process (the proxy; the upstream's apart) in the window
	UpCPU         time.Duration // of the upstream app in the window
}

type loadConfig struct {
	Clients        int
	Warmup, Window time.Duration
	TLS            *tls.Config
	UpstreamPID    int
}

// client is one keep-alive connection over HTTP/1.1 (no h2, so 50 clients are 50 TCP connections), dialling
// addr for every URL.
func client(addr string, tc *tls.Config) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     tc.Clone(),
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConnsPerHost: 1,
	}}
}

// runLoad drives t with cfg.Clients closed-loop clients (the next request as soon as the answer is read): an
// unrecorded warm-up, then the measured window, every latency kept.
func runLoad(t target, cfg loadConfig) loadResult {
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Window)
	var (
		mu       sync.Mutex
		all      []time.Duration
		errs     int
		wg       sync.WaitGroup
		cpu0, u0 time.Duration
	)
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := client(t.Addr, cfg.TLS)
			defer hc.CloseIdleConnections()
			var lat []time.Duration
			bad := 0
			for {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				err := get(hc, t.URL)
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(end) {
					continue
				}
				if err != nil {
					bad++
					continue
				}
				lat = append(lat, t1.Sub(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += bad
			mu.Unlock()
		}()
	}
	time.Sleep(time.Until(measureFrom))
	cpu0, u0 = cpuOf(t.PID), cpuOf(cfg.UpstreamPID)
	time.Sleep(time.Until(end))
	cpu1, u1 := cpuOf(t.PID), cpuOf(cfg.UpstreamPID)
	wg.Wait()
	slices.Sort(all)
	r := loadResult{Name: t.Name, OK: len(all), Errors: errs, RPS: float64(len(all)) / cfg.Window.Seconds()}
	if t.PID != 0 && t.PID != cfg.UpstreamPID {
		r.CPU = cpu1 - cpu0
	}
	r.UpCPU = u1 - u0
	if len(all) > 0 {
		r.P50, r.P99, r.Max = stats.Percentile(all, 50), stats.Percentile(all, 99), all[len(all)-1]
	}
	return r
}

func cpuOf(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	_, c, _ := proc.CPU(pid)
	return c
}

func get(hc *http.Client, url string) error {
	res, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return nil
}

type handshakeResult struct {
	Name       string
	OK, Errors int
	PerSec     float64
	P50, P99   time.Duration
	CPU        time.Duration
	Curve      tls.CurveID
	Version    uint16
}

// runHandshakes opens new TLS connections to t from clients goroutines, one after the other each: TCP connect, a
// full handshake (no session cache, so no resumption), close. Counted in the window after the warm-up.
func runHandshakes(t target, clients int, warmup, window time.Duration, tc *tls.Config) handshakeResult {
	measureFrom := time.Now().Add(warmup)
	end := measureFrom.Add(window)
	cfg := tc.Clone()
	cfg.ClientSessionCache = nil
	var (
		mu    sync.Mutex
		all   []time.Duration
		errs  int
		wg    sync.WaitGroup
		state atomic.Pointer[tls.ConnectionState]
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			bad := 0
			d := &net.Dialer{Timeout: 10 * time.Second}
			for {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				conn, err := (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", t.Addr)
				cancel()
				t1 := time.Now()
				if err == nil {
					cs := conn.(*tls.Conn).ConnectionState()
					state.Store(&cs)
					conn.Close()
				}
				if t0.Before(measureFrom) || t1.After(end) {
					continue
				}
				if err != nil {
					bad++
					continue
				}
				lat = append(lat, t1.Sub(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += bad
			mu.Unlock()
		}()
	}
	time.Sleep(time.Until(measureFrom))
	c0 := cpuOf(t.PID)
	time.Sleep(time.Until(end))
	c1 := cpuOf(t.PID)
	wg.Wait()
	slices.Sort(all)
	r := handshakeResult{Name: t.Name, OK: len(all), Errors: errs, PerSec: float64(len(all)) / window.Seconds(),
		CPU: c1 - c0}
	if len(all) > 0 {
		r.P50, r.P99 = stats.Percentile(all, 50), stats.Percentile(all, 99)
	}
	if cs := state.Load(); cs != nil {
		r.Curve, r.Version = cs.CurveID, cs.Version
	}
	return r
}
