// Package store holds every SQL statement of StackHub. One SQL text serves SQLite and PostgreSQL ($n placeholders,
// ON CONFLICT, RETURNING); only the DDL differs per dialect (see migrations/).
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the SQL engine behind a Store.
type Dialect string

// The two supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// querier runs the store's SQL: database/sql's *sql.DB, *sql.Conn and *sql.Tx (through sqlQuerier), the
// statement caches, or pgx itself (pgxReads).
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) row
}

// rows is a query's result set: a *sql.Rows, or pgx's rows (pgxRows).
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// row is a one-row query's result: a *sql.Row, or pgx's.
type row interface{ Scan(dest ...any) error }

// sqlDB is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type sqlDB interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqlQuerier is the querier of a database/sql handle.
type sqlQuerier struct{ db sqlDB }

func (q sqlQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.db.ExecContext(ctx, query, args...)
}

func (q sqlQuerier) QueryContext(ctx context.Context, query string, args ...any) (rows, error) {
	return sqlRows(q.db.QueryContext(ctx, query, args...))
}

// sqlRows returns database/sql's rows as rows, without wrapping a nil *sql.Rows in a non-nil interface.
func sqlRows(r *sql.Rows, err error) (rows, error) {
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (q sqlQuerier) QueryRowContext(ctx context.Context, query string, args ...any) row {
	return q.db.QueryRowContext(ctx, query, args...)
}

// Q runs queries on one connection or transaction. Every query method of the store hangs off Q, so the same
// method works alone (Store.Q) or as one step of a larger transaction (Store.Tx).
type Q struct {
	db querier // through the statement cache where there is one: every text of a fixed shape goes here
	// raw is the same pool or transaction without the cache, for texts built with a variable number of
	// placeholders (IN-lists), which would each take a cache slot for one use.
	raw querier
	// reads keeps the results of some reads (see readCache); nil in a transaction, whose reads must see its own
	// writes.
	reads *readCache
	// pg is set in a transaction on PostgreSQL, for the advisory locks that SQLite's one writer does not need.
	pg bool
}

// Store is the database. Reads go to a pool; writes go through Tx.
type Store struct {
	read    *sql.DB
	write   *sql.DB
	dialect Dialect
	q       *Q // queries outside transactions, on the read pool; Q holds no state, so one serves every caller
	// readStmts and writeStmts cache prepared statements per SQL text (nil: none). SQLite needs them, since
	// modernc.org/sqlite compiles the SQL of every unprepared query again; pgx has a per-connection statement
	// cache of its own.
	readStmts, writeStmts *stmtCache
	dsn                   string        // PostgreSQL's, for connections of their own (LISTEN); empty on SQLite
	pool                  *pgxpool.Pool // PostgreSQL's connections, under read and write alike; nil on SQLite
	reads                 readCache     // off until CacheReads
	stopSolo              func()        // ends the solo lock's watch (CacheReads on PostgreSQL); nil without one
}

// newStore assembles a Store over its pools. cacheRead and cacheWrite turn on the statement caches.
func newStore(read, write *sql.DB, d Dialect, cacheRead, cacheWrite bool) *Store {
	s := &Store{read: read, write: write, dialect: d, q: &Q{db: sqlQuerier{read}, raw: sqlQuerier{read}}}
	if cacheRead {
		s.readStmts = newStmtCache(read, maxCachedStmts)
		s.q.db = s.readStmts
	}
	s.q.db = detachedReads{s.q.db}
	if cacheWrite {
		s.writeStmts = newStmtCache(write, maxCachedStmts)
	}
	return s
}

// Open connects to dsn and runs the migrations. An empty dsn or a path opens SQLite (created if missing);
// postgres:// or postgresql:// opens PostgreSQL.
func Open(ctx context.Context, dsn string) (*Store, error) {
	var s *Store
	var err error
	if IsPostgres(dsn) {
		s, err = openPostgres(dsn)
	} else {
		s, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	s.q.reads = &s.reads
	s.q.db = trackWrites{s.q.db, &s.reads}
	s.q.raw = trackWrites{s.q.raw, &s.reads}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// migrations is goose's provider of the store's dialect's migrations, on the write pool.
func (s *Store) migrations() (*goose.Provider, error) {
	dir, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", s.dialect, err)
	}
	gd := goose.DialectSQLite3
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
	}
	p, err := goose.NewProvider(gd, s.write, dir)
	if err != nil {
		return nil, fmt.Errorf("migration provider: %w", err)
	}
	return p, nil
}

func (s *Store) migrate(ctx context.Context) error {
	p, err := s.migrations()
	if err != nil {
		return err
	}
	if s.dialect == Postgres {
		// Replicas may start together on a new database: one migrates, the others wait here and then find nothing
		// left to apply (without the lock, two would run migration 1 at once, and one would fail).
		release, err := s.lock(ctx, migrateLock)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", s.dialect, err)
		}
		defer release()
		// A process of the release before may cache reads alone: it stops before the migrations write, or it
		// would serve rows they rewrote from its cache for up to MaxCacheAge.
		pending, err := p.HasPending(ctx)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", s.dialect, err)
		}
		if pending {
			release, err := s.quiesce(ctx)
			if err != nil {
				return fmt.Errorf("migrate %s: %w", s.dialect, err)
			}
			defer release()
		}
	}
	applied, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.dialect, err)
	}
	if len(applied) > 0 {
		// goose parses each migration with 4 MiB scan buffers that it keeps in a sync.Pool (16 MiB of them on
		// two cores); two collections free them, before they set the heap goal for the rest of the start: a
		// first start peaked at 54 MB of RSS with them, 41 MB without.
		runtime.GC()
		runtime.GC()
	}
	return nil
}

// Dialect tells which engine this store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close closes the cached statements and the pools.
func (s *Store) Close() error {
	if s.stopSolo != nil {
		s.stopSolo()
	}
	var err error
	for _, c := range []*stmtCache{s.readStmts, s.writeStmts} {
		if c != nil {
			err = errors.Join(err, c.close())
		}
	}
	err = errors.Join(err, s.read.Close())
	if s.write != s.read {
		err = errors.Join(err, s.write.Close())
	}
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }

// Q returns queries that run outside any transaction, on the read pool.
func (s *Store) Q() *Q { return s.q }

// Tx runs fn in one write transaction: everything fn does commits together or not at all.
func (s *Store) Tx(ctx context.Context, fn func(q *Q) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer s.reads.written()
	q := &Q{db: sqlQuerier{tx}, raw: sqlQuerier{tx}, pg: s.dialect == Postgres}
	if s.writeStmts != nil {
		st := &stmtTx{tx: tx, c: s.writeStmts}
		q.db = st
		defer st.prepareMissed(ctx)
	}
	if err := fn(q); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// DefaultSQLitePath is where the SQLite database lives inside a data directory.
func DefaultSQLitePath(dataDir string) string { return filepath.Join(dataDir, "stackhub.db") }

func ensureDir(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}
