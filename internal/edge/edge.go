// Package edge is StackHub's own reverse proxy in front of every installed app and of StackHub itself
// (docs/edge.md): the route table's rules (routes.go), an in-memory snapshot of it rebuilt on every change
// (snapshot.go), the proxy on both listeners (proxy.go) and per-route access control (access.go).
//
// Certificates are not made here: Certs is the seam to the certificate manager (internal/certs implements it).
// The edge gives it the set of names to hold certificates for (Sync, at start and on every route change), takes
// its TLS configuration for the HTTPS listener, and lets it answer ACME HTTP-01 challenges first on the plain
// HTTP listener. Whether an uploaded certificate covers a name (https "custom") is asked through CustomCovers,
// and a route's certificate status through CertStatus; both are wired by whoever builds the edge.
package edge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/store"
)

// Certs is what the edge needs from the certificate manager (internal/certs implements it).
type Certs interface {
	// TLSConfig is the listener's TLS configuration: GetCertificate by SNI, NextProtos including "h2",
	// "http/1.1" and "acme-tls/1" (TLS-ALPN-01).
	TLSConfig() *tls.Config
	// HTTPChallengeHandler answers ACME HTTP-01 challenges on the plain HTTP listener and passes every other
	// request to next.
	HTTPChallengeHandler(next http.Handler) http.Handler
	// Sync gives the full set of names to hold certificates for: host name (ASCII, may be "*.example.com") →
	// https mode ("auto", "internal", "custom"); names with mode "off" are not given. Called at start and on
	// every route change; it must not block on issuance.
	Sync(ctx context.Context, names map[string]string) error
}

// RouteCert is what the UI shows of a name's certificate.
type RouteCert struct {
	Issuer    string    `json:"issuer"`
	NotAfter  time.Time `json:"not_after"`
	LastError string    `json:"last_error,omitempty"`
}

// Config are the edge's settings.
type Config struct {
	// Domain is StackHub's own name: requests for it go to the main handler.
	Domain string
	// PortalURL is where a visitor signs in to StackHub (scheme://host[:port], no path): https://<Domain> through
	// the edge, or the main listener's address. Empty: derived from Domain and the HTTPS listener.
	PortalURL string
	// TrustedProxies are the peers whose X-Forwarded-* headers are believed.
	TrustedProxies []netip.Prefix
	// DNSProvider is STACKHUB_DNS_PROVIDER: without one, no wildcard name gets a public certificate.
	DNSProvider string
}

// Edge is the proxy and the routes service.
type Edge struct {
	store *store.Store
	host  *host.Service
	auth  *auth.Service
	log   *slog.Logger
	cfg   Config
	main  http.Handler // StackHub itself, served at cfg.Domain

	certs Certs
	// CustomCovers says whether an uploaded certificate covers a name; nil refuses https "custom".
	CustomCovers func(ctx context.Context, domain string) error
	// CertStatus reports a name's certificate for the UI; nil shows none.
	CertStatus func(domain string) *RouteCert

	snap      atomic.Pointer[snapshot]
	reloadMu  sync.Mutex // one rebuild at a time, so an older one never overwrites a newer
	codes     codes
	key       []byte // signs app-domain session cookies; random per process
	basic     basicCache
	limiter   *auth.Limiter // failed basic logins per route and client address
	transport *http.Transport
	httpPort  atomic.Int32 // the listeners' ports, for redirects (0: not listening)
	httpsPort atomic.Int32

	fastServed, handedOff atomic.Int64 // see ProxyCounts
}

// New returns the edge over the route table in st. main serves StackHub itself at cfg.Domain; certs may be nil
// (no HTTPS listener, no certificates). Call Reload once before serving.
func New(st *store.Store, hs *host.Service, au *auth.Service, main http.Handler, certs Certs, log *slog.Logger, cfg Config) *Edge {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	e := &Edge{store: st, host: hs, auth: au, log: log, cfg: cfg, main: main, certs: certs, key: key,
		codes: codes{m: map[string]codeEntry{}}, basic: basicCache{m: map[string]time.Time{}},
		// Ten wrong basic logins a minute per route and client: enough for typos, too few for guessing, and it bounds
		// the argon2id work a stranger can make the edge do.
		limiter: auth.NewLimiter(10, time.Minute)}
	e.transport = &http.Transport{
		Proxy:                 nil, // apps are on this host; an environment proxy must not see their traffic
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// The client's Accept-Encoding goes to the app as sent: without this, a request that has none would ask
		// the app for gzip and the edge would spend its CPU inflating the answer again.
		DisableCompression: true,
	}
	e.snap.Store(&snapshot{})
	return e
}

