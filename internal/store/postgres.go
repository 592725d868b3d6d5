package store

import (
	"database/sql"
	"fmt"
	"net/url"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

func openPostgres(dsn string) (*Store, error) {
	db, err := sql.Open("pgx", withGenericPlans(dsn))
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// PostgreSQL takes concurrent writers; 20 connections cover a busy hub without exhausting max_connections.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	s := newStore(db, db, Postgres, false, false)
	s.dsn = dsn
	return s, nil
}

// withGenericPlans sets plan_cache_mode=force_generic_plan on the sessions, unless the DSN sets it. pgx prepares
// every statement and caches it per connection; LIMIT and OFFSET are parameters (see paged), and PostgreSQL costs
// a generic plan with a parameter LIMIT as if it returned 10% of the rows, so on a list like GET /app/all it
// would keep choosing custom plans and plan the query again on every run. The lists filter on a key and walk an
// index in their order (migration 00003), or sort a filtered set (by stars, size...) either way, so the generic
// plan is the one a custom plan picks. (plan_cache_mode needs PostgreSQL 12 or later.)
func withGenericPlans(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn // pgx reports it (url.Parse's error would quote the password)
	}
	q := u.Query()
	if q.Has("plan_cache_mode") {
		return dsn
	}
	q.Set("plan_cache_mode", "force_generic_plan")
	u.RawQuery = q.Encode()
	return u.String()
}
