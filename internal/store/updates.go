package store

import (
	"context"
	"fmt"
)

// Update is one published version of an app. Stack is the installable template (JSON text), when there is one.
type Update struct {
	App        int64   `json:"app"`
	Version    string  `json:"ver"`
	Reversion  int64   `json:"rev"`
	InstallURL string  `json:"install_url"`
	Updates    string  `json:"updates"`
	APIMin     *int64  `json:"api_min"`
	APITarget  *int64  `json:"api_target"`
	Stack      *string `json:"-"`
	CreatedAt  int64   `json:"created_at"`
	// Store is the store the version was imported from ("websoft9", "casaos", ...); "" for a user's version.
	// Outside the GeekApk shape: the API v1 and the web UI show it.
	Store string `json:"-"`
}

const updateCols = `app, reversion, version_name, install_url, updates, api_min, api_target, stack, created_at, store`

func scanUpdate(row interface{ Scan(...any) error }) (*Update, error) {
	var u Update
	err := row.Scan(&u.App, &u.Reversion, &u.Version, &u.InstallURL, &u.Updates, &u.APIMin, &u.APITarget, &u.Stack,
		&u.CreatedAt, &u.Store)
	if err != nil {
		return nil, mapErr(err)
	}
	return &u, nil
}

// CreateUpdate inserts u. A zero Reversion takes the next free one.
func (q *Q) CreateUpdate(ctx context.Context, u *Update) error {
	if u.Reversion == 0 {
		next, err := q.int64(ctx, `SELECT COALESCE(MAX(reversion), 0) + 1 FROM updates WHERE app = $1`, u.App)
		if err != nil {
			return fmt.Errorf("next reversion of %d: %w", u.App, err)
		}
		u.Reversion = next
	}
	stack, err := q.storeStackFiles(ctx, u.Stack)
	if err != nil {
		return fmt.Errorf("insert update %d/%d: %w", u.App, u.Reversion, err)
	}
	_, err = q.exec(ctx, `INSERT INTO updates (`+updateCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		u.App, u.Reversion, u.Version, u.InstallURL, u.Updates, u.APIMin, u.APITarget, stack, u.CreatedAt, u.Store)
	if err != nil {
		return fmt.Errorf("insert update %d/%d: %w", u.App, u.Reversion, err)
	}
	return nil
}

// Update loads one version of an app.
func (q *Q) Update(ctx context.Context, aid, rev int64) (*Update, error) {
	u, err := scanUpdate(q.db.QueryRowContext(ctx, `SELECT `+updateCols+` FROM updates WHERE app = $1 AND reversion = $2`,
		aid, rev))
	if err != nil {
		return nil, fmt.Errorf("update %d/%d: %w", aid, rev, err)
	}
	if err := q.loadStackFiles(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// Updates lists an app's versions by reversion.
func (q *Q) Updates(ctx context.Context, aid int64, desc bool, p Page) ([]Update, error) {
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	query, args := paged(`SELECT `+updateCols+` FROM updates WHERE app = $1 ORDER BY reversion`+dir, p, aid)
	us, err := queryRows(ctx, q.db, scanUpdate, query, args...)
	if err != nil {
		return nil, err
	}
	for i := range us {
		if err := q.loadStackFiles(ctx, &us[i]); err != nil {
			return nil, err
		}
	}
	return us, nil
}

// CountUpdates counts an app's versions.
func (q *Q) CountUpdates(ctx context.Context, aid int64) (int64, error) {
	return q.int64(ctx, `SELECT COUNT(*) FROM updates WHERE app = $1`, aid)
}

// SaveUpdate writes u's editable fields.
func (q *Q) SaveUpdate(ctx context.Context, u *Update) error {
	stack, err := q.storeStackFiles(ctx, u.Stack)
	if err != nil {
		return fmt.Errorf("save update %d/%d: %w", u.App, u.Reversion, err)
	}
	return q.execOne(ctx, `UPDATE updates SET version_name = $3, install_url = $4, updates = $5, api_min = $6,
		api_target = $7, stack = $8 WHERE app = $1 AND reversion = $2`,
		u.App, u.Reversion, u.Version, u.InstallURL, u.Updates, u.APIMin, u.APITarget, stack)
}

// DeleteUpdate removes one version.
func (q *Q) DeleteUpdate(ctx context.Context, aid, rev int64) error {
	return q.execOne(ctx, `DELETE FROM updates WHERE app = $1 AND reversion = $2`, aid, rev)
}