// Listen serves the plain HTTP listener (httpLn) and the TLS one (httpsLn) until ctx ends; either may be nil.
func (e *Edge) Listen(ctx context.Context, httpLn, httpsLn net.Listener) error {
	var servers []*http.Server
	var fast fastConns
	// Handshakes for names without a certificate are routine on a public address: debug, not stderr.
	errLog := slog.NewLogLogger(e.log.Handler(), slog.LevelDebug)
	errc := make(chan error, 3)
	if httpLn != nil {
		e.httpPort.Store(int32(portOf(httpLn.Addr())))
		var h http.Handler = e.Handler(false)
		if e.certs != nil {
			h = e.certs.HTTPChallengeHandler(h)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: headerTimeout, IdleTimeout: idleTimeout, ErrorLog: errLog}
		servers = append(servers, srv)
		go func() { errc <- srv.Serve(httpLn) }()
	}
	if httpsLn != nil {
		if e.certs == nil {
			return errors.New("edge: an HTTPS listener needs a certificate manager")
		}
		e.httpsPort.Store(int32(portOf(httpsLn.Addr())))
		tc := e.certs.TLSConfig().Clone()
		if !slices.Contains(tc.NextProtos, "http/1.1") {
			tc.NextProtos = append(tc.NextProtos, "http/1.1")
		}
		// The fast path (fast.go) takes the HTTP/1.1 connections and hands the others to srv, which turns HTTP/2
		// on for a TLS configuration that offers "h2".
		srv := &http.Server{Handler: withTLSState(e.Handler(true)), TLSConfig: tc, ReadHeaderTimeout: headerTimeout,
			IdleTimeout: idleTimeout, ErrorLog: errLog, ConnContext: connContext}
		servers = append(servers, srv)
		hand := newHandoff(httpsLn.Addr())
		go func() { errc <- srv.Serve(hand) }()
		go func() { errc <- e.serveTLS(httpsLn, tc, hand, &fast) }()
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if httpsLn != nil {
		_ = httpsLn.Close()
	}
	var wg sync.WaitGroup
	wg.Go(func() { fast.shutdown(sctx) })
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func portOf(a net.Addr) int {
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// Reload rebuilds the route snapshot from the database and gives the certificate manager the new set of names.
func (e *Edge) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	routes, err := e.store.Q().Routes(ctx, "")
	if err != nil {
		return fmt.Errorf("edge routes: %w", err)
	}
	s := e.build(ctx, routes)
	e.snap.Store(s)
	if e.certs != nil {
		if err := e.certs.Sync(ctx, s.names(e.cfg.Domain)); err != nil {
			return fmt.Errorf("edge certificates: %w", err)
		}
	}
	return nil
}

// Changed rebuilds the snapshot after the host recorded or removed routes (host.Domains).
func (e *Edge) Changed(ctx context.Context) {
	if err := e.Reload(context.WithoutCancel(ctx)); err != nil {
		e.log.Error("edge reload", "err", err)
	}
}

// Follow rebuilds the snapshot after every install.status event on bus until ctx ends: on a cluster engine a
// route's upstream is the node where the app's task runs, which changes when a job ends or a task moves
// (host.WatchNodes publishes those). The rebuild runs off the publisher's goroutine, one at a time; events that
// arrive during one are served by one more.
func (e *Edge) Follow(ctx context.Context, bus *events.Bus) {
	kick := make(chan struct{}, 1)
	cancel := bus.Subscribe(func(ev events.Event) {
		if ev.Type != events.InstallStatus {
			return
		}
		select {
		case kick <- struct{}{}:
		default: // a rebuild is already due
		}
	})
	go func() {
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				e.Changed(ctx)
			}
		}
	}()
}
