package store

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// IsPostgres tells whether dsn names a PostgreSQL database (otherwise it is a SQLite path).
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// LockSQLite takes an exclusive lock on a file beside the SQLite database at dsn, held until unlock or the end of
// the process, so that a second server on the same file refuses to start: SQLite serves one process, and replicas
// need PostgreSQL (the events, presence and limits of one process would not reach the other).
func LockSQLite(dsn string) (unlock func(), err error) {
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if err := ensureDir(path); err != nil {
		return nil, err
	}
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another StackHub process is using the SQLite database %s (it holds %s): "+
				"SQLite serves one process; to run replicas, use PostgreSQL (--database postgres://...)", path, name)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
