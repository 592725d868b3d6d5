// Package certs holds the edge's certificates: obtained and renewed with ACME (certmagic), issued by StackHub's
// own CA for private names, or uploaded by the admin; all kept in the database (docs/edge.md §3–4).
package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"go.uber.org/zap"

	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// The https modes of a route (docs/edge.md §2) that hold a certificate.
const (
	ModeAuto     = "auto"     // ACME
	ModeInternal = "internal" // StackHub's own CA
	ModeCustom   = "custom"   // an uploaded certificate
)

// Sources of a certificate, as GET /api/v1/certificates names them.
const (
	SourceACME     = "acme"
	SourceInternal = "internal"
	SourceCustom   = "custom"
)

// Options configure a Manager.
type Options struct {
	Store  *store.Store
	Bus    *events.Bus // certificate.* events; may be nil
	Logger *slog.Logger

	Directory string         // the ACME directory URL
	Email     string         // the ACME account's contact
	Roots     *x509.CertPool // roots to trust talking to the ACME server; nil: the system's
	Profile   string         // an ACME profile to ask for (empty: the CA's default)

	DNS          certmagic.DNSProvider // DNS-01 for wildcard names; nil: wildcards cannot be served
	DNSResolvers []string              // resolvers to find a name's zone and check propagation; empty: the system's

	// HTTPPort and TLSPort are where the ACME server reaches this server for HTTP-01 and TLS-ALPN-01: the edge's
	// listeners, which answer through HTTPChallengeHandler and TLSConfig (default 80 and 443).
	HTTPPort, TLSPort int
	// DisableHTTPChallenge and DisableTLSALPNChallenge leave out one of the two (when a port is not reachable).
	DisableHTTPChallenge, DisableTLSALPNChallenge bool
	// RenewCheckInterval is how often the maintenance looks for certificates to renew (default certmagic's 10 min).
	RenewCheckInterval time.Duration
	// InternalLifetime is how long a leaf of the internal CA is valid (default 7 days).
	InternalLifetime time.Duration
}

// Manager holds the certificates of the names the edge serves. It is safe for concurrent use.
type Manager struct {
	log     *slog.Logger
	st      *store.Store
	bus     *events.Bus
	storage *Storage
	ca      *CA

	ctx       context.Context // issuance outlives the Sync call that asked for it
	cancel    context.CancelFunc
	closeOnce sync.Once
	caches    []*certmagic.Cache
	zap       *zap.Logger // certmagic's logs, into log

	acmeIssuer *certmagic.ACMEIssuer
	acme       *managed // HTTP-01 and TLS-ALPN-01
	dns        *managed // DNS-01 for wildcards; nil without a provider
	internal   *managed

	syncMu   sync.Mutex                    // one Sync at a time
	managing map[string]context.CancelFunc // the names given to certmagic, by syncMu

	mu     sync.RWMutex
	names  map[string]string // name → mode, as Sync gave them
	errs   map[string]string // name → the last failure to obtain or renew
	custom []uploaded        // the uploaded certificates, newest last
}

