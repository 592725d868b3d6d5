package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Stack JSON keeps its files under "files" (path → JSON value: a string, or {"base64": ...}); stored, they move to
// stack_files by content and the stack keeps "file_refs" (path → hash) instead. These are the two keys.
const (
	stackFilesKey = "files"
	stackRefsKey  = "file_refs"
)

// stackFilesLock orders SweepStackFiles against the transactions that refer to stack files: they hold it shared,
// a sweep alone. Without it a PostgreSQL sweep could delete a file that a version being written (not yet
// committed, so not yet seen by the sweep) refers to, as it finds the file already stored.
const stackFilesLock = 0x5354_4b48_0004

// storeStackFiles writes the files of stack into stack_files (once per content) and returns the stack JSON to
// store in the version row, holding references instead. A stack without files, or nil, is returned as is. It runs
// in a transaction (Store.Tx), which the references must be written in too.
func (q *Q) storeStackFiles(ctx context.Context, stack *string) (*string, error) {
	if stack == nil {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*stack), &m); err != nil || m[stackFilesKey] == nil {
		return stack, nil // not an object with files: stored as it is
	}
	var files map[string]json.RawMessage
	if err := json.Unmarshal(m[stackFilesKey], &files); err != nil {
		return nil, fmt.Errorf("stack files: %w", err)
	}
	if q.pg {
		if _, err := q.exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, int64(stackFilesLock)); err != nil {
			return nil, fmt.Errorf("stack files lock: %w", err)
		}
	}
	refs := make(map[string]string, len(files))
	for path, body := range files {
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])
		if _, err := q.exec(ctx, `INSERT INTO stack_files (hash, body) VALUES ($1, $2) ON CONFLICT DO NOTHING`, h, string(body)); err != nil {
			return nil, fmt.Errorf("store stack file %s: %w", path, err)
		}
		refs[path] = h
	}
	delete(m, stackFilesKey)
	b, err := json.Marshal(refs)
	if err != nil {
		return nil, err
	}
	m[stackRefsKey] = b
	out, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	text := string(out)
	return &text, nil
}

// loadStackFiles puts the files a stored stack refers to back under "files", as they were published.
func (q *Q) loadStackFiles(ctx context.Context, u *Update) error {
	if u.Stack == nil {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*u.Stack), &m); err != nil || m[stackRefsKey] == nil {
		return nil // stored before files moved out, or no files
	}
	var refs map[string]string
	if err := json.Unmarshal(m[stackRefsKey], &refs); err != nil {
		return fmt.Errorf("stack file references of %d/%d: %w", u.App, u.Reversion, err)
	}
	files := make(map[string]json.RawMessage, len(refs))
	for path, h := range refs {
		var body string
		if err := q.db.QueryRowContext(ctx, `SELECT body FROM stack_files WHERE hash = $1`, h).Scan(&body); err != nil {
			return fmt.Errorf("stack file %s of %d/%d: %w", path, u.App, u.Reversion, mapErr(err))
		}
		files[path] = json.RawMessage(body)
	}
	delete(m, stackRefsKey)
	b, err := json.Marshal(files)
	if err != nil {
		return err
	}
	m[stackFilesKey] = b
	out, err := json.Marshal(m)
	if err != nil {
		return err
	}
	text := string(out)
	u.Stack = &text
	return nil
}

// CountStackFiles counts the stored stack file contents (each stored once, however many versions share it).
func (q *Q) CountStackFiles(ctx context.Context) (int64, error) {
	return q.int64(ctx, `SELECT COUNT(*) FROM stack_files`)
}

// SweepStackFiles deletes the stack files no version refers to any more: those of deleted versions and apps, and
// those a version's edit replaced, which nothing else removes (a store that drops and adds versions at every sync
// would otherwise grow the table for ever). It tells how many it deleted.
func (s *Store) SweepStackFiles(ctx context.Context) (deleted int64, err error) {
	err = s.Tx(ctx, func(q *Q) error {
		if q.pg {
			if _, err := q.exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(stackFilesLock)); err != nil {
				return fmt.Errorf("stack files lock: %w", err)
			}
		}
		used := map[string]bool{}
		stacks, err := queryRows(ctx, q.db, scanString, `SELECT stack FROM updates WHERE stack LIKE '%"`+stackRefsKey+`"%'`)
		if err != nil {
			return fmt.Errorf("versions' stack files: %w", err)
		}
		for _, text := range stacks {
			var m map[string]json.RawMessage
			var refs map[string]string
			if json.Unmarshal([]byte(text), &m) != nil || json.Unmarshal(m[stackRefsKey], &refs) != nil {
				continue // "file_refs" in a stack stored as it was (not ours): it refers to nothing
			}
			for _, h := range refs {
				used[h] = true
			}
		}
		hashes, err := queryRows(ctx, q.db, scanString, `SELECT hash FROM stack_files`)
		if err != nil {
			return fmt.Errorf("stack files: %w", err)
		}
		var unused []any
		for _, h := range hashes {
			if !used[h] {
				unused = append(unused, h)
			}
		}
		for len(unused) > 0 { // in batches, within both engines' limits on bound parameters
			batch := unused[:min(len(unused), 500)]
			unused = unused[len(batch):]
			res, err := q.raw.ExecContext(ctx, `DELETE FROM stack_files WHERE hash IN (`+placeholders(1, len(batch))+`)`, batch...)
			if err != nil {
				return fmt.Errorf("delete stack files: %w", mapErr(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("delete stack files: %w", err)
			}
			deleted += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep stack files: %w", err)
	}
	return deleted, nil
}
