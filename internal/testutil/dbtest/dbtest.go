// Package dbtest gives tests fresh databases on every engine StackHub supports: real SQLite files and, when
// STACKHUB_TEST_POSTGRES is set, a throw-away schema on a real PostgreSQL server. It imports nothing above the
// store, so the internal tests of any package (hub's, say) can run on both engines; testutil re-exports it.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
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
	// DSN returns a fresh, empty database for one test, removed when the test ends.
	DSN func(t testing.TB) string
}

// Engines lists SQLite always, and PostgreSQL when STACKHUB_TEST_POSTGRES is set. In CI (CI=true) PostgreSQL is
// required: a run without it fails instead of quietly testing half.
func Engines(t testing.TB) []Engine {
	es := []Engine{{Name: "sqlite", DSN: func(t testing.TB) string {
		return filepath.Join(t.TempDir(), "stackhub.db")
	}}}
	if dsn := os.Getenv(PostgresEnv); dsn != "" {
		es = append(es, Engine{Name: "postgres", DSN: func(t testing.TB) string { return pgSchema(t, dsn) }})
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

// pgSchema creates a throw-away schema and returns a DSN whose search_path is that schema.
func pgSchema(t testing.TB, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
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
