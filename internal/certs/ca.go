package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/stackhub/stackhub/internal/store"
)

// internalIssuerKey names the internal CA's certificates in storage, beside each ACME directory's.
const internalIssuerKey = "stackhub-internal"

// CA is StackHub's own certificate authority for private names (.lan, .local, .home.arpa, .internal, bare IPs):
// an ECDSA P-256 root generated once and kept in the database, which signs short-lived leaf certificates.
// certmagic drives it as an Issuer, so its leaves are stored, served and renewed like ACME ones.
type CA struct {
	root    *x509.Certificate
	rootPEM []byte
	key     *ecdsa.PrivateKey
	// Lifetime is how long a leaf is valid; certmagic renews it when a third is left.
	Lifetime time.Duration
}

var _ certmagic.Issuer = (*CA)(nil)

// LoadCA loads the internal CA's root from st, generating and storing it on the first call.
func LoadCA(ctx context.Context, st *store.Store) (*CA, error) {
	stored, err := st.Q().InternalCA(ctx)
	if errors.Is(err, store.ErrNotFound) {
		var fresh store.InternalCA
		if fresh, err = newRoot(); err != nil {
			return nil, err
		}
		err = st.Tx(ctx, func(q *store.Q) error {
			stored, err = q.EnsureInternalCA(ctx, fresh)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("internal CA: %w", err)
	}
	return parseCA(stored)
}

// newRoot generates a root valid for ten years.
func newRoot() (store.InternalCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return store.InternalCA{}, fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "StackHub Internal Root CA", Organization: []string{"StackHub"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return store.InternalCA{}, fmt.Errorf("sign CA root: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return store.InternalCA{}, fmt.Errorf("encode CA key: %w", err)
	}
	return store.InternalCA{
		CertPEM:   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyPEM:    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
		CreatedAt: now.UnixMilli(),
	}, nil
}

func parseCA(s *store.InternalCA) (*CA, error) {
	cb, _ := pem.Decode([]byte(s.CertPEM))
	kb, _ := pem.Decode([]byte(s.KeyPEM))
	if cb == nil || kb == nil {
		return nil, errors.New("internal CA: stored root is not PEM")
	}
	root, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("internal CA root: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, errors.New("internal CA: the stored key does not parse") // no detail: it is the key
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("internal CA: the stored key is not ECDSA")
	}
	return &CA{root: root, rootPEM: []byte(s.CertPEM), key: key, Lifetime: 7 * 24 * time.Hour}, nil
}

// RootPEM is the root certificate, for devices to trust (GET /api/v1/ca.pem).
func (ca *CA) RootPEM() []byte { return ca.rootPEM }

// IssuerKey tells certmagic where this issuer's certificates live in storage.
func (ca *CA) IssuerKey() string { return internalIssuerKey }

// Issue signs a leaf for the names and IPs of csr.
func (ca *CA) Issue(_ context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("internal CA: CSR signature: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: firstName(csr)},
		DNSNames:     csr.DNSNames,
		IPAddresses:  csr.IPAddresses,
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(ca.Lifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.root, csr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("internal CA: sign: %w", err)
	}
	return &certmagic.IssuedCertificate{Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

func firstName(csr *x509.CertificateRequest) string {
	if len(csr.DNSNames) > 0 {
		return csr.DNSNames[0]
	}
	if len(csr.IPAddresses) > 0 {
		return csr.IPAddresses[0].String()
	}
	return csr.Subject.CommonName
}

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}
