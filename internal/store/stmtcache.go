package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// maxCachedStmts bounds a statement cache. The store's SQL texts are a finite set (a few hundred counting every
// sort key, direction and search field; LIMIT and OFFSET are bind parameters, and IN-lists, whose text varies
// with their length, bypass the cache through Q.raw), so the bound is a safety net: once it is reached, further
// texts simply run unprepared, as they all did before the cache.
const maxCachedStmts = 512

// stmtCache prepares each SQL text once per pool and reuses the *sql.Stmt, which database/sql prepares on each of
// the pool's connections the first time it runs there. modernc.org/sqlite has no statement cache of its own, so
// without this every query is compiled again by SQLite's parser (most of a simple read's CPU). It implements
// querier for queries outside transactions; stmtTx uses it inside them.
type stmtCache struct {
	db    *sql.DB
	max   int64
	n     atomic.Int64 // statements stored, or being prepared under a reserved slot
	stmts sync.Map     // SQL text → *sql.Stmt
}

func newStmtCache(db *sql.DB, max int) *stmtCache {
	return &stmtCache{db: db, max: int64(max)}
}

// stmt returns the prepared statement for query, preparing it on first use; nil when the cache is full or the
// text does not prepare (the caller then runs it unprepared, which reports the error as usual).
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	if v, ok := c.stmts.Load(query); ok {
		return v.(*sql.Stmt)
	}
	if c.n.Add(1) > c.max {
		c.n.Add(-1)
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		c.n.Add(-1)
		return nil
	}
	if v, loaded := c.stmts.LoadOrStore(query, st); loaded {
		// Another goroutine prepared the same text meanwhile: keep theirs.
		st.Close()
		c.n.Add(-1)
		return v.(*sql.Stmt)
	}
	return st
}

// close closes every cached statement; the cache must not be used afterwards.
func (c *stmtCache) close() error {
	var errs []error
	c.stmts.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		c.stmts.Delete(k)
		return true
	})
	return errors.Join(errs...)
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.db.ExecContext(ctx, query, args...)
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return sqlRows(st.QueryContext(ctx, args...))
	}
	return sqlRows(c.db.QueryContext(ctx, query, args...))
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// stmtTx runs a transaction's queries through the statements its pool has cached: tx.StmtContext binds one to the
// transaction, reusing the compiled statement already on the transaction's connection. A text not cached yet runs
// unprepared and is remembered, to be prepared on the pool once the transaction has ended (preparing it on the
// pool now could wait forever for the connection this very transaction holds: SQLite's write pool has one).
// The statements a transaction binds are closed with it; the cached ones stay.
//
// One caveat: modernc.org/sqlite runs a prepared statement on its single compiled program, so inside one
// transaction a text must not be run again while rows of an earlier run of the same text are still open (the
// second run would reset the first's cursor). Every Q method reads its rows to the end before it returns, so this
// cannot happen through Q; outside transactions the pool never shares a connection, so it cannot happen there.
type stmtTx struct {
	tx     *sql.Tx
	c      *stmtCache
	mu     sync.Mutex // a transaction may be shared by goroutines, as *sql.Tx allows
	missed []string
}

func (t *stmtTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if v, ok := t.c.stmts.Load(query); ok {
		return t.tx.StmtContext(ctx, v.(*sql.Stmt))
	}
	t.mu.Lock()
	if int64(len(t.missed)) < t.c.max {
		t.missed = append(t.missed, query)
	}
	t.mu.Unlock()
	return nil
}

// prepareMissed caches the texts the transaction ran unprepared; it runs after the transaction has ended.
func (t *stmtTx) prepareMissed(ctx context.Context) {
	t.mu.Lock()
	missed := t.missed
	t.missed = nil
	t.mu.Unlock()
	for _, q := range missed {
		t.c.stmt(ctx, q)
	}
}

func (t *stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *stmtTx) QueryContext(ctx context.Context, query string, args ...any) (rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return sqlRows(st.QueryContext(ctx, args...))
	}
	return sqlRows(t.tx.QueryContext(ctx, query, args...))
}

func (t *stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}
