package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"
)

// fakeQuerier answers every statement with nothing; the tests below count the cache's generations around it.
type fakeQuerier struct{}

func (fakeQuerier) ExecContext(context.Context, string, ...any) (sql.Result, error) { return nil, nil }
func (fakeQuerier) QueryContext(context.Context, string, ...any) (rows, error) {
	return fakeRows{}, nil
}
func (fakeQuerier) QueryRowContext(context.Context, string, ...any) row { return fakeRows{} }

type fakeRows struct{}

func (fakeRows) Next() bool        { return false }
func (fakeRows) Scan(...any) error { return nil }
func (fakeRows) Err() error        { return nil }
func (fakeRows) Close() error      { return nil }

// TestTrackWrites: a write moves the generation on once it has run (a RETURNING write once its row is read), and a
// SELECT never does.
func TestTrackWrites(t *testing.T) {
	var c readCache
	q := trackWrites{fakeQuerier{}, &c}
	ctx := context.Background()
	step := func(what string, moved bool, fn func()) {
		t.Helper()
		before := c.gen.Load()
		fn()
		if got := c.gen.Load() != before; got != moved {
			t.Errorf("%s moved the generation: %v, want %v", what, got, moved)
		}
	}
	step("a SELECT", false, func() { _, _ = q.QueryContext(ctx, "SELECT 1") })
	step("a SELECT row", false, func() { _ = q.QueryRowContext(ctx, "SELECT 1").Scan() })
	step("an UPDATE", true, func() { _, _ = q.ExecContext(ctx, "UPDATE t SET a = 1") })
	var r row
	step("an INSERT ... RETURNING not read yet", false, func() { r = q.QueryRowContext(ctx, "INSERT INTO t VALUES (1) RETURNING id") })
	step("reading its row", true, func() { _ = r.Scan() })
	var rs rows
	step("a WITH ... INSERT not closed yet", false, func() { rs, _ = q.QueryContext(ctx, "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x RETURNING id") })
	step("closing its rows", true, func() { _ = rs.Close() })
}

// TestReadCacheKeepsAndForgets: an answer is kept for its generation only, an error is never kept, arguments tell
// entries apart, and entries that no longer serve are swept away.
func TestReadCacheKeepsAndForgets(t *testing.T) {
	c := readCache{maxAge: 50 * time.Millisecond}
	c.enable()
	loads := 0
	read := func(arg any) (int, error) {
		return cached(&c, same, func() (int, error) { loads++; return loads, nil }, "SELECT n", arg)
	}
	if v, _ := read(int64(1)); v != 1 {
		t.Fatalf("first read = %d", v)
	}
	if v, _ := read(int64(1)); v != 1 || loads != 1 {
		t.Errorf("a second read loaded again: %d, %d loads", v, loads)
	}
	if v, _ := read("1"); v != 2 {
		t.Errorf("the string argument \"1\" shared the entry of the number 1: %d", v)
	}
	c.written()
	if v, _ := read(int64(1)); v != 3 {
		t.Errorf("a read after a write was answered from before it: %d", v)
	}
	if _, err := cached(&c, same, func() (int, error) { return 0, errors.New("down") }, "SELECT broken"); err == nil {
		t.Fatal("an error was lost")
	}
	if v, err := cached(&c, same, func() (int, error) { return 7, nil }, "SELECT broken"); v != 7 || err != nil {
		t.Errorf("an error was kept: %d %v", v, err)
	}
	if _, ok := keyOf("SELECT x", 1.5); ok {
		t.Error("a float argument was spelled (only exact types are)")
	}
	deadline := time.Now().Add(time.Minute)
	for c.n.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries never swept", c.n.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	left := 0
	c.m.Range(func(any, any) bool { left++; return true })
	if left != 0 {
		t.Errorf("%d entries left after the sweep", left)
	}
	c.disable()
	if v, _ := read(int64(1)); v != loads || !func() bool { v2, _ := read(int64(1)); return v2 == v+1 }() {
		t.Error("a disabled cache answered from memory")
	}
}

// TestChangesContent: the heartbeat's writes (the processes' bookkeeping, in cluster.go) leave the cache; any
// other write, a CTE's included, and a statement whose tables it cannot tell, does not.
func TestChangesContent(t *testing.T) {
	for query, want := range map[string]bool{
		"SELECT id FROM apps WHERE id = $1": false,
		`INSERT INTO cluster_processes (id, seen_at) VALUES ($1, 1)
		ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at`: false,
		"DELETE FROM cluster_presence WHERE process = $1 AND NOT (uid = ANY($2))":                           false,
		"WITH l AS (SELECT 1), ins AS (INSERT INTO cluster_events (type) SELECT 'x' RETURNING id) SELECT 1": false,
		"UPDATE apps SET updated_at = $2 WHERE id = $1":                                                     true,
		"INSERT INTO stars (app, uid) VALUES ($1, $2) ON CONFLICT (app, uid) DO UPDATE SET app = $1":        true,
		"WITH gone AS (DELETE FROM cluster_processes RETURNING id) DELETE FROM jobs WHERE id = 1":           true,
		"delete from comments where id = $1":                                                                true,
		"VACUUM":                                                                                            true,
	} {
		if got := changesContent(query); got != want {
			t.Errorf("changesContent(%q) = %v, want %v", query, got, want)
		}
	}
}
