package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
)

// uploaded is an uploaded certificate ready to serve.
type uploaded struct {
	row  store.Certificate
	cert tls.Certificate
	leaf *x509.Certificate
}

// Upload checks an uploaded certificate chain and its key and stores them; from then on the certificate is
// served for the names it covers, before any ACME or internal one. It is refused, naming the field, when the
// chain does not parse, the key does not parse or does not match, or the certificate has expired.
func (m *Manager) Upload(ctx context.Context, a auth.Actor, certPEM, keyPEM string) (*CertStatus, error) {
	if err := authorize(a); err != nil {
		return nil, err
	}
	u, err := parseUpload(certPEM, keyPEM, time.Now())
	if err != nil {
		return nil, err
	}
	u.row.CreatedAt = time.Now().UnixMilli()
	if err := m.st.Tx(ctx, func(q *store.Q) error { return q.AddCertificate(ctx, &u.row) }); err != nil {
		return nil, apperr.Wrap(apperr.Internal, err, "could not store the certificate")
	}
	if err := m.reloadCustom(ctx); err != nil {
		return nil, apperr.Wrap(apperr.Internal, err, "could not load the certificates")
	}
	st := u.status()
	return &st, nil
}

func parseUpload(certPEM, keyPEM string, now time.Time) (*uploaded, error) {
	var chain [][]byte
	rest := []byte(certPEM)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, apperr.Field(apperr.Invalid, "cert_pem", "cert_pem holds a %s block; want only CERTIFICATE blocks, the leaf first", b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, apperr.Field(apperr.Invalid, "cert_pem", "certificate %d of the chain does not parse: %v", len(chain)+1, err)
		}
		chain = append(chain, b.Bytes)
	}
	if len(chain) == 0 {
		return nil, apperr.Field(apperr.Invalid, "cert_pem", "cert_pem holds no PEM certificate; want the chain, leaf first")
	}
	kb, _ := pem.Decode([]byte(keyPEM))
	if kb == nil || !strings.HasSuffix(kb.Type, "PRIVATE KEY") {
		return nil, apperr.Field(apperr.Invalid, "key_pem", "key_pem holds no PEM private key")
	}
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, apperr.Field(apperr.Invalid, "key_pem", "the private key does not match the certificate")
		}
		return nil, apperr.Field(apperr.Invalid, "key_pem", "the private key does not parse: want PKCS#8, PKCS#1 or EC")
	}
	leaf := pair.Leaf
	if now.After(leaf.NotAfter) {
		return nil, apperr.Field(apperr.Invalid, "cert_pem", "the certificate expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return nil, apperr.Field(apperr.Invalid, "cert_pem", "the certificate names no DNS name or IP address (subjectAltName)")
	}
	for i := range names {
		names[i] = strings.ToLower(names[i])
	}
	return &uploaded{cert: pair, leaf: leaf, row: store.Certificate{Names: names, Issuer: issuerName(leaf),
		NotBefore: leaf.NotBefore.UnixMilli(), NotAfter: leaf.NotAfter.UnixMilli(), CertPEM: certPEM, KeyPEM: keyPEM}}, nil
}

// Delete removes the uploaded certificate id; its names fall back to ACME or the internal CA by their mode.
func (m *Manager) Delete(ctx context.Context, a auth.Actor, id int64) error {
	if err := authorize(a); err != nil {
		return err
	}
	err := m.st.Tx(ctx, func(q *store.Q) error { return q.DeleteCertificate(ctx, id) })
	if errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.NotFound, "no uploaded certificate %d", id)
	}
	if err != nil {
		return apperr.Wrap(apperr.Internal, err, "could not delete the certificate")
	}
	return m.reloadCustom(ctx)
}

// reloadCustom reads the uploaded certificates from the database (another StackHub may have changed them).
func (m *Manager) reloadCustom(ctx context.Context) error {
	rows, err := m.st.Q().Certificates(ctx)
	if err != nil {
		return err
	}
	var us []uploaded
	for _, r := range rows {
		pair, err := tls.X509KeyPair([]byte(r.CertPEM), []byte(r.KeyPEM))
		if err != nil {
			m.log.Warn("an uploaded certificate no longer loads", "id", r.ID, "err", err)
			continue
		}
		us = append(us, uploaded{row: r, cert: pair, leaf: pair.Leaf})
	}
	m.mu.Lock()
	m.custom = us
	m.mu.Unlock()
	return nil
}

// customFor is the uploaded certificate that covers name and has not expired, the one valid longest.
func (m *Manager) customFor(name string) *uploaded {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := time.Now()
	var best *uploaded
	for i := range m.custom {
		u := &m.custom[i]
		if now.After(u.leaf.NotAfter) || !u.covers(name) {
			continue
		}
		if best == nil || u.leaf.NotAfter.After(best.leaf.NotAfter) {
			best = u
		}
	}
	return best
}

// Covers tells whether an uploaded, unexpired certificate covers name (a route with https "custom" needs one).
func (m *Manager) Covers(name string) bool {
	return m.customFor(strings.ToLower(strings.TrimSuffix(name, "."))) != nil
}

func (u *uploaded) covers(name string) bool {
	for _, n := range u.row.Names {
		if matchName(n, name) {
			return true
		}
	}
	return false
}

// matchName tells whether a certificate name (maybe a wildcard) covers host; a wildcard covers one label, and
// host may itself be that wildcard.
func matchName(pattern, host string) bool {
	if pattern == host {
		return true
	}
	if net.ParseIP(host) != nil || !strings.HasPrefix(pattern, "*.") {
		return false
	}
	label, rest, ok := strings.Cut(host, ".")
	return ok && label != "" && label != "*" && "*."+rest == pattern
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return fmt.Sprint(c.Issuer)
}

// authorize is the one place that says who may see and change certificates: the admin, for now (an operator
// role will be allowed too).
func authorize(a auth.Actor) error {
	switch {
	case a.Admin:
		return nil
	case a.User:
		return apperr.New(apperr.Forbidden, "Only the admin may manage certificates")
	}
	return apperr.New(apperr.Unauthorized, "Unauthorized, the admin token is required")
}
