package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/stackhub/stackhub/internal/edge"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/store"
)

// oneCert is the edge's certificate manager here (edge.Certs): it serves the one certificate the benchmark made,
// the same files Caddy is given, and issues nothing.
type oneCert struct{ cert tls.Certificate }

func (c oneCert) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.cert}, NextProtos: []string{"h2", "http/1.1"},
		MinVersion: tls.VersionTLS12}
}
func (oneCert) HTTPChallengeHandler(next http.Handler) http.Handler { return next }
func (oneCert) Sync(context.Context, map[string]string) error       { return nil }

// serveEdge is the -serve-edge mode: StackHub's internal/edge in a process of its own, over a fresh SQLite route
// table holding one installed instance whose web port (W9_HTTP_PORT_SET) is the upstream, and one public route
// of benchName to it. It prints "listening <addr>" once it accepts connections and runs until SIGTERM.
func serveEdge(dbPath, certFile, keyFile, listen string, upstreamPort int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("EDGE_CPUPROFILE"); path != "" { // for finding the next hot spot; see bench/README.md
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer st.Close()
	e, err := newEdge(ctx, st, cert, upstreamPort)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	return e.Listen(ctx, nil, ln)
}

// newEdge routes benchName to the app on upstreamPort in st's route table and returns the edge, loaded and ready
// to Listen.
func newEdge(ctx context.Context, st *store.Store, cert tls.Certificate, upstreamPort int) (*edge.Edge, error) {
	now := time.Now().UnixMilli()
	q := st.Q()
	if err := q.CreateInstance(ctx, &store.Instance{Name: "app", Project: "stackhub-app", App: 1, AppKey: "bench",
		Reversion: 1, Version: "1", State: store.StateInstalled, Settings: "{}", Secrets: "{}", Rendered: "{}",
		CreatedAt: now, UpdatedAt: now}); err != nil {
		return nil, err
	}
	if err := q.BookPort(ctx, store.PortBooking{Port: upstreamPort, Protocol: "tcp", Instance: "app",
		Variable: "W9_HTTP_PORT_SET"}); err != nil {
		return nil, fmt.Errorf("book port %d: %w", upstreamPort, err)
	}
	if err := q.CreateRoute(ctx, &store.Route{Instance: "app", Domain: benchName, Path: "/", HTTPS: "custom",
		Access: "public", BasicUsers: "[]", Allow: "[]", CreatedAt: now}); err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	hs := host.New(st, nil, nil, log, host.Config{DataDir: os.TempDir()})
	e := edge.New(st, hs, nil, http.NotFoundHandler(), oneCert{cert}, log, edge.Config{})
	if err := e.Reload(ctx); err != nil {
		return nil, err
	}
	return e, nil
}
