package store

import (
	"context"
	"fmt"
	"strings"
)

// CertKey is one entry of the certificate storage: certmagic's certificates, keys, metadata, account and
// challenge tokens, addressed by slash-separated keys.
type CertKey struct {
	Key        string
	Value      []byte
	Size       int64
	ModifiedAt int64 // ms
}

// PutCertKey stores value at key, replacing what was there.
func (q *Q) PutCertKey(ctx context.Context, key string, value []byte, now int64) error {
	_, err := q.exec(ctx, `INSERT INTO cert_kv (key, value, size, modified_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, size = excluded.size, modified_at = excluded.modified_at`,
		key, value, int64(len(value)), now)
	return wrapErr(err, "store cert key %s", key)
}

// CertKey loads the entry at key; ErrNotFound when there is none.
func (q *Q) CertKey(ctx context.Context, key string) (*CertKey, error) {
	k := CertKey{Key: key}
	err := q.db.QueryRowContext(ctx, `SELECT value, size, modified_at FROM cert_kv WHERE key = $1`, key).
		Scan(&k.Value, &k.Size, &k.ModifiedAt)
	if err != nil {
		return nil, fmt.Errorf("cert key %s: %w", key, mapErr(err))
	}
	return &k, nil
}

// CertKeysUnder lists the keys that start with prefix (a directory, ending in "/"), in order.
func (q *Q) CertKeysUnder(ctx context.Context, prefix string) ([]string, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT key FROM cert_kv WHERE substr(key, 1, CAST($1 AS INTEGER)) = $2 ORDER BY key`,
		int64(len(prefix)), prefix)
	if err != nil {
		return nil, fmt.Errorf("cert keys under %s: %w", prefix, mapErr(err))
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("cert keys under %s: %w", prefix, err)
		}
		keys = append(keys, k)
	}
	return keys, wrapErr(rows.Err(), "cert keys under %s", prefix)
}

// DeleteCertKey removes key and every key under it (key + "/…").
func (q *Q) DeleteCertKey(ctx context.Context, key string) error {
	dir := strings.TrimSuffix(key, "/") + "/"
	_, err := q.exec(ctx, `DELETE FROM cert_kv WHERE key = $1 OR substr(key, 1, CAST($2 AS INTEGER)) = $3`,
		key, int64(len(dir)), dir)
	return wrapErr(err, "delete cert key %s", key)
}

// TryCertLock takes the lock name for owner until expiresAt (ms) if nobody holds it or its holder's lease ran
// out before now: a crashed holder stops refreshing, so its lock expires. It reports whether owner holds it.
func (q *Q) TryCertLock(ctx context.Context, name, owner string, now, expiresAt int64) (bool, error) {
	n, err := q.exec(ctx, `INSERT INTO cert_locks (name, owner, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
		WHERE cert_locks.expires_at <= $4`, name, owner, expiresAt, now)
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", name, err)
	}
	return n == 1, nil
}

// RefreshCertLock extends owner's lease on name; false when owner no longer holds it.
func (q *Q) RefreshCertLock(ctx context.Context, name, owner string, expiresAt int64) (bool, error) {
	n, err := q.exec(ctx, `UPDATE cert_locks SET expires_at = $1 WHERE name = $2 AND owner = $3`, expiresAt, name, owner)
	if err != nil {
		return false, fmt.Errorf("refresh lock %s: %w", name, err)
	}
	return n == 1, nil
}

// UnlockCert releases name if owner holds it; ErrNotFound when it does not (another process took it over).
func (q *Q) UnlockCert(ctx context.Context, name, owner string) error {
	err := q.execOne(ctx, `DELETE FROM cert_locks WHERE name = $1 AND owner = $2`, name, owner)
	return wrapErr(err, "unlock %s", name)
}
