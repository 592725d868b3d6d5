// Package acmetest runs a real ACME server in process for tests: Pebble (its ca, db, va and wfe packages) serving
// its directory over HTTPS on loopback, validating HTTP-01 and TLS-ALPN-01 on two loopback ports whose listeners
// the tests fill with their own handlers, and DNS-01 through a loopback DNS server (package DNS) that is also
// Pebble's resolver. One Pebble serves a whole test package (Shared).
package acmetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// Zone is the DNS zone of the test names: every name under it resolves to 127.0.0.1.
const Zone = "stackhub.test"

// DefaultProfile is the ACME profile of long-lived (90-day) certificates. Name it in every order: Pebble picks a
// profile at random for an order that names none, so a test that counts orders would otherwise get a short-lived
// certificate, renewed under it, half the time.
const DefaultProfile = "default"

// ShortProfile is the ACME profile whose certificates live ShortLifetime, for renewal tests.
const ShortProfile = "shortlived"

// ShortLifetime is how long a ShortProfile certificate is valid.
const ShortLifetime = 30 * time.Second

// Pebble is a running ACME server.
type Pebble struct {
	DirectoryURL  string
	ServerRootPEM []byte         // the root of the directory's own HTTPS certificate: trust it to talk to Pebble
	ServerRoots   *x509.CertPool // the same as a pool
	// HTTPPort and TLSPort are where Pebble validates HTTP-01 and TLS-ALPN-01, on 127.0.0.1; Serve puts a test's
	// handlers there.
	HTTPPort, TLSPort int
	DNS               *DNS

	ca      *ca.CAImpl
	orders  atomic.Int64
	http    atomic.Pointer[http.Handler]
	tls     atomic.Pointer[tls.Config]
	httpFwd atomic.Pointer[string] // Forward's targets: while set, the validation ports pass connections on
	tlsFwd  atomic.Pointer[string]
	close   func()
}

var (
	sharedOnce sync.Once
	shared     *Pebble
	sharedErr  error
)

// Shared returns the package's Pebble, started on first use; it runs until the test binary exits.
func Shared(t testing.TB) *Pebble {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = Start() })
	if sharedErr != nil {
		t.Fatalf("start Pebble: %v", sharedErr)
	}
	return shared
}

// Start starts Pebble, its challenge listeners and its DNS server.
func Start() (*Pebble, error) {
	// Validate at once (no random sleeps), and really validate.
	os.Setenv("PEBBLE_VA_NOSLEEP", "1")
	os.Unsetenv("PEBBLE_VA_ALWAYS_VALID")
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	d, err := StartDNS(Zone, "stackhub-test-key", base64.StdEncoding.EncodeToString(secret))
	if err != nil {
		return nil, fmt.Errorf("DNS: %w", err)
	}
	p := &Pebble{DNS: d}
	var closers []func()
	closers = append(closers, d.Close)
	fail := func(err error) (*Pebble, error) {
		for _, c := range closers {
			c()
		}
		return nil, err
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { httpLn.Close() })
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { tlsLn.Close() })
	p.HTTPPort, p.TLSPort = httpLn.Addr().(*net.TCPAddr).Port, tlsLn.Addr().(*net.TCPAddr).Port
	httpFw, tlsFw := &forwarder{Listener: httpLn, to: &p.httpFwd}, &forwarder{Listener: tlsLn, to: &p.tlsFwd}
	go (&http.Server{Handler: http.HandlerFunc(p.serveHTTP), ReadHeaderTimeout: time.Minute, ErrorLog: quiet}).Serve(httpFw) //nolint:errcheck
	go (&http.Server{Handler: http.HandlerFunc(p.serveHTTP), ReadHeaderTimeout: time.Minute, ErrorLog: quiet}).Serve(        //nolint:errcheck
		tls.NewListener(tlsFw, &tls.Config{GetConfigForClient: p.tlsConfig}))

	logger := log.New(io.Discard, "", 0)
	if os.Getenv("ACMETEST_LOG") != "" {
		logger = log.New(os.Stderr, "pebble ", log.LstdFlags)
	}
	store := db.NewMemoryStore()
	p.ca = ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		DefaultProfile: {Description: "90 days"},
		ShortProfile:   {Description: "short-lived, for renewal tests", ValidityPeriod: uint64(ShortLifetime / time.Second)},
	})
	v := va.New(logger, p.HTTPPort, p.TLSPort, false, d.Addr, store)
	w := wfe.New(logger, store, v, p.ca, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	rootPEM, serverCert, err := serverCertificate()
	if err != nil {
		return fail(err)
	}
	p.ServerRootPEM = rootPEM
	p.ServerRoots = x509.NewCertPool()
	p.ServerRoots.AppendCertsFromPEM(rootPEM)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	handler := w.Handler()
	srv := &http.Server{ReadHeaderTimeout: time.Minute, ErrorLog: quiet, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/order-plz" {
			handler.ServeHTTP(rw, r)
			return
		}
		// Count the orders created, not the attempts: Pebble refuses some nonces on purpose, and the client
		// sends the request again.
		sw := &statusWriter{ResponseWriter: rw}
		handler.ServeHTTP(sw, r)
		if sw.status == http.StatusCreated {
			p.orders.Add(1)
		}
	})}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{serverCert}})) //nolint:errcheck
	closers = append(closers, func() { srv.Close() })
	p.DirectoryURL = "https://" + ln.Addr().String() + wfe.DirectoryPath
	p.close = func() {
		for _, c := range closers {
			c()
		}
	}
	return p, nil
}

