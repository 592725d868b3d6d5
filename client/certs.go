package client

import (
	"context"
	"net/http"
	"strconv"

	"github.com/stackhub/stackhub/internal/certs"
)

// Certificate is one entry of GET /api/v1/certificates.
type Certificate = certs.CertStatus

// Certificates lists the uploaded certificates and each name the edge serves.
func (c *Client) Certificates(ctx context.Context) ([]Certificate, error) {
	var out []Certificate
	return out, c.do(ctx, http.MethodGet, "/api/v1/certificates", nil, &out)
}

// UploadCertificate uploads a certificate chain (PEM, leaf first) and its private key.
func (c *Client) UploadCertificate(ctx context.Context, certPEM, keyPEM string) (*Certificate, error) {
	var out Certificate
	body := map[string]string{"cert_pem": certPEM, "key_pem": keyPEM}
	return &out, c.do(ctx, http.MethodPost, "/api/v1/certificates", body, &out)
}

// RemoveCertificate removes an uploaded certificate.
func (c *Client) RemoveCertificate(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/certificates/"+strconv.FormatInt(id, 10), nil, nil)
}
