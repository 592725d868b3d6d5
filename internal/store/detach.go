package store

import (
	"context"
	"database/sql"
	"strings"
)

// detachedReads runs the SELECTs of Store.Q that go through Q.db (texts of a fixed shape, on the read pool)
// without watching their context's cancellation, on both engines.
//
// Watching a cancellable context, as an HTTP request's is, costs a goroutine per query in database/sql
// (Rows.awaitDone) and more in the driver (modernc.org/sqlite starts another, interruptOnDone; pgx registers a
// context.AfterFunc): about 4 µs of CPU per query on SQLite, more than a cached lookup by key takes, and about
// 10 µs on PostgreSQL, where the extra goroutine wakes an idle thread while the query waits on the network. These
// SELECTs are short (a lookup by key, a page of an index, at worst a sort of one table's ids) and neither engine
// makes a reader wait for a writer (SQLite's WAL, PostgreSQL's MVCC), so they run to the end instead. Writes
// through Store.Q (they may wait for a lock), transactions, and the open-ended searches (Q.raw) keep their
// cancellation.
type detachedReads struct{ querier }

// detach returns ctx without its cancellation for a SELECT, when ctx is still live; ok is false when ctx is
// already done (the caller then runs the query with ctx, which reports the error).
func detach(ctx context.Context, query string) (_ context.Context, ok bool) {
	if ctx.Done() == nil || !strings.HasPrefix(query, "SELECT ") {
		return ctx, true
	}
	if ctx.Err() != nil {
		return ctx, false
	}
	return context.WithoutCancel(ctx), true
}

func (d detachedReads) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	dctx, _ := detach(ctx, query)
	return d.querier.QueryContext(dctx, query, args...)
}

func (d detachedReads) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	dctx, _ := detach(ctx, query)
	return d.querier.QueryRowContext(dctx, query, args...)
}
