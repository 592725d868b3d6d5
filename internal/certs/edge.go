package certs

import (
	"context"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/edge"
)

// Attach makes m the edge's certificate manager's other half: routes with https "custom" need an uploaded
// certificate that covers their name, and the routes' answers and the app page show each name's certificate.
// (The edge's listeners take m itself, as their edge.Certs.)
func Attach(e *edge.Edge, m *Manager) {
	e.CustomCovers = func(_ context.Context, domain string) error {
		if m.Covers(domain) {
			return nil
		}
		return apperr.Field(apperr.Invalid, "https", "no uploaded certificate covers %s; upload one "+
			"(POST /api/v1/certificates or stackhub cert upload) or use https auto or internal", domain)
	}
	e.CertStatus = func(domain string) *edge.RouteCert {
		st, ok := m.Status(domain)
		if !ok {
			return nil
		}
		out := &edge.RouteCert{Issuer: st.Issuer, LastError: st.LastError}
		if st.NotAfter != nil {
			out.NotAfter = *st.NotAfter
		}
		return out
	}
}

// The edge's listeners use a Manager as their certificates.
var _ edge.Certs = (*Manager)(nil)