// New builds a Manager on o.Store and starts its maintenance (renewals). Close stops it.
func New(ctx context.Context, o Options) (*Manager, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ca, err := LoadCA(ctx, o.Store)
	if err != nil {
		return nil, err
	}
	if o.InternalLifetime > 0 {
		ca.Lifetime = o.InternalLifetime
	}
	mctx, cancel := context.WithCancel(context.Background())
	m := &Manager{log: o.Logger, st: o.Store, bus: o.Bus, storage: NewStorage(o.Store), ca: ca, ctx: mctx, zap: zapToSlog(o.Logger),
		cancel: cancel, managing: map[string]context.CancelFunc{}, names: map[string]string{}, errs: map[string]string{}}

	var iss *certmagic.ACMEIssuer
	m.acme, iss = m.acmeConfig(o, nil)
	m.acmeIssuer = iss
	if o.DNS != nil {
		m.dns, _ = m.acmeConfig(o, &certmagic.DNS01Solver{DNSManager: certmagic.DNSManager{
			DNSProvider: o.DNS, Resolvers: o.DNSResolvers}})
	}
	m.internal = m.newConfig(o, SourceInternal, m.allow(ModeInternal))
	m.internal.setIssuer(ca)
	if err := m.reloadCustom(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// managed is one source of certificates: a cache whose maintenance renews them, the config that obtains them
// in the background (Sync), and the config that serves them in handshakes. They are two because certmagic only
// allow-lists, and does not obtain, the names a config with OnDemand manages.
type managed struct {
	cache *certmagic.Cache
	bg    *certmagic.Config
	hs    *certmagic.Config // with OnDemand when a handshake may ask for a certificate; else bg
}

func (c *managed) setIssuer(iss certmagic.Issuer) {
	c.bg.Issuers = []certmagic.Issuer{iss}
	c.hs.Issuers = c.bg.Issuers
}

// newConfig returns a source on its own cache (each cache's maintenance renews with its own config).
func (m *Manager) newConfig(o Options, source string, decide func(context.Context, string) error) *managed {
	c := &managed{}
	c.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return c.bg, nil },
		RenewCheckInterval: o.RenewCheckInterval,
		Logger:             m.zap,
	})
	m.caches = append(m.caches, c.cache)
	tmpl := certmagic.Config{
		Storage: m.storage,
		Logger:  m.zap,
		// Let's Encrypt ended OCSP in 2025, and a private CA has none.
		OCSP: certmagic.OCSPConfig{DisableStapling: true},
		OnEvent: func(ctx context.Context, event string, data map[string]any) error {
			m.onEvent(c, source, event, data)
			return nil
		},
	}
	c.bg = certmagic.New(c.cache, tmpl)
	c.hs = c.bg
	if decide != nil {
		tmpl.OnDemand = &certmagic.OnDemandConfig{DecisionFunc: decide}
		c.hs = certmagic.New(c.cache, tmpl)
	}
	return c
}

// acmeConfig returns a source with one ACME issuer: HTTP-01 and TLS-ALPN-01 when dns01 is nil, DNS-01 otherwise.
func (m *Manager) acmeConfig(o Options, dns01 *certmagic.DNS01Solver) (*managed, *certmagic.ACMEIssuer) {
	var decide func(context.Context, string) error
	if dns01 == nil {
		decide = m.allow(ModeAuto) // a wildcard is obtained in the background only, never for one SNI name
	}
	c := m.newConfig(o, SourceACME, decide)
	tmpl := certmagic.ACMEIssuer{
		CA: o.Directory, TestCA: o.Directory, Email: o.Email, Agreed: true, TrustedRoots: o.Roots,
		Profile: o.Profile, AltHTTPPort: o.HTTPPort, AltTLSALPNPort: o.TLSPort, Logger: m.zap,
		DisableHTTPChallenge: o.DisableHTTPChallenge, DisableTLSALPNChallenge: o.DisableTLSALPNChallenge,
	}
	if dns01 != nil {
		tmpl.DNS01Solver = dns01
	}
	iss := certmagic.NewACMEIssuer(c.bg, tmpl)
	c.setIssuer(iss)
	return c, iss
}

// Close stops the maintenance goroutines; a second Close does nothing.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		m.cancel()
		for _, c := range m.caches {
			c.Stop()
		}
	})
}

// allow is the on-demand decision: a certificate is requested during a handshake only for a name Sync gave with
// mode; any other SNI name gets none.
func (m *Manager) allow(mode string) func(context.Context, string) error {
	return func(_ context.Context, name string) error {
		m.mu.RLock()
		defer m.mu.RUnlock()
		if m.names[strings.ToLower(name)] != mode || strings.HasPrefix(name, "*.") {
			return fmt.Errorf("%s is not a name StackHub serves with https %s", name, mode)
		}
		return nil
	}
}

// TLSConfig is the edge's TLS listener configuration: a certificate by SNI (uploaded, then ACME or internal by the
// name's mode), HTTP/2, HTTP/1.1 and the TLS-ALPN-01 challenge.
func (m *Manager) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: m.getCertificate,
		NextProtos:     []string{"h2", "http/1.1", acmez.ACMETLS1Protocol},
		MinVersion:     tls.VersionTLS12,
	}
}

// HTTPChallengeHandler answers ACME HTTP-01 challenges (also those another StackHub on the database started)
// and passes every other request to next.
func (m *Manager) HTTPChallengeHandler(next http.Handler) http.Handler {
	return m.acmeIssuer.HTTPChallengeHandler(next)
}

