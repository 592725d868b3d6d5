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

// storeStackFiles writes the files of stack into stack_files (once per content) and returns the stack JSON to
// store in the version row, holding references instead. A stack without files, or nil, is returned as is.
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
