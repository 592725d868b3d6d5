package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Page limits a list. Limit 0 means no rows; callers set the default.
type Page struct {
	Limit  int
	Offset int
}

// Sort orders a list by a whitelisted key; each entity maps its keys to columns.
type Sort struct {
	Key  string
	Desc bool
}

// orderBy renders ORDER BY for a whitelisted key, always ending with the id so equal keys rank stably.
func orderBy(cols map[string]string, s Sort, idCol string) (string, error) {
	col, ok := cols[s.Key]
	if !ok {
		return "", fmt.Errorf("sort key %q: %w", s.Key, ErrInvalid)
	}
	dir := " ASC"
	if s.Desc {
		dir = " DESC"
	}
	if col == idCol {
		return " ORDER BY " + col + dir, nil
	}
	return " ORDER BY " + col + dir + ", " + idCol + dir, nil
}

// paged appends LIMIT and OFFSET to query as its next two bind parameters (after args), so that every page size
// and offset shares one SQL text, and with it one prepared statement.
//
// The CAST matters on SQLite: its planner (3.53 here) reads the value bound to a bare "LIMIT $n" and marks the
// statement to be compiled again whenever that parameter is bound anew, that is on every run, which would undo
// the statement cache (sqlite3ExprIsInteger sets the statement's expmask). An expression keeps the limit a run-time value (as OFFSET always is); the plans are the
// same, since each list query has an index in its ORDER BY (migration 00003). PostgreSQL reads it as bigint.
func paged(query string, p Page, args ...any) (string, []any) {
	n := len(args)
	return query + " LIMIT CAST($" + strconv.Itoa(n+1) + " AS BIGINT) OFFSET $" + strconv.Itoa(n+2),
		append(args[:n:n], int64(p.Limit), int64(p.Offset))
}

// likePattern escapes LIKE metacharacters so the keyword is matched as a plain substring (with ESCAPE '\').
func likePattern(keyword string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(keyword)) + "%"
}

// idArgs dedupes ids into the bind arguments of an IN-list.
func idArgs(ids []int64) []any {
	seen := make(map[int64]bool, len(ids))
	args := make([]any, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			args = append(args, id)
		}
	}
	return args
}

// placeholders returns "$from, $from+1, ..." for n arguments. A text built with it varies with n: run it through
// Q.raw, not Q.db, so that it does not take a statement cache slot.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// pagedIDs runs ids on one page of query's rows.
func (q *Q) pagedIDs(ctx context.Context, p Page, query string, args ...any) ([]int64, error) {
	query, args = paged(query, p, args...)
	return q.ids(ctx, query, args...)
}

// searchIDs is pagedIDs for the open-ended scans (LIKE over a whole table). They go through Q.raw: they keep the
// caller's cancellation (see detachedReads), and parsing their SQL is a small part of what they cost.
func (q *Q) searchIDs(ctx context.Context, p Page, query string, args ...any) ([]int64, error) {
	query, args = paged(query, p, args...)
	return queryIDs(ctx, q.raw, query, args...)
}

func (q *Q) ids(ctx context.Context, query string, args ...any) ([]int64, error) {
	return cached(q.reads, cloneIDs, func() ([]int64, error) {
		return queryIDs(ctx, q.db, query, args...)
	}, query, args...)
}

// queryIDs is queryRows for one integer column, the shape of every list the GeekApk API answers. It scans every
// row into the same variable: queryRows with scanID allocates the variable and Scan's argument slice per row.
func queryIDs(ctx context.Context, db querier, query string, args ...any) ([]int64, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []int64{}
	var id int64
	dest := []any{&id}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, mapErr(rows.Err())
}

// rowScanner is what the scan functions read one row from: a *sql.Row or the current row of a *sql.Rows.
type rowScanner = interface{ Scan(...any) error }

// queryRows runs query on db (q.db, or q.raw for a text of varying shape) and scans every row with scan: the
// query, scan and rows.Err steps of each list read. Errors come back without context; callers add theirs.
func queryRows[T any](ctx context.Context, db querier, scan func(rowScanner) (*T, error), query string,
	args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, mapErr(rows.Err())
}

func scanID(row rowScanner) (*int64, error) {
	var id int64
	if err := row.Scan(&id); err != nil {
		return nil, err
	}
	return &id, nil
}

func scanString(row rowScanner) (*string, error) {
	var s string
	if err := row.Scan(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (q *Q) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}

// execOne runs a statement that must touch exactly one row; zero rows is ErrNotFound.
func (q *Q) execOne(ctx context.Context, query string, args ...any) error {
	n, err := q.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (q *Q) exists(ctx context.Context, query string, args ...any) (bool, error) {
	return cached(q.reads, same, func() (bool, error) {
		var one int
		err := q.db.QueryRowContext(ctx, query, args...).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, mapErr(err)
	}, query, args...)
}

func (q *Q) int64(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := q.db.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, mapErr(err)
}
