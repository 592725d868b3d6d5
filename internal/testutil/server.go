package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/certs"
	"github.com/stackhub/stackhub/internal/edge"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/engine/docker"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/realtime"
	"github.com/stackhub/stackhub/internal/server"
	"github.com/stackhub/stackhub/internal/sources"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/sysinfo"
	"github.com/stackhub/stackhub/internal/testutil/acmetest"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
	"github.com/stackhub/stackhub/internal/web"
	"github.com/stackhub/stackhub/internal/webhook"
)

// AdminToken is the admin token of test servers.
const AdminToken = "test-admin-token-0123456789"

// HashParams are light argon2id costs for tests: the real algorithm and format, without 19 MiB per hash, which
// under the race detector would make the suite spend minutes hashing. TestDefaultParams pins production's.
var HashParams = auth.Params{Time: 1, Memory: 64, Threads: 1}

// Server is a running StackHub on loopback with its parts exposed for assertions.
type Server struct {
	t     testing.TB
	URL   string
	Auth  *auth.Service
	Store *store.Store
	Bus   *events.Bus
	Hub   *hub.Service
	Host  *host.Service
	HTTP  *http.Client
	// DataDir is the server's data directory; Prefix names its projects (<Prefix>-<instance>).
	DataDir string
	Prefix  string
	// WSURL is the GeekApk WebSocket listener (ws://127.0.0.1:port); Geek, Feed and Webhooks are the live parts.
	WSURL    string
	Geek     *realtime.GeekApk
	Feed     *realtime.Feed
	Webhooks *webhook.Service
	// Sources is the store sources service (no schedule unless Options.Sources sets one).
	Sources *sources.Service
	// DSN is the database, for a test that starts a second server on it.
	DSN string
	// Certs is the certificate manager behind /api/v1/certificates (no ACME directory: see acmetest).
	Certs *certs.Manager
	// Edge is the routes service and proxy; with Options.Edge its listeners run on loopback: EdgeHTTP and
	// EdgeHTTPS are their host:port, and StandIn the stand-in certificate manager behind the TLS one.
	Edge      *edge.Edge
	EdgeHTTP  string
	EdgeHTTPS string
	StandIn   *StandInCerts
	// UI is the web UI behind URL.
	UI *web.UI
	// Handler is the whole HTTP surface behind URL (server.Handler), for a test that serves it itself.
	Handler http.Handler
}

// EdgeOptions start the edge's listeners (127.0.0.1, random ports) with these settings.
type EdgeOptions struct {
	Domain         string // StackHub's own name (--domain)
	TrustedProxies []netip.Prefix
	DNSProvider    string
	// Pebble, when set, gives the edge its certificates from this ACME server through the server's certs.Manager
	// (wired as serve wires it) instead of the stand-in; its validation ports are forwarded to the edge's.
	Pebble *acmetest.Pebble
}

// Options tune a test server.
type Options struct {
	Hooks   []webhook.Hook
	Limiter *auth.Limiter // default: generous, so tests of other things never trip it
	// Engine runs installs; nil means a real Docker engine. A Cluster engine (the Swarm) also runs the status watch
	// (every second) and the edge's reloads on its events, as serve --engine swarm does. Instances are named with a random prefix so
	// parallel tests and packages never collide, and everything is uninstalled with purge at the end.
	Engine        engine.Engine
	HealthTimeout time.Duration // default 60 s
	// DSN opens this database (of engine e) instead of a fresh one: a second server on the same data, as after a
	// restart.
	DSN string
	// Webhook tunes the webhook queue; zero fields get quick test values (see QuickWebhookOptions).
	Webhook webhook.Options
	// Realtime tunes the GeekApk WebSocket server; Feed the event stream.
	Realtime realtime.Options
	Feed     realtime.FeedOptions
	// Metrics samples the host every second for the server page's live chart; off, the page measures on demand.
	Metrics bool
	// LogTo also receives every log record at debug level: a test can check what the server logs.
	LogTo io.Writer
	// MaxStackSize is the limit of what users publish (serve --max-stack-size); 0: the default.
	MaxStackSize int
	// Sources tunes the store sources; its DataDir is the server's.
	Sources sources.Options
	// Edge starts the edge's listeners; nil serves the routes API only.
	Edge *EdgeOptions
	// PublishLoopback is --publish loopback: installs publish their ports on 127.0.0.1 only.
	PublishLoopback bool
}

