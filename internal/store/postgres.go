package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// maxPostgresConns bounds the pool: PostgreSQL takes concurrent writers, and 20 connections cover a busy hub
// without exhausting max_connections when several replicas share the server.
const maxPostgresConns = 20

func openPostgres(dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(withGenericPlans(dsn))
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	cfg.MaxConns = maxPostgresConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg) // connects lazily
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// database/sql (transactions, migrations, locks) borrows its connections from the same pool, so the reads
	// below and everything else share the one bound.
	db := stdlib.OpenDBFromPool(pool)
	s := newStore(db, db, Postgres, false, false)
	s.q.db = pgxReads{pool: pool, exec: db}
	s.pool = pool
	s.dsn = dsn
	return s, nil
}

// pgxReads runs Store.Q's fixed-shape queries (Q.db; not transactions, not Q.raw) on pgx's own interface. Through
// database/sql, pgx turns every column into a driver.Value that database/sql converts again into the destination,
// and database/sql's pool and Rows bookkeeping add their own locks and allocations: about a third of the client
// CPU of a lookup by key (BenchmarkAppByID). pgx scans the wire format straight into the destinations. SELECTs are
// detached from their context's cancellation as on SQLite (see detachedReads); ExecContext goes through
// database/sql, whose sql.Result the callers read.
type pgxReads struct {
	pool *pgxpool.Pool
	exec *sql.DB
}

func (p pgxReads) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.exec.ExecContext(ctx, query, args...)
}

func (p pgxReads) QueryContext(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := p.pool.Query(detach(ctx, query), query, args...)
	if err != nil {
		return nil, err
	}
	return pgxRows{r}, nil
}

func (p pgxReads) QueryRowContext(ctx context.Context, query string, args ...any) row {
	return p.pool.QueryRow(detach(ctx, query), query, args...)
}

// pgxRows gives pgx's rows database/sql's Close signature; the query's error, if any, is in Err as there.
type pgxRows struct{ pgx.Rows }

func (r pgxRows) Close() error {
	r.Rows.Close()
	return nil
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
