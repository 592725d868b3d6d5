package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// soloLock is the PostgreSQL advisory lock behind the read cache: the one process that caches holds it
// exclusively, every other StackHub process on the database holds it shared, and asks on soloChannel for it
// before it writes anything.
const (
	soloLock    = 0x5354_4b48_0002
	soloChannel = "stackhub_solo"
)

// soloWait is how long a process waits for the soloist to let go.
const soloWait = 30 * time.Second

// soloRetry is how often a process that shares the lock tries to take it alone (the others may have gone), and
// how often the one holding it alone checks the heartbeats (check); tests shorten it.
var soloRetry = 5 * time.Second

// CacheReads turns the read cache (readCache) on for as long as it is right: at once on SQLite, which serves
// one process (serve holds LockSQLite); on PostgreSQL while this process is the only StackHub process on the
// database. There it returns once this process may write without leaving another's cache stale: it holds the
// solo lock, alone (caching) or shared (not); a process that starts later makes this one stop caching before it
// goes on, and a process left alone takes the lock and caches again. log reports losing the lock's connection.
func (s *Store) CacheReads(ctx context.Context, log *slog.Logger) error {
	if s.dialect == SQLite {
		s.reads.enable()
		return nil
	}
	so := &solo{s: s, log: log, retry: soloRetry}
	if err := so.join(ctx); err != nil {
		return err
	}
	// Only Close ends the watch, not ctx: a server shutting down still writes (requests drain, jobs finish), so it
	// holds the lock until its store closes.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		so.watch(wctx)
	}()
	s.stopSolo = func() {
		cancel()
		<-done
	}
	return nil
}

// solo holds the solo lock on a connection of its own, which also listens on soloChannel.
type solo struct {
	s     *Store
	log   *slog.Logger
	conn  *pgx.Conn
	alone bool // holds the lock exclusively (and caches while check finds no other process)
	retry time.Duration
}

// join connects, listens, and takes the lock: alone if nobody holds it, otherwise shared, asking the soloist
// (if any) to share until it does.
func (so *solo) join(ctx context.Context) error {
	c, err := so.s.ListenConn(ctx)
	if err != nil {
		return err
	}
	so.conn = c
	if err := so.take(ctx); err != nil {
		so.drop()
		return err
	}
	return nil
}

func (so *solo) take(ctx context.Context) error {
	alone, err := so.acquire(ctx, false)
	if err != nil || !alone {
		return err
	}
	so.alone = true
	return so.check(ctx)
}

// acquire takes the lock on so.conn: alone (true) if nobody holds it, unless shared asks never to hold it alone,
// otherwise shared, asking the soloist (if any) to share until it does. It reads no table.
func (so *solo) acquire(ctx context.Context, shared bool) (alone bool, err error) {
	// lock_timeout bounds each wait for the shared lock below, so that the ask is repeated.
	if _, err := so.conn.Exec(ctx, `LISTEN `+soloChannel+`; SET lock_timeout = '1s'`); err != nil {
		return false, fmt.Errorf("solo lock: listen: %w", err)
	}
	first := `SELECT pg_try_advisory_lock($1)`
	if shared {
		first = `SELECT pg_try_advisory_lock_shared($1)` // fails only while a soloist holds it alone
	}
	if ok, err := so.try(ctx, first); err != nil || ok {
		return ok && !shared, err
	}
	// Someone holds it: shared (nothing to wait for) or alone, and then it shares once asked. Waiting in the
	// lock's queue, this process also keeps the holder from taking it alone again meanwhile.
	deadline := time.Now().Add(soloWait)
	for {
		// Two statements: a notification leaves when its transaction commits.
		if _, err := so.conn.Exec(ctx, `SELECT pg_notify('`+soloChannel+`', '')`); err != nil {
			return false, fmt.Errorf("solo lock: ask to share: %w", err)
		}
		_, err := so.conn.Exec(ctx, `SELECT pg_advisory_lock_shared($1)`, int64(soloLock))
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return false, nil
		case !errors.As(err, &pgErr) || pgErr.Code != "55P03": // lock_not_available: lock_timeout passed
			return false, fmt.Errorf("solo lock: %w", err)
		case time.Now().After(deadline):
			return false, fmt.Errorf("another StackHub process on this database has held the read cache's lock "+
				"(advisory lock %d) for %s without letting go: is it hung? (see pg_locks)", soloLock, soloWait)
		}
	}
}