// errNoCertificate is what a handshake for a name without a certificate gets.
var errNoCertificate = errors.New("no certificate for this name")

func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	for _, p := range hello.SupportedProtos {
		if p == acmez.ACMETLS1Protocol {
			return m.acme.hs.GetCertificate(hello)
		}
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name == "" && hello.Conn != nil {
		if host, _, err := net.SplitHostPort(hello.Conn.LocalAddr().String()); err == nil {
			name = host
		}
	}
	if c := m.customFor(name); c != nil {
		return &c.cert, nil
	}
	key, mode := m.lookup(name)
	switch {
	case mode == ModeAuto && strings.HasPrefix(key, "*.") && m.dns != nil:
		return m.dns.hs.GetCertificate(hello)
	case mode == ModeAuto && !strings.HasPrefix(key, "*."):
		return m.acme.hs.GetCertificate(hello)
	case mode == ModeInternal:
		return m.internal.hs.GetCertificate(hello)
	}
	return nil, errNoCertificate
}

// lookup finds the Sync entry that serves name: the name itself, else the wildcard one label up.
func (m *Manager) lookup(name string) (key, mode string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if mode, ok := m.names[name]; ok {
		return name, mode
	}
	if _, rest, ok := strings.Cut(name, "."); ok {
		w := "*." + rest
		return w, m.names[w]
	}
	return "", ""
}

// Sync sets the names to hold certificates for (ASCII host name → https mode); names no longer given stop being
// renewed. Issuance runs in the background: Sync returns once each name's stored certificate is loaded.
func (m *Manager) Sync(ctx context.Context, names map[string]string) error {
	next := make(map[string]string, len(names))
	for n, mode := range names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		switch mode {
		case ModeAuto, ModeInternal, ModeCustom:
		default:
			return fmt.Errorf("certificate mode %q of %s: want auto, internal or custom", mode, n)
		}
		next[n] = mode
	}
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	m.mu.Lock()
	prev := m.names
	m.names = next
	m.mu.Unlock()
	m.forget(prev, next)
	if err := m.reloadCustom(ctx); err != nil {
		return err
	}
	var errs []error
	for n, mode := range next {
		if _, ok := m.managing[n]; ok {
			continue // obtained, or being obtained: certmagic retries by itself
		}
		src := m.sourceFor(n, mode)
		if src == nil {
			if mode == ModeAuto {
				m.setErr(n, "a wildcard name needs DNS-01: set STACKHUB_DNS_PROVIDER")
			}
			continue
		}
		// One context per name, so that removing the name also stops an obtain that is still retrying.
		nctx, cancel := context.WithCancel(m.ctx)
		m.managing[n] = cancel
		errs = append(errs, src.bg.ManageAsync(nctx, []string{n}))
	}
	return errors.Join(errs...)
}

// sourceFor is where a name of mode gets its certificate: nil for custom, and for a wildcard without DNS-01.
func (m *Manager) sourceFor(name, mode string) *managed {
	switch {
	case mode == ModeAuto && strings.HasPrefix(name, "*."):
		return m.dns
	case mode == ModeAuto:
		return m.acme
	case mode == ModeInternal:
		return m.internal
	}
	return nil
}

// forget stops obtaining and renewing the names prev had and next has not (or has with another mode).
func (m *Manager) forget(prev, next map[string]string) {
	var gone []certmagic.SubjectIssuer
	for n, mode := range prev {
		if next[n] == mode {
			continue
		}
		gone = append(gone, certmagic.SubjectIssuer{Subject: n})
		if cancel := m.managing[n]; cancel != nil {
			cancel()
			delete(m.managing, n)
		}
		m.setErr(n, "")
	}
	if len(gone) == 0 {
		return
	}
	for _, c := range m.caches {
		c.RemoveManaged(gone)
	}
}

func (m *Manager) setErr(name, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if msg == "" {
		delete(m.errs, name)
	} else {
		m.errs[name] = msg
	}
}

// RootPEM is the internal CA's root certificate (GET /api/v1/ca.pem).
func (m *Manager) RootPEM() []byte { return m.ca.RootPEM() }