// Close stops everything Start started.
func (p *Pebble) Close() { p.close() }

// Orders counts the orders Pebble has created: one per certificate obtained or renewed.
func (p *Pebble) Orders() int64 { return p.orders.Load() }

// IssuerRootPEM is the root Pebble signs certificates under: clients that verify an issued certificate trust it.
func (p *Pebble) IssuerRootPEM() []byte { return p.ca.GetRootCert(0).PEM() }

// IssuerRoots is IssuerRootPEM as a pool.
func (p *Pebble) IssuerRoots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.IssuerRootPEM())
	return pool
}

// IssuingCAPEM is the intermediate that signs the certificates.
func (p *Pebble) IssuingCAPEM() []byte { return p.ca.GetIntermediateCert(0).PEM() }

// Serve puts a test's challenge answerers on the validation ports until the test ends: h on the HTTP port (an
// HTTP-01 handler), and the TLS port's connections handshaken with cfg (TLS-ALPN-01).
func (p *Pebble) Serve(t testing.TB, h http.Handler, cfg *tls.Config) {
	p.http.Store(&h)
	p.tls.Store(cfg)
	t.Cleanup(func() {
		p.http.Store(nil)
		p.tls.Store(nil)
	})
}

// Forward passes the validation ports' connections, as they are, to a server of another process until the test
// ends: the HTTP port's to httpAddr, the TLS port's to tlsAddr (host:port). A real CA reaches a server at ports
// 80 and 443; this is how a test's server on other loopback ports is reached instead.
func (p *Pebble) Forward(t testing.TB, httpAddr, tlsAddr string) {
	p.httpFwd.Store(&httpAddr)
	p.tlsFwd.Store(&tlsAddr)
	t.Cleanup(func() {
		p.httpFwd.Store(nil)
		p.tlsFwd.Store(nil)
	})
}

// forwarder is a listener that, while to holds an address, copies each connection to it and back instead of
// returning it.
type forwarder struct {
	net.Listener
	to *atomic.Pointer[string]
}

func (f *forwarder) Accept() (net.Conn, error) {
	for {
		c, err := f.Listener.Accept()
		if err != nil {
			return nil, err
		}
		to := f.to.Load()
		if to == nil {
			return c, nil
		}
		go pipe(c, *to)
	}
}

// pipe copies c to a connection to addr and back until either side closes.
func pipe(c net.Conn, addr string) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (p *Pebble) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := p.http.Load()
	if h == nil {
		http.Error(w, "no test is serving challenges", http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}

func (p *Pebble) tlsConfig(*tls.ClientHelloInfo) (*tls.Config, error) {
	cfg := p.tls.Load()
	if cfg == nil {
		return nil, errors.New("no test is serving TLS")
	}
	return cfg, nil
}

// Name returns a fresh name in Zone for one test (so tests never share a certificate).
func Name(label string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%x.%s", strings.ToLower(label), b, Zone)
}

// WaitFor polls cond until it holds or a minute has passed (a guard against hangs, not a timing).
func WaitFor(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// serverCertificate makes a throw-away root and a certificate for 127.0.0.1 and localhost signed by it.
func serverCertificate() ([]byte, tls.Certificate, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acmetest server root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	root, _ := x509.ParseCertificate(rootDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, &key.PublicKey, rootKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// quiet drops the servers' own logs (handshakes cut short by clients that only probe).
var quiet = log.New(io.Discard, "", 0)

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}
