package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/catalog/builtin"
	"github.com/stackhub/stackhub/internal/certs"
	"github.com/stackhub/stackhub/internal/cluster"
	"github.com/stackhub/stackhub/internal/config"
	"github.com/stackhub/stackhub/internal/edge"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/engine/docker"
	"github.com/stackhub/stackhub/internal/engine/swarm"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/idle"
	"github.com/stackhub/stackhub/internal/logx"
	"github.com/stackhub/stackhub/internal/realtime"
	"github.com/stackhub/stackhub/internal/server"
	"github.com/stackhub/stackhub/internal/sources"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/sysinfo"
	"github.com/stackhub/stackhub/internal/web"
	"github.com/stackhub/stackhub/internal/webhook"
)

func serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the StackHub server",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), os.Environ())
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, newLogger(cfg.LogLevel))
		},
	}
	config.Flags(cmd.Flags())
	return cmd
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(logx.Handler{Handler: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})})
}

// serve runs until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	replicas := store.IsPostgres(cfg.Database)
	if !replicas {
		unlock, err := store.LockSQLite(cfg.Database)
		if err != nil {
			return err
		}
		defer unlock()
	}
	st, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CacheReads(ctx, log); err != nil { // before anything here writes
		return err
	}
	token := cfg.AdminToken
	if token == "" {
		var created bool
		if token, created, err = auth.LoadOrCreateAdminToken(cfg.DataDir); err != nil {
			return err
		}
		if created {
			// Printed once, on the terminal only, so the operator can copy it; it is never logged.
			fmt.Fprintf(os.Stdout, "Generated admin token (stored in %s/admin-token): %s\n", cfg.DataDir, token)
		}
	}
	weak := config.WeakToken(token)
	if weak {
		log.Warn("the admin token (DOGETOK) is weak; use 16 or more random characters")
	}
	// Ten failed checks a minute per client address or uid; enough for typos, too few for guessing.
	var limiter auth.RateLimiter = auth.NewLimiter(10, time.Minute)
	if replicas { // counted in the database, so that guesses spread over replicas add up
		limiter = auth.NewSharedLimiter(st, 10, time.Minute, log)
	}
	au := auth.NewService(st, token, auth.DefaultParams(), limiter)
	au.RequireSecondFactor(cfg.Require2FA)
	bus := events.NewBus()
	// On PostgreSQL, every event goes to the shared log, and the stream and the GeekApk socket read the log back
	// (with the other replicas' events); webhooks read the in-process bus, so only the writer queues them.
	shared := bus
	var node *cluster.Node
	if replicas {
		if node, err = cluster.New(ctx, st, bus, log, cluster.Options{}); err != nil {
			return err
		}
		defer node.Close() // after everything that publishes has stopped (deferred calls run last-first)
		shared = node.Shared
	}
	h := hub.New(st, au, bus, log)
	h.SetMaxStackSize(cfg.MaxStackSize)
	if err := seedCatalog(ctx, h, log, builtin.Templates); err != nil {
		return err
	}
	// The subscribers listen before anything can publish: the reconcile below, then requests.
	var feed *realtime.Feed
	if node != nil {
		recent, last, err := node.Recent(ctx, 10_000)
		if err != nil {
			return err
		}
		feed = realtime.NewGlobalFeed(shared, log, realtime.FeedOptions{Backlog: 10_000}, recent, last)
	} else {
		feed = realtime.NewFeed(bus, log, realtime.FeedOptions{})
	}
	defer feed.Close()
	geek := realtime.NewGeekApk(au, h, shared, log, realtime.Options{})
	defer geek.Close()
	if node != nil {
		geek.SetCluster(node)
		node.Start()
	}
	wh, err := webhook.New(ctx, st, cfg.Hooks, log, webhook.Options{Secret: cfg.WebhookSecret,
		Timeout: cfg.WebhookTimeout, Attempts: cfg.WebhookAttempts})
	if err != nil {
		return err
	}
	h.SetOutbox(wh) // the hub writes its webhook deliveries in its own transactions
	unsubscribeHooks := wh.Subscribe(bus)
	// The queue outlives ctx: it stops after the HTTP servers, so requests finishing meanwhile still queue theirs.
	stopHooks := wh.Start(context.WithoutCancel(ctx))
	defer stopHooks() // on an early return; the shutdown below stops it in order
	co, err := certs.OptionsFromConfig(cfg)
	if err != nil {
		return err
	}
	co.Store, co.Bus, co.Logger = st, bus, log
	cm, err := certs.New(ctx, co)
	if err != nil {
		return err
	}
	defer cm.Close()
	eng, closeEngine, err := newEngine(ctx, cfg.Engine)
	if err != nil {
		return err
	}
	defer closeEngine()
	hcfg := host.Config{DataDir: cfg.DataDir, Prefix: cfg.Prefix, PublicAddress: cfg.PublicAddr,
		PublishIP: cfg.PublishIP, HealthTimeout: cfg.HealthTimeout, StoreOrder: cfg.StoreOrder}
	if node != nil {
		hcfg.Leases = node
	}
	hs := host.New(st, eng, bus, log, hcfg)
	defer hs.Close()
	if v, err := eng.Version(ctx); err != nil {
		log.Warn("Docker Engine does not answer; installs will fail until it does", "err", err)
	} else if err := hs.Reconcile(ctx); err != nil {
		log.Error("reconcile unfinished jobs", "err", err)
	} else {
		log.Info("docker engine", "version", v)
	}
	if node != nil { // the jobs of a replica that dies are settled by a live one
		go hs.TakeOver(ctx, node.Lease()/3)
	}
	if cfg.Engine == "swarm" { // statuses follow the nodes: one replica watches them, every edge reloads on its events
		watch := func() { go hs.WatchNodes(ctx, nodeWatch) }
		if node != nil {
			go node.Lead(ctx, cluster.LockStatusWatch, watch)
		} else {
			watch()
		}
	}
	srcs := sources.New(st, h, bus, log, sources.Options{DataDir: cfg.DataDir, Interval: cfg.SourceSync})
	defer srcs.Close()
	if node != nil { // one replica runs the sync schedule; another takes it over when that one dies
		go node.Lead(ctx, cluster.LockSourceSchedule, srcs.Start)
	} else {
		srcs.Start()
	}
	// The server page's chart: a sample every 10 s, the last hour in memory.
	metrics := sysinfo.NewHistory(cfg.DataDir, 10*time.Second, time.Hour)
	go metrics.Run(ctx)
	// The services record their changes in the audit log (docs/accounts.md). Its events have their own bus, so
	// the hub's stays exactly the GeekApk and host events; the feed and the webhooks follow both.
	auditBus := events.NewBus()
	if node != nil {
		node.Follow(auditBus) // to the shared log, which the feed reads
	} else {
		feed.Follow(auditBus)
	}
	defer wh.Subscribe(auditBus)()
	al := audit.New(st, auditBus, log)
	h.SetAudit(al)
	hs.SetAudit(al)
	wh.SetAudit(al)
	au.SetRecorder(al.Record)
	// The edge serves StackHub itself at --domain: main is the handler built below.
	var handler http.Handler
	main := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) })
	eg := edge.New(st, hs, au, main, cm, log, edge.Config{Domain: cfg.Domain, PortalURL: portalURL(cfg),
		TrustedProxies: cfg.TrustedProxies, DNSProvider: cfg.DNSProvider})
	certs.Attach(eg, cm)
	hs.SetDomains(eg)
	if err := eg.Reload(ctx); err != nil {
		return err
	}
	if cfg.Engine == "swarm" { // a route leads to the node where its app's task runs now
		eg.Follow(ctx, shared)
	}
	ui, err := web.New(web.Deps{Hub: h, Host: hs, Auth: au, Webhooks: wh, Sources: srcs, Metrics: metrics, Log: log,
		Version: Version, WeakToken: weak, Edge: eg, Audit: al})
	if err != nil {
		return err
	}
	go housekeeping(ctx, au, h, log)
	// Requests and events (install jobs publish theirs until they end) are work; memory goes back after them.
	rel := idle.New(0)
	defer bus.Subscribe(func(events.Event) { rel.Touch() })()
	go rel.Run(ctx)
	handler = server.Handler(server.Deps{Hub: h, Host: hs, Auth: au, Log: log, Version: Version,
		WeakToken: weak, Feed: feed, Webhooks: wh, Sources: srcs, UI: ui, Idle: rel, Edge: eg, Certs: cm, Audit: al})
	edgeHTTP, edgeHTTPS, err := edgeListeners(cfg, cm)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	wsLn, err := net.Listen("tcp", cfg.WSListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen %s: %w", cfg.WSListen, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second, // slowloris guard; bodies are bounded by MaxBytesReader
		IdleTimeout:       2 * time.Minute,
	}
	// The GeekApk WebSocket has its own listener, as in the original design; only upgrades are served there.
	wsSrv := &http.Server{Handler: geek, ReadHeaderTimeout: 10 * time.Second}
	log.Info("stackhub serving", "listen", ln.Addr().String(), "ws_listen", wsLn.Addr().String(),
		"database", string(st.Dialect()), "data_dir", cfg.DataDir, "version", Version)
	errc := make(chan error, 3)
	go func() { errc <- fmt.Errorf("serve: %w", srv.Serve(ln)) }()
	go func() { errc <- fmt.Errorf("serve websocket: %w", wsSrv.Serve(wsLn)) }()
	edgeCtx, stopEdge := context.WithCancel(context.WithoutCancel(ctx))
	edgeDone := make(chan struct{})
	if edgeHTTP != nil || edgeHTTPS != nil {
		log.Info("edge serving", "http", cfg.EdgeHTTP, "https", cfg.EdgeHTTPS, "domain", cfg.Domain)
		go func() {
			defer close(edgeDone)
			if err := eg.Listen(edgeCtx, edgeHTTP, edgeHTTPS); err != nil {
				errc <- fmt.Errorf("edge: %w", err)
			}
		}()
	} else {
		close(edgeDone)
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Streams and sockets first: Shutdown does not close hijacked connections, and it would wait for SSE streams.
	feed.Close()
	geek.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, s := range []*http.Server{srv, wsSrv} {
		if err := s.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) && serveErr == nil {
			serveErr = fmt.Errorf("shutdown: %w", err)
		}
	}
	stopEdge()
	<-edgeDone
	unsubscribeHooks()
	stopHooks()
	return serveErr
}

