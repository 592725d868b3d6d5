package store

import (
	"context"
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
// cancellation. On PostgreSQL, pgxReads does the same on pgx's own interface.
type detachedReads struct{ querier }

// detach returns ctx without its cancellation for a SELECT while ctx is live; a done ctx is kept, so the query
// reports its error.
func detach(ctx context.Context, query string) context.Context {
	if ctx.Done() == nil || ctx.Err() != nil || !strings.HasPrefix(query, "SELECT ") {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

func (d detachedReads) QueryContext(ctx context.Context, query string, args ...any) (rows, error) {
	return d.querier.QueryContext(detach(ctx, query), query, args...)
}

func (d detachedReads) QueryRowContext(ctx context.Context, query string, args ...any) row {
	return d.querier.QueryRowContext(detach(ctx, query), query, args...)
}
