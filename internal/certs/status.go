package certs

import (
	"context"
	"crypto/x509"
	"slices"
	"strings"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
)

// CertStatus is what GET /api/v1/certificates and the app page show of one certificate.
type CertStatus struct {
	ID          int64      `json:"id,omitempty"` // an uploaded certificate's id
	Names       []string   `json:"names"`
	Source      string     `json:"source"` // acme, internal or custom
	Issuer      string     `json:"issuer,omitempty"`
	NotBefore   *time.Time `json:"not_before,omitempty"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
	NextRenewal *time.Time `json:"next_renewal,omitempty"` // none for an uploaded one: the admin renews it
	LastError   string     `json:"last_error,omitempty"`
}

func (u *uploaded) status() CertStatus {
	nb, na := u.leaf.NotBefore.UTC(), u.leaf.NotAfter.UTC()
	return CertStatus{ID: u.row.ID, Names: u.row.Names, Source: SourceCustom, Issuer: u.row.Issuer,
		NotBefore: &nb, NotAfter: &na}
}

// Status tells how name is served: by an uploaded certificate, else by its mode's (ACME or internal); false when
// nothing serves it (not a name Sync gave, and no uploaded certificate covers it).
func (m *Manager) Status(name string) (CertStatus, bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if u := m.customFor(name); u != nil {
		return u.status(), true
	}
	key, mode := m.lookup(name)
	st := CertStatus{Names: []string{key}}
	switch mode {
	case ModeAuto:
		st.Source = SourceACME
	case ModeInternal:
		st.Source = SourceInternal
	case ModeCustom:
		st.Source = SourceCustom
	default:
		return CertStatus{}, false
	}
	src := m.sourceFor(key, mode)
	m.mu.RLock()
	st.LastError = m.errs[key]
	m.mu.RUnlock()
	if leaf := m.cached(src, key); leaf != nil {
		nb, na := leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
		next := na.Add(-na.Sub(nb) / 3) // certmagic's default renewal window: the last third
		st.Issuer, st.NotBefore, st.NotAfter, st.NextRenewal = issuerName(leaf), &nb, &na, &next
	}
	return st, true
}

// cached is the newest certificate src's cache holds for name.
func (m *Manager) cached(src *managed, name string) *x509.Certificate {
	if src == nil {
		return nil
	}
	var best *x509.Certificate
	for _, c := range src.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil && (best == nil || c.Leaf.NotAfter.After(best.NotAfter)) {
			best = c.Leaf
		}
	}
	return best
}

// List is every uploaded certificate, then every name Sync gave with the certificate serving it.
func (m *Manager) List(ctx context.Context, a auth.Actor) ([]CertStatus, error) {
	if err := authorize(a); err != nil {
		return nil, err
	}
	if err := m.reloadCustom(ctx); err != nil {
		return nil, err
	}
	m.mu.RLock()
	out := make([]CertStatus, 0, len(m.custom)+len(m.names))
	for i := range m.custom {
		out = append(out, m.custom[i].status())
	}
	var names []string
	for n, mode := range m.names {
		if mode != ModeCustom {
			names = append(names, n)
		}
	}
	m.mu.RUnlock()
	slices.Sort(names)
	for _, n := range names {
		if st, ok := m.Status(n); ok && st.Source != SourceCustom {
			out = append(out, st)
		}
	}
	return out, nil
}
