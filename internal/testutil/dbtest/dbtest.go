// Package dbtest gives tests fresh databases on every engine StackHub supports: real SQLite files and, when
// STACKHUB_TEST_POSTGRES is set, a throw-away database on a real PostgreSQL server. It imports nothing above the
// store, so the internal tests of any package (hub's, say) can run on both engines; testutil re-exports it.
//
// Running every migration for every test costs about a second of CPU under the race detector, and the suite opens
// hundreds of databases; so each test process migrates one template per engine, the first time a test asks, and
// every test gets a copy of it: SQLite's file copied, PostgreSQL's database created from it (CREATE DATABASE …
// TEMPLATE). A copy is what the migrations make, and store.Open still runs them on it (nothing left to apply).
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/stackhub/stackhub/internal/store"
)

// PostgresEnv names the variable holding the DSN of the test PostgreSQL server.
const PostgresEnv = "STACKHUB_TEST_POSTGRES"

// Engine is one database engine to run a test on.
type Engine struct {
	Name string
	// DSN returns a fresh, empty (migrated) database for one test, removed when the test ends.
	DSN func(t testing.TB) string
	// Blank returns a new database with no tables at all, as a first start finds it, removed when the test ends.
	Blank func(t testing.TB) string
}

// Engines lists SQLite always, and PostgreSQL when STACKHUB_TEST_POSTGRES is set. In CI (CI=true) PostgreSQL is
// required: a run without it fails instead of quietly testing half.
func Engines(t testing.TB) []Engine {
	es := []Engine{{Name: "sqlite", DSN: sqliteFile, Blank: func(t testing.TB) string {
		return filepath.Join(t.TempDir(), "stackhub.db")
	}}}
	if dsn := os.Getenv(PostgresEnv); dsn != "" {
		es = append(es, Engine{Name: "postgres",
			DSN:   func(t testing.TB) string { return pgDatabase(t, dsn, true) },
			Blank: func(t testing.TB) string { return pgDatabase(t, dsn, false) }})
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set; CI must run the suite on PostgreSQL too (make test sets it)", PostgresEnv)
	}
	return es
}

// ForEachEngine runs fn as a subtest on every engine.
func ForEachEngine(t *testing.T, fn func(t *testing.T, e Engine)) {
	for _, e := range Engines(t) {
		t.Run(e.Name, func(t *testing.T) { fn(t, e) })
	}
}

// ForEachEngineParallel is ForEachEngine with the engines' subtests running at the same time (t.Parallel): for a
// test that mostly waits (on Docker, a health check, a lease), whose runs share nothing but what is safe to share
// (random names and prefixes, ports from testports or :0). Like any parallel subtests, they start once the calling
// test function returns, so the call ends the function.
func ForEachEngineParallel(t *testing.T, fn func(t *testing.T, e Engine)) {
	for _, e := range Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, e)
		})
	}
}

// sqliteTemplate is the migrated database file, once made.
var sqliteTemplate struct {
	once sync.Once
	data []byte
	err  error
}

// sqliteFile writes a copy of the migrated template into the test's temporary directory.
func sqliteFile(t testing.TB) string {
	t.Helper()
	sqliteTemplate.once.Do(func() { sqliteTemplate.data, sqliteTemplate.err = migratedSQLite() })
	if sqliteTemplate.err != nil {
		t.Fatalf("migrate the SQLite template: %v", sqliteTemplate.err)
	}
	path := filepath.Join(t.TempDir(), "stackhub.db")
	if err := os.WriteFile(path, sqliteTemplate.data, 0o644); err != nil {
		t.Fatalf("copy the SQLite template: %v", err)
	}
	return path
}

// migratedSQLite migrates a new database file and returns its content. Closing the store checkpoints the
// write-ahead log into the file, so the file alone is the whole database.
func migratedSQLite() ([]byte, error) {
	dir, err := os.MkdirTemp("", "stackhub-dbtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "stackhub.db")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("%s-wal holds %d bytes after the store closed", path, fi.Size())
	}
	return os.ReadFile(path)
}

// pg is the process's connection to the test PostgreSQL server (its own database) and its template database.
var pg struct {
	once     sync.Once
	admin    *sql.DB
	template string
	err      error
}

// pgPrefix starts the names of this machine's test databases: sht_<host>_<pid>_…, so that a later process can
// drop what a killed one left behind (its pid is gone) without touching another machine's.
func pgPrefix() string {
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host))
	return "sht_" + hex.EncodeToString(sum[:4]) + "_"
}

// pgDatabase creates a database, from the migrated template or blank, and returns a DSN for it; the database is
// dropped when the test ends.
func pgDatabase(t testing.TB, dsn string, migrated bool) string {
	t.Helper()
	pg.once.Do(func() { pg.admin, pg.template, pg.err = pgTemplate(dsn) })
	if pg.err != nil {
		t.Fatalf("PostgreSQL template: %v", pg.err)
	}
	name := fmt.Sprintf("%s%d_%s", pgPrefix(), os.Getpid(), randomHex(6))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	create := `CREATE DATABASE ` + name
	if migrated {
		create += ` TEMPLATE ` + pg.template
	}
	if _, err := pg.admin.ExecContext(ctx, create); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE: a server process the test started and killed may not have closed its connections yet.
		if _, err := pg.admin.ExecContext(ctx, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return withDatabase(dsn, name)
}

// pgTemplate connects to the server, drops the databases of this machine's dead test processes, and migrates
// this process's template database (named like its test databases, so it goes the same way).
func pgTemplate(dsn string) (*sql.DB, string, error) {
	if _, err := url.Parse(dsn); err != nil {
		return nil, "", fmt.Errorf("parse %s: %w", PostgresEnv, err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, "", fmt.Errorf("open postgres: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := dropDeadDatabases(ctx, admin); err != nil {
		admin.Close()
		return nil, "", err
	}
	name := fmt.Sprintf("%s%d_template", pgPrefix(), os.Getpid())
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		return nil, "", fmt.Errorf("create database %s: %w", name, err)
	}
	st, err := store.Open(ctx, withDatabase(dsn, name))
	if err == nil {
		err = st.Close()
	}
	if err != nil {
		admin.Close()
		return nil, "", fmt.Errorf("migrate %s: %w", name, err)
	}
	return admin, name, nil
}

// dropDeadDatabases drops the test databases (and templates) of this machine's processes that no longer run. It
// runs before this process creates any.
func dropDeadDatabases(ctx context.Context, admin *sql.DB) error {
	prefix := pgPrefix()
	rows, err := admin.QueryContext(ctx, `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, prefix)
	if err != nil {
		return fmt.Errorf("list test databases: %w", err)
	}
	var dead []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("list test databases: %w", err)
		}
		pidText, _, _ := strings.Cut(strings.TrimPrefix(name, prefix), "_")
		// This process has made none yet: one with its pid is a dead process's, whose pid came round again.
		if pid, err := strconv.Atoi(pidText); err == nil && (pid == os.Getpid() || !running(pid)) {
			dead = append(dead, name)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("list test databases: %w", err)
	}
	for _, name := range dead {
		// Another process may be dropping it too: IF EXISTS, and a failure here is not this test's.
		_, _ = admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	}
	return nil
}

// running reports whether a process with this pid exists.
func running(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// withDatabase returns dsn with its database replaced by name.
func withDatabase(dsn, name string) string {
	u, _ := url.Parse(dsn) // parsed by pgTemplate already
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// OpenStore opens a migrated store on a fresh database of engine e.
func OpenStore(t testing.TB, e Engine) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), e.DSN(t))
	if err != nil {
		t.Fatalf("open %s store: %v", e.Name, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