// QuickWebhookOptions fills the zero fields of o with values that keep tests quick: 2 s per attempt, 50 ms before
// the first retry, at most 1 s between retries, 6 attempts.
func QuickWebhookOptions(o webhook.Options) webhook.Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.Timeout, 2*time.Second)
	def(&o.Backoff, 50*time.Millisecond)
	def(&o.MaxBackoff, time.Second)
	def(&o.Idle, time.Second)
	if o.Attempts == 0 {
		o.Attempts = 6
	}
	return o
}

// StartServer runs a server on a fresh database of engine e.
func StartServer(t testing.TB, e Engine, opt Options) *Server {
	t.Helper()
	if opt.DSN == "" {
		opt.DSN = e.DSN(t)
	}
	st, err := store.Open(context.Background(), opt.DSN)
	if err != nil {
		t.Fatalf("open %s store: %v", e.Name, err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CacheReads(context.Background(), Logger(t)); err != nil {
		t.Fatal(err)
	}
	if opt.Limiter == nil {
		opt.Limiter = auth.NewLimiter(10_000, time.Minute)
	}
	log := Logger(t)
	if opt.LogTo != nil {
		log = slog.New(teeHandler{log.Handler(), slog.NewTextHandler(opt.LogTo, &slog.HandlerOptions{Level: slog.LevelDebug})})
	}
	au := auth.NewService(st, AdminToken, HashParams, opt.Limiter)
	bus := events.NewBus()
	h := hub.New(st, au, bus, log)
	h.SetMaxStackSize(opt.MaxStackSize)
	eng := opt.Engine
	if eng == nil {
		d, err := docker.New()
		if err != nil {
			t.Fatalf("docker client: %v", err)
		}
		t.Cleanup(func() { d.Close() })
		eng = d
	}
	if opt.HealthTimeout == 0 {
		opt.HealthTimeout = 60 * time.Second
	}
	dataDir := t.TempDir()
	prefix := "t" + randomHex(3)
	publishIP := ""
	if opt.PublishLoopback {
		publishIP = "127.0.0.1"
	}
	hs := host.New(st, eng, bus, log, host.Config{DataDir: dataDir, Prefix: prefix, PublicAddress: "127.0.0.1",
		PublishIP: publishIP, HealthTimeout: opt.HealthTimeout})
	feed := realtime.NewFeed(bus, log, opt.Feed)
	geek := realtime.NewGeekApk(au, h, bus, log, opt.Realtime)
	wh, err := webhook.New(context.Background(), st, opt.Hooks, log, QuickWebhookOptions(opt.Webhook))
	if err != nil {
		t.Fatalf("webhooks: %v", err)
	}
	h.SetOutbox(wh)
	unsubscribe := wh.Subscribe(bus)
	stopHooks := wh.Start(context.Background())
	var metrics *sysinfo.History
	if opt.Metrics {
		metrics = sysinfo.NewHistory(dataDir, time.Second, time.Hour)
		mctx, stopMetrics := context.WithCancel(context.Background())
		t.Cleanup(stopMetrics)
		go metrics.Run(mctx)
	}
	auditBus := events.NewBus() // as in serve: the audit log's events on their own bus, followed by feed and webhooks
	feed.Follow(auditBus)
	unsubscribeAudit := wh.Subscribe(auditBus)
	al := audit.New(st, auditBus, log)
	h.SetAudit(al)
	hs.SetAudit(al)
	wh.SetAudit(al)
	au.SetRecorder(al.Record)
	opt.Sources.DataDir = dataDir
	srcs := sources.New(st, h, bus, log, opt.Sources)
	srcs.Start()
	// No ACME directory unless the edge asks for Pebble: tests of ACME run their own (acmetest); this one serves
	// uploads and the CA.
	co := certs.Options{Store: st, Bus: bus, Logger: log, Directory: "https://127.0.0.1:9/directory"}
	var httpLn, httpsLn net.Listener
	if opt.Edge != nil {
		httpLn, httpsLn = listenLoopback(t), listenLoopback(t)
		if pb := opt.Edge.Pebble; pb != nil {
			co.Directory, co.Roots, co.Profile = pb.DirectoryURL, pb.ServerRoots, acmetest.DefaultProfile
			co.HTTPPort, co.TLSPort = httpLn.Addr().(*net.TCPAddr).Port, httpsLn.Addr().(*net.TCPAddr).Port
			pb.Forward(t, httpLn.Addr().String(), httpsLn.Addr().String())
		}
	}
	cm, err := certs.New(context.Background(), co)
	if err != nil {
		t.Fatalf("certificates: %v", err)
	}
	t.Cleanup(cm.Close)
	var handler http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	eg, standIn, edgeHTTP, edgeHTTPS := startEdge(t, st, hs, au, ts, log, opt.Edge, cm, httpLn, httpsLn)
	certs.Attach(eg, cm)
	if _, ok := eng.(engine.Cluster); ok { // as serve --engine swarm: statuses follow the nodes, the edge follows them
		wctx, stopWatch := context.WithCancel(context.Background())
		t.Cleanup(stopWatch)
		go hs.WatchNodes(wctx, time.Second)
		eg.Follow(wctx, bus)
	}
	ui, err := web.New(web.Deps{Hub: h, Host: hs, Auth: au, Webhooks: wh, Sources: srcs, Metrics: metrics, Log: log, Version: "test", Edge: eg,
		Audit: al})
	if err != nil {
		t.Fatalf("web ui: %v", err)
	}
	handler = server.Handler(server.Deps{Hub: h, Host: hs, Auth: au, Log: log,
		Version: "test", Feed: feed, Webhooks: wh, Sources: srcs, UI: ui, Edge: eg, Certs: cm, Audit: al})
	wsTS := httptest.NewServer(geek)
	t.Cleanup(func() {
		// Streams and sockets first: httptest's Close waits for open requests, SSE streams among them.
		feed.Close()
		geek.Close()
		wsTS.Close()
		ts.Close()
		srcs.Close()
		unsubscribe()
		unsubscribeAudit()
		stopHooks()
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := hs.UninstallAll(ctx, auth.System, true); err != nil {
			t.Errorf("uninstall everything: %v", err)
		}
		if opt.Engine == nil {
			dockertest.CleanupVolumes(t, prefix) // what a test's own uninstall kept without purge
		}
	})
	return &Server{t: t, URL: ts.URL, UI: ui, Store: st, Auth: au, Bus: bus, Hub: h, Host: hs, HTTP: ts.Client(), DataDir: dataDir,
		Prefix: prefix, WSURL: "ws" + strings.TrimPrefix(wsTS.URL, "http"), Geek: geek, Feed: feed, Webhooks: wh,
		Sources: srcs, DSN: opt.DSN, Edge: eg, EdgeHTTP: edgeHTTP, EdgeHTTPS: edgeHTTPS, StandIn: standIn, Certs: cm,
		Handler: handler}
}

// startEdge builds the edge over the server's routes and, with opt, runs its listeners on loopback until the
// test ends.
func startEdge(t testing.TB, st *store.Store, hs *host.Service, au *auth.Service, ts *httptest.Server, log *slog.Logger,
	opt *EdgeOptions, cm *certs.Manager, httpLn, httpsLn net.Listener) (eg *edge.Edge, standIn *StandInCerts, httpAddr, httpsAddr string) {
	t.Helper()
	cfg := edge.Config{PortalURL: ts.URL}
	if opt != nil {
		cfg.Domain, cfg.TrustedProxies, cfg.DNSProvider = opt.Domain, opt.TrustedProxies, opt.DNSProvider
		if opt.Domain != "" {
			cfg.PortalURL = "" // StackHub through the edge, at https://<domain>:<port>
		}
	}
	var ec edge.Certs
	switch {
	case opt != nil && opt.Pebble != nil:
		ec = cm
	case opt != nil:
		standIn = NewStandInCerts(t)
		ec = standIn
	}
	eg = edge.New(st, hs, au, ts.Config.Handler, ec, log, cfg)
	hs.SetDomains(eg)
	if err := eg.Reload(context.Background()); err != nil {
		t.Fatalf("edge: %v", err)
	}
	if opt == nil {
		return eg, nil, "", ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := eg.Listen(ctx, httpLn, httpsLn); err != nil {
			t.Errorf("edge listeners: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return eg, standIn, httpLn.Addr().String(), httpsLn.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// As is who a request is sent as.
type As struct {
	UID      int64
	Passhash string
	Token    string // admin token, sent as a Bearer
}

// Admin sends requests with the admin token.
var Admin = As{Token: AdminToken}

// Anon sends requests without credentials.
var Anon = As{}

// Resp is a response, read whole.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// Text returns the body as a string.
func (r *Resp) Text() string { return string(r.Body) }

// JSON decodes the body into v, failing the test on error.
func (r *Resp) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Int parses the body as a decimal number.
func (r *Resp) Int(t testing.TB) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSpace(string(r.Body)), 10, 64)
	if err != nil {
		t.Fatalf("body %q is not a number (status %d)", r.Body, r.Status)
	}
	return n
}

// Do sends a request. A string body goes as text/plain, []byte as is (no content type), anything else as JSON.
func (s *Server) Do(as As, method, path string, body any, header ...string) *Resp {
	s.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "text/plain"
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatalf("encode body: %v", err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatalf("request: %v", err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if as.Token != "" {
		req.Header.Set("Authorization", "Bearer "+as.Token)
	}
	if as.UID != 0 {
		req.AddCookie(&http.Cookie{Name: "geekapk_uid", Value: strconv.FormatInt(as.UID, 10)})
		req.AddCookie(&http.Cookie{Name: "geekapk_passhash", Value: as.Passhash})
	}
	res, err := s.HTTP.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatalf("read %s %s: %v", method, path, err)
	}
	return &Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Want sends a request and fails the test unless the status is want.
func (s *Server) Want(want int, as As, method, path string, body any, header ...string) *Resp {
	s.t.Helper()
	r := s.Do(as, method, path, body, header...)
	if r.Status != want {
		s.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// Passhash is what a GeekApk client sends for a password: lowercase hex SHA-256.
func Passhash(password string) string {
	sum := sha256.Sum256([]byte(password))
	return hex.EncodeToString(sum[:])
}

// NewUser creates a user through the admin API and sets their password through the metapass flow.
func (s *Server) NewUser(simpleName string) As {
	s.t.Helper()
	r := s.Want(http.StatusCreated, Admin, "POST", "/doge/useradd", map[string]any{"simple_name": simpleName})
	uidText, metapass, ok := strings.Cut(r.Text(), ":")
	if !ok {
		s.t.Fatalf("useradd answered %q, want uid:metapass", r.Text())
	}
	uid, err := strconv.ParseInt(uidText, 10, 64)
	if err != nil {
		s.t.Fatalf("useradd uid %q: %v", uidText, err)
	}
	ph := Passhash("password of " + simpleName)
	s.Want(http.StatusOK, Anon, "PUT", fmt.Sprintf("/pass/%d/%s", uid, ph), metapass)
	return As{UID: uid, Passhash: ph}
}

// teeHandler sends each record to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.a.Enabled(ctx, l) || h.b.Enabled(ctx, l)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.a.Enabled(ctx, r.Level) {
		_ = h.a.Handle(ctx, r.Clone())
	}
	return h.b.Handle(ctx, r)
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{h.a.WithAttrs(as), h.b.WithAttrs(as)}
}

func (h teeHandler) WithGroup(n string) slog.Handler {
	return teeHandler{h.a.WithGroup(n), h.b.WithGroup(n)}
}

// listenLoopback listens on a free port of 127.0.0.1.
func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
