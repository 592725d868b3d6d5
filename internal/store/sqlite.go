package store

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	"modernc.org/sqlite"
)

// fold is the case-insensitive search function; SQLite's own lower() folds ASCII only, so this one folds all of
// Unicode with Go's rules. PostgreSQL gets the same function from its migration.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("fold", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return strings.ToLower(v), nil
		case []byte:
			return strings.ToLower(string(v)), nil
		default:
			return v, nil
		}
	})
}

func openSQLite(path string) (*Store, error) {
	path = strings.TrimPrefix(strings.TrimPrefix(path, "sqlite://"), "file:")
	if path == "" {
		return nil, fmt.Errorf("open sqlite: empty path")
	}
	if err := ensureDir(path); err != nil {
		return nil, err
	}
	// WAL lets readers run beside the one writer; the busy timeout rides out checkpoints; foreign keys are off by
	// default in SQLite. synchronous=NORMAL is durable in WAL mode except against power loss of the last commit.
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(10000)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	// IMMEDIATE takes the write lock at BEGIN, so a transaction never fails halfway when it upgrades to writing.
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()

	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// SQLite has one writer; one connection queues writers in Go instead of in busy retries.
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(max(4, runtime.NumCPU()*2))
	read.SetMaxIdleConns(max(4, runtime.NumCPU()*2))
	return newStore(read, write, SQLite, true, true), nil
}
