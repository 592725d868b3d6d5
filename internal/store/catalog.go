package store

import "context"

// HasSystemApps reports whether the catalog holds any app owned by the system user besides app 0, which is how
// a server tells its first start from the later ones.
func (q *Q) HasSystemApps(ctx context.Context) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM apps WHERE author_user = 0 AND id <> 0 LIMIT 1`)
}
