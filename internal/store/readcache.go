package store

import (
	"context"
	"database/sql"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// readCache keeps the results of Store.Q's hot reads (an app by id, a page of ids, whether a row exists) while
// this process is the only one writing the database (Store.CacheReads says when). Every write this process makes
// (a Store.Tx, a statement other than a SELECT through Store.Q) moves the generation on, and an entry serves only
// the generation it was read in: a read sees every write that finished before it, its own request's included.
// MaxCacheAge bounds how long an edit made outside StackHub (psql, the sqlite3 shell) goes unseen.
//
// Why: on PostgreSQL a lookup by key is a round trip that costs the server and PostgreSQL together about four
// times the CPU of answering it from memory, and the GeekApk reads are most of a hub's traffic (bench/run.sh).
type readCache struct {
	on       atomic.Bool
	gen      atomic.Uint64
	n        atomic.Int64  // entries, roughly: the map is emptied past maxCached
	m        sync.Map      // readKey → *cachedRead
	sweeping atomic.Bool   // a sweep is due
	maxAge   time.Duration // MaxCacheAge when 0; tests shorten it
}

func (c *readCache) age() int64 {
	if c.maxAge == 0 {
		return int64(MaxCacheAge)
	}
	return int64(c.maxAge)
}

type cachedRead struct {
	gen uint64
	at  int64 // time.Now().UnixNano() when it was read
	val any
}

const maxCached = 1 << 15

// MaxCacheAge is how long a read cache entry serves at most. Entries that no longer serve go within another
// MaxCacheAge, so a server idle after a burst of reads gives their memory back.
const MaxCacheAge = 10 * time.Second

// written records a write: what was read before it no longer serves.
func (c *readCache) written() { c.gen.Add(1) }

func (c *readCache) enable() {
	c.gen.Add(1) // entries read while it was off may miss other processes' writes
	c.on.Store(true)
}

func (c *readCache) disable() {
	c.on.Store(false)
	c.gen.Add(1)
	c.clear()
}

func (c *readCache) clear() {
	c.m.Range(func(k, _ any) bool {
		c.m.Delete(k)
		return true
	})
	c.n.Store(0)
}

// sweep drops the entries that no longer serve (read before the last write, or too old).
func (c *readCache) sweep() {
	c.sweeping.Store(false)
	gen, now := c.gen.Load(), time.Now().UnixNano()
	c.m.Range(func(k, v any) bool {
		if e := v.(*cachedRead); e.gen != gen || now-e.at >= c.age() {
			if c.m.CompareAndDelete(k, v) {
				c.n.Add(-1)
			}
		}
		return true
	})
	if c.n.Load() > 0 {
		c.sweepLater()
	}
}

func (c *readCache) sweepLater() {
	if c.sweeping.CompareAndSwap(false, true) {
		time.AfterFunc(time.Duration(c.age()), c.sweep)
	}
}

// cached answers load's result (query with args) from c while it holds one of the present generation, otherwise
// loads and keeps it. Callers get copies (clone), never the kept value. A nil or disabled cache, an argument
// keyOf cannot spell, and an error go straight through.
func cached[T any](c *readCache, clone func(T) T, load func() (T, error), query string, args ...any) (T, error) {
	if c == nil || !c.on.Load() {
		return load()
	}
	key, ok := keyOf(query, args...)
	if !ok || strings.Contains(query, "cluster_") { // processTable's: they change every few seconds
		return load()
	}
	gen, now := c.gen.Load(), time.Now().UnixNano()
	if v, ok := c.m.Load(key); ok {
		if e := v.(*cachedRead); e.gen == gen && now-e.at < c.age() {
			return clone(e.val.(T)), nil
		}
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	if c.gen.Load() == gen && c.on.Load() { // no write finished while it was read
		if _, replaced := c.m.Swap(key, &cachedRead{gen: gen, at: now, val: v}); !replaced && c.n.Add(1) > maxCached {
			c.clear()
		}
		c.sweepLater()
	}
	return clone(v), nil
}

// readKey is what a cache entry is found by: the query's text (shared with the caller's constant, not copied)
// and its arguments spelled out.
type readKey struct{ query, args string }

// keyOf returns query's key with args; ok is false (not cached) for an argument of a type it does not spell.
func keyOf(query string, args ...any) (k readKey, ok bool) {
	var b strings.Builder
	for _, a := range args {
		b.WriteByte(0)
		switch v := a.(type) {
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case int:
			b.WriteString(strconv.Itoa(v))
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case string: // length first: a string may hold the separator
			b.WriteString(strconv.Itoa(len(v)))
			b.WriteByte(':')
			b.WriteString(v)
		default:
			return readKey{}, false
		}
	}
	return readKey{query, b.String()}, true
}

func cloneIDs(ids []int64) []int64 { return append([]int64{}, ids...) }

func same[T any](v T) T { return v }

// trackWrites is a querier that tells c of every statement through it that changesContent, once it has run.
type trackWrites struct {
	querier
	c *readCache
}

// changesContent tells whether query may change what a cached read reads: any statement but a SELECT, unless
// every table it writes is the processes' own bookkeeping (processTable), which heartbeats write every few seconds
// and which no content references (only cluster_presence references cluster_processes, cascading).
func changesContent(query string) bool {
	if strings.HasPrefix(query, "SELECT ") {
		return false
	}
	tables := 0
	for _, m := range writeTarget.FindAllStringSubmatch(query, -1) {
		if m[1] == "" { // not ON CONFLICT's DO UPDATE SET, whose table is the INSERT's
			if tables++; !processTable(m[2]) {
				return true
			}
		}
	}
	return tables == 0
}

// writeTarget finds the tables a statement writes, in a CTE too.
var writeTarget = regexp.MustCompile(`(?i)\b(?:(DO\s+UPDATE\s+SET)|INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)`)

// processTable tells whether table is the processes' bookkeeping (migration 00018: heartbeats, presence, the
// event log, messages, job leases). A read that names one is never cached.
func processTable(table string) bool { return strings.HasPrefix(table, "cluster_") }

func (t trackWrites) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if changesContent(query) {
		defer t.c.written()
	}
	return t.querier.ExecContext(ctx, query, args...)
}

func (t trackWrites) QueryContext(ctx context.Context, query string, args ...any) (rows, error) {
	if !changesContent(query) {
		return t.querier.QueryContext(ctx, query, args...)
	}
	r, err := t.querier.QueryContext(ctx, query, args...)
	if err != nil {
		t.c.written()
		return nil, err
	}
	return writeRows{r, t.c}, nil
}

func (t trackWrites) QueryRowContext(ctx context.Context, query string, args ...any) row {
	r := t.querier.QueryRowContext(ctx, query, args...)
	if !changesContent(query) {
		return r
	}
	return writeRow{r, t.c}
}

// writeRows and writeRow are the results of a write (INSERT ... RETURNING): it has run once they are read.
type writeRows struct {
	rows
	c *readCache
}

func (r writeRows) Close() error {
	defer r.c.written()
	return r.rows.Close()
}

type writeRow struct {
	row
	c *readCache
}

func (r writeRow) Scan(dest ...any) error {
	defer r.c.written()
	return r.row.Scan(dest...)
}
