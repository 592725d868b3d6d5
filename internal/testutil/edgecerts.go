package testutil

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// StandInCerts is the edge's certificate manager in tests (edge.Certs): a root made here with crypto/x509 signs a
// certificate for any name in the synced set, and none for any other. HTTP-01 challenges pass through. Clients
// trust Pool alone. The coordinator's Pebble tests replace it with the real manager.
type StandInCerts struct {
	root    *x509.Certificate
	rootKey *ecdsa.PrivateKey
	Pool    *x509.CertPool

	mu     sync.Mutex
	names  map[string]string
	leaves map[string]*tls.Certificate
	syncs  int
}

// NewStandInCerts makes the root.
func NewStandInCerts(t testing.TB) *StandInCerts {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "StackHub test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &StandInCerts{root: root, rootKey: key, Pool: pool, names: map[string]string{}, leaves: map[string]*tls.Certificate{}}
}

// TLSConfig serves the synced names.
func (c *StandInCerts) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: c.get, NextProtos: []string{"h2", "http/1.1", "acme-tls/1"}, MinVersion: tls.VersionTLS12}
}

// HTTPChallengeHandler passes every request through: the stand-in never solves challenges.
func (c *StandInCerts) HTTPChallengeHandler(next http.Handler) http.Handler { return next }

// Sync records the set of names.
func (c *StandInCerts) Sync(_ context.Context, names map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names = map[string]string{}
	for k, v := range names {
		c.names[k] = v
	}
	c.syncs++
	return nil
}

// Names is the last synced set.
func (c *StandInCerts) Names() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for k, v := range c.names {
		out[k] = v
	}
	return out
}

func (c *StandInCerts) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(hello.ServerName)
	c.mu.Lock()
	defer c.mu.Unlock()
	covered := c.names[name] != ""
	if _, parent, ok := strings.Cut(name, "."); ok && c.names["*."+parent] != "" {
		covered = true
	}
	if !covered {
		return nil, fmt.Errorf("no certificate for %q", name)
	}
	if leaf := c.leaves[name]; leaf != nil {
		return leaf, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, c.root, &key.PublicKey, c.rootKey)
	if err != nil {
		return nil, err
	}
	leaf := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	c.leaves[name] = leaf
	return leaf, nil
}
