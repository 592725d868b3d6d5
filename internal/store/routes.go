package store

import (
	"context"
	"fmt"
)

// Route is one row of the edge's route table: Domain (ASCII, maybe "*.example.com") and the path prefix Path are
// served by the install Instance. BasicUsers is JSON [{"user", "hash"}] with argon2id hashes; Allow is JSON
// ["CIDR", ...].
type Route struct {
	ID         int64
	Instance   string
	Domain     string
	Path       string
	StripPath  bool
	Service    string
	Port       int
	HTTPS      string
	Redirect   bool
	Access     string
	BasicUsers string
	Allow      string
	CreatedAt  int64
}

const routeCols = `id, instance, domain, path, strip_path, service, port, https, redirect, access, basic_users, allow,
	created_at`

func scanRoute(row rowScanner) (*Route, error) {
	var r Route
	err := row.Scan(&r.ID, &r.Instance, &r.Domain, &r.Path, &r.StripPath, &r.Service, &r.Port, &r.HTTPS, &r.Redirect,
		&r.Access, &r.BasicUsers, &r.Allow, &r.CreatedAt)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// CreateRoute inserts r (its ID is set); a domain and path already routed is ErrConflict, an instance that does
// not exist ErrInUse.
func (q *Q) CreateRoute(ctx context.Context, r *Route) error {
	err := q.db.QueryRowContext(ctx, `INSERT INTO routes (instance, domain, path, strip_path, service, port, https,
		redirect, access, basic_users, allow, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING id`, r.Instance, r.Domain, r.Path, r.StripPath, r.Service, r.Port, r.HTTPS, r.Redirect, r.Access,
		r.BasicUsers, r.Allow, r.CreatedAt).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("insert route %s%s: %w", r.Domain, r.Path, mapErr(err))
	}
	return nil
}

// Routes lists the routes of one instance, or of all when instance is "", oldest first.
func (q *Q) Routes(ctx context.Context, instance string) ([]Route, error) {
	where, args := "", []any{}
	if instance != "" {
		where, args = ` WHERE instance = $1`, []any{instance}
	}
	return queryRows(ctx, q.db, scanRoute, `SELECT `+routeCols+` FROM routes`+where+` ORDER BY created_at, id`, args...)
}

// RouteAt loads the route of domain and path.
func (q *Q) RouteAt(ctx context.Context, domain, path string) (*Route, error) {
	r, err := scanRoute(q.db.QueryRowContext(ctx, `SELECT `+routeCols+` FROM routes WHERE domain = $1 AND path = $2`,
		domain, path))
	if err != nil {
		return nil, fmt.Errorf("route %s%s: %w", domain, path, mapErr(err))
	}
	return r, nil
}

// DeleteRoute removes the instance's route of domain and path; none is ErrNotFound.
func (q *Q) DeleteRoute(ctx context.Context, instance, domain, path string) error {
	return q.execOne(ctx, `DELETE FROM routes WHERE instance = $1 AND domain = $2 AND path = $3`, instance, domain, path)
}