// seedCatalog imports the built-in templates (read by load) on the first start, so a fresh server has
// installable apps. Later starts do not read them: that would parse and validate every template for nothing.
func seedCatalog(ctx context.Context, h *hub.Service, log *slog.Logger, load func() ([]catalog.Template, error)) error {
	n, err := h.SeedCatalogFrom(ctx, func() ([]catalog.Template, error) {
		ts, err := load()
		if err != nil {
			return nil, fmt.Errorf("built-in catalog: %w", err)
		}
		return ts, nil
	})
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("imported the built-in catalog", "apps", n)
	}
	return nil
}

// housekeeping deletes expired web sessions and the stack files no version refers to, at the start and then daily.
func housekeeping(ctx context.Context, au *auth.Service, h *hub.Service, log *slog.Logger) {
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	for {
		if err := au.PruneSessions(ctx); err != nil && ctx.Err() == nil {
			log.Warn("prune sessions", "err", err)
		}
		if n, err := h.SweepStackFiles(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweep stack files", "err", err)
		} else if n > 0 {
			log.Info("deleted stack files no version uses", "files", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// portalURL is where the edge sends visitors to sign in: --domain through the edge, else the main listener at
// the public address.
func portalURL(cfg *config.Config) string {
	if cfg.Domain != "" {
		return ""
	}
	_, port, _ := net.SplitHostPort(cfg.Listen)
	return "http://" + net.JoinHostPort(cfg.PublicAddr, port)
}

// edgeListeners opens the edge's listeners that are asked for (--edge-http, --edge-https).
func edgeListeners(cfg *config.Config, tc edge.Certs) (httpLn, httpsLn net.Listener, err error) {
	if cfg.EdgeHTTPS != "" && tc == nil {
		return nil, nil, fmt.Errorf("--edge-https %s: this binary has no certificate manager", cfg.EdgeHTTPS)
	}
	if cfg.EdgeHTTP != "" {
		if httpLn, err = net.Listen("tcp", cfg.EdgeHTTP); err != nil {
			return nil, nil, fmt.Errorf("listen --edge-http %s: %w", cfg.EdgeHTTP, err)
		}
	}
	if cfg.EdgeHTTPS != "" {
		if httpsLn, err = net.Listen("tcp", cfg.EdgeHTTPS); err != nil {
			if httpLn != nil {
				httpLn.Close()
			}
			return nil, nil, fmt.Errorf("listen --edge-https %s: %w", cfg.EdgeHTTPS, err)
		}
	}
	return httpLn, httpsLn, nil
}

// nodeWatch is how often the status watch of a Swarm looks at the nodes and tasks: a node that goes down is
// noticed within Swarm's own heartbeat period (5 s) and this.
const nodeWatch = 5 * time.Second

// newEngine connects to what runs the installs (--engine): the Docker Engine of DOCKER_HOST, or the Swarm it
// manages, which must answer as a manager before serve starts.
func newEngine(ctx context.Context, kind string) (engine.Engine, func(), error) {
	if kind != "swarm" {
		eng, err := docker.New()
		if err != nil {
			return nil, nil, err
		}
		return eng, func() { eng.Close() }, nil
	}
	eng, err := swarm.New(swarm.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("--engine swarm: %w", err)
	}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := eng.Version(vctx); err != nil {
		eng.Close()
		return nil, nil, fmt.Errorf("--engine swarm needs DOCKER_HOST (%s) to be a Swarm manager: %w",
			cmp.Or(os.Getenv("DOCKER_HOST"), "the local socket"), err)
	}
	return eng, func() { eng.Close() }, nil
}