// quiesce holds the solo lock shared on a connection of its own until release, having asked a process that caches
// reads alone to share it first: then no process caches while this one writes before it has joined (its
// migrations). Shared, never alone: a process joining meanwhile (one of an older release, which does not wait for
// the migration lock, or one that lost its lock's connection) takes it shared at once instead of asking a
// holder that does not listen. It reads no table, so it works on a database of any age.
func (s *Store) quiesce(ctx context.Context) (release func(), err error) {
	c, err := s.ListenConn(ctx)
	if err != nil {
		return nil, err
	}
	so := &solo{s: s, conn: c}
	if _, err := so.acquire(ctx, true); err != nil {
		_ = c.Close(context.Background())
		return nil, err
	}
	return func() {
		// Unlocked before the close, whose backend may end a moment later: the caller joins right after.
		_, _ = c.Exec(context.Background(), `SELECT pg_advisory_unlock_all()`)
		_ = c.Close(context.Background())
	}, nil
}

// drop stops the cache and closes the connection, which lets go of the lock.
func (so *solo) drop() {
	so.s.reads.disable()
	so.alone = false
	_ = so.conn.Close(context.Background())
}

func (so *solo) try(ctx context.Context, query string) (bool, error) {
	var ok bool
	if err := so.conn.QueryRow(ctx, query, int64(soloLock)).Scan(&ok); err != nil {
		return false, fmt.Errorf("solo lock: %w", err)
	}
	return ok, nil
}

// wait waits up to d for another process's notification; asked is false on a timeout.
func (so *solo) wait(ctx context.Context, d time.Duration) (asked bool, err error) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		n, err := so.conn.WaitForNotification(wctx)
		switch {
		case err != nil && wctx.Err() != nil && ctx.Err() == nil && !so.conn.IsClosed():
			return false, nil
		case err != nil:
			return false, fmt.Errorf("solo lock: %w", err)
		case n.PID != so.conn.PgConn().PID(): // one's own asking, left from take, is no news
			return true, nil
		}
	}
}

// watch keeps the lock until ctx ends: alone, it shares as soon as another process asks; shared, it tries now and
// then to take it alone. A lost connection stops the cache at once; it joins again.
func (so *solo) watch(ctx context.Context) {
	defer so.drop()
	for ctx.Err() == nil {
		err := so.step(ctx)
		if err == nil || ctx.Err() != nil {
			continue
		}
		so.log.Warn("the read cache's lock connection failed; reads go to the database until it is back", "err", err)
		so.drop()
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			if err := so.join(ctx); err == nil {
				break
			}
		}
	}
}

// check turns the cache on or off, the lock held alone, by the processes' heartbeats: a process that lost its
// lock's connection (and writes while it joins again), or one of a release before the lock, still beats in
// cluster_processes. At most one row (this process's own, or none yet) is alone.
func (so *solo) check(ctx context.Context) error {
	var n int
	if err := so.conn.QueryRow(ctx, `SELECT count(*) FROM cluster_processes`).Scan(&n); err != nil {
		return fmt.Errorf("solo lock: count processes: %w", err)
	}
	if n > 1 {
		so.s.reads.disable()
	} else if !so.s.reads.on.Load() {
		so.s.reads.enable()
	}
	return nil
}

func (so *solo) step(ctx context.Context) error {
	if so.alone {
		asked, err := so.wait(ctx, so.retry)
		if err != nil {
			return err
		}
		if !asked {
			return so.check(ctx)
		}
		// Another process asks: stop caching before it may write.
		so.s.reads.disable()
		so.alone = false
		if _, err := so.conn.Exec(ctx, `SELECT pg_advisory_lock_shared($1)`, int64(soloLock)); err != nil {
			return fmt.Errorf("solo lock: share: %w", err)
		}
		_, err = so.try(ctx, `SELECT pg_advisory_unlock($1)`)
		return err
	}
	if asked, err := so.wait(ctx, so.retry); err != nil || asked {
		return err
	}
	ok, err := so.try(ctx, `SELECT pg_try_advisory_lock($1)`)
	if err != nil || !ok {
		return err
	}
	so.alone = true
	if _, err := so.try(ctx, `SELECT pg_advisory_unlock_shared($1)`); err != nil {
		return err
	}
	return so.check(ctx)
}
