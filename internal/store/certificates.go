package store

import (
	"context"
	"fmt"
	"strings"
)

// Certificate is a certificate the admin uploaded, with its private key.
type Certificate struct {
	ID        int64
	Names     []string // DNS names and IP addresses it covers
	Issuer    string
	NotBefore int64 // ms
	NotAfter  int64 // ms
	CertPEM   string
	KeyPEM    string
	CreatedAt int64
}

// AddCertificate inserts c and sets its ID.
func (q *Q) AddCertificate(ctx context.Context, c *Certificate) error {
	err := q.db.QueryRowContext(ctx, `INSERT INTO certificates (names, issuer, not_before, not_after, cert_pem, key_pem,
		created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, strings.Join(c.Names, "\n"), c.Issuer,
		c.NotBefore, c.NotAfter, c.CertPEM, c.KeyPEM, c.CreatedAt).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("insert certificate: %w", mapErr(err))
	}
	return nil
}

// Certificates lists every uploaded certificate, oldest first.
func (q *Q) Certificates(ctx context.Context) ([]Certificate, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT id, names, issuer, not_before, not_after, cert_pem, key_pem, created_at
		FROM certificates ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", mapErr(err))
	}
	defer rows.Close()
	var cs []Certificate
	for rows.Next() {
		var c Certificate
		var names string
		if err := rows.Scan(&c.ID, &names, &c.Issuer, &c.NotBefore, &c.NotAfter, &c.CertPEM, &c.KeyPEM, &c.CreatedAt); err != nil {
			return nil, fmt.Errorf("certificates: %w", err)
		}
		c.Names = strings.Split(names, "\n")
		cs = append(cs, c)
	}
	return cs, wrapErr(rows.Err(), "certificates")
}

// DeleteCertificate removes the uploaded certificate id; ErrNotFound when there is none.
func (q *Q) DeleteCertificate(ctx context.Context, id int64) error {
	return wrapErr(q.execOne(ctx, `DELETE FROM certificates WHERE id = $1`, id), "delete certificate %d", id)
}

// InternalCA is the root of StackHub's own CA for private names.
type InternalCA struct {
	CertPEM   string
	KeyPEM    string
	CreatedAt int64
}

// EnsureInternalCA stores ca unless a root is already there, and returns the root that is: two processes
// starting together on one database end up with the same root.
func (q *Q) EnsureInternalCA(ctx context.Context, ca InternalCA) (*InternalCA, error) {
	if _, err := q.exec(ctx, `INSERT INTO internal_ca (id, cert_pem, key_pem, created_at) VALUES (1, $1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, ca.CertPEM, ca.KeyPEM, ca.CreatedAt); err != nil {
		return nil, fmt.Errorf("insert internal CA: %w", err)
	}
	return q.InternalCA(ctx)
}

// InternalCA loads the internal CA's root; ErrNotFound before the first EnsureInternalCA.
func (q *Q) InternalCA(ctx context.Context) (*InternalCA, error) {
	var ca InternalCA
	err := q.db.QueryRowContext(ctx, `SELECT cert_pem, key_pem, created_at FROM internal_ca WHERE id = 1`).
		Scan(&ca.CertPEM, &ca.KeyPEM, &ca.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("internal CA: %w", mapErr(err))
	}
	return &ca, nil
}
