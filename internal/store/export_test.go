package store

import (
	"context"
	"time"
)

// CachedStatements counts the statements in the read and write caches (0 where there is none).
func (s *Store) CachedStatements() (read, write int) {
	if s.readStmts != nil {
		read = s.readStmts.len()
	}
	if s.writeStmts != nil {
		write = s.writeStmts.len()
	}
	return read, write
}

// HasStatementCache tells whether the store's read pool caches prepared statements.
func (s *Store) HasStatementCache() bool { return s.readStmts != nil }

// LimitStatementCaches lowers the bound of both caches, for tests of the bound; call it before any query.
func (s *Store) LimitStatementCaches(n int) {
	for _, c := range []*stmtCache{s.readStmts, s.writeStmts} {
		if c != nil {
			c.max = int64(n)
		}
	}
}

// len counts the cached statements; only tests need the count.
func (c *stmtCache) len() int {
	n := 0
	c.stmts.Range(func(_, _ any) bool { n++; return true })
	return n
}

// MaxCachedStatements is the production bound of a cache.
const MaxCachedStatements = maxCachedStmts

// SearchFoldingRows is the search as it was before migration 00021: fold() of each row's column at query time
// (field "" is the store page's name, package or description). Tests compare the stored copies against it.
func (s *Store) SearchFoldingRows(ctx context.Context, field, keyword string) ([]int64, error) {
	col := map[string]string{"name": "fold(app_name)", "pkg": "fold(package_name)", "desc": "fold(app_description)",
		"": "fold(app_name) LIKE $1 ESCAPE '\\' OR fold(COALESCE(package_name, '')) LIKE $1 ESCAPE '\\' OR fold(app_description)"}[field]
	return s.q.searchIDs(ctx, Page{Limit: 1000}, `SELECT id FROM apps WHERE id <> 0 AND (`+col+` LIKE $1 ESCAPE '\')
		ORDER BY id`, likePattern(keyword))
}

// Caching tells whether the read cache is on.
func (s *Store) Caching() bool { return s.reads.on.Load() }

// SoloRetry sets how often a process that shares the solo lock tries to take it alone, until the test ends.
func SoloRetry(t interface{ Cleanup(func()) }, d time.Duration) {
	old := soloRetry
	soloRetry = d
	t.Cleanup(func() { soloRetry = old })
}

// ShortenCacheAge sets how long the read cache's entries serve; call it before any read.
func (s *Store) ShortenCacheAge(d time.Duration) { s.reads.maxAge = d }

// StackFileBodies lists the bodies stored in stack_files, sorted.
func (s *Store) StackFileBodies(ctx context.Context) ([]string, error) {
	return queryRows(ctx, sqlQuerier{s.read}, scanString, `SELECT body FROM stack_files ORDER BY body`)
}

// CacheGeneration is the read cache's generation: it moves when the cache is turned off or on, and with the store's
// own writes.
func (s *Store) CacheGeneration() uint64 { return s.reads.gen.Load() }

// RollBackLastMigration undoes the newest migration on the PostgreSQL database at dsn, as if it ran a release
// before it: the next Open applies it again.
func RollBackLastMigration(ctx context.Context, dsn string) error {
	s, err := openPostgres(dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	p, err := s.migrations()
	if err != nil {
		return err
	}
	_, err = p.Down(ctx)
	return err
}

// Quiesce is what migrate holds while migrations run.
func (s *Store) Quiesce(ctx context.Context) (release func(), err error) { return s.quiesce(ctx) }
