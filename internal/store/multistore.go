package store

import (
	"context"
	"fmt"
)

// AppStore is one store that offers an app, with the app's identity there (docs/stores.md §2).
type AppStore struct {
	App    int64  `json:"-"`
	Store  string `json:"store"`
	Image  string `json:"image"` // the image repository of the main service; "" when unknown
	Hidden bool   `json:"hidden"`
}

func scanAppStore(row rowScanner) (*AppStore, error) {
	var s AppStore
	if err := row.Scan(&s.App, &s.Store, &s.Image, &s.Hidden); err != nil {
		return nil, mapErr(err)
	}
	return &s, nil
}

// AppStores lists the stores that offer an app, by store name.
func (q *Q) AppStores(ctx context.Context, aid int64) ([]AppStore, error) {
	out, err := queryRows(ctx, q.db, scanAppStore,
		`SELECT app, store, image, hidden FROM app_stores WHERE app = $1 ORDER BY store`, aid)
	if err != nil {
		return nil, fmt.Errorf("stores of app %d: %w", aid, err)
	}
	return out, nil
}

// SaveAppStore records (or updates) that a store offers an app.
func (q *Q) SaveAppStore(ctx context.Context, s AppStore) error {
	_, err := q.exec(ctx, `INSERT INTO app_stores (app, store, image, hidden) VALUES ($1, $2, $3, $4)
		ON CONFLICT (app, store) DO UPDATE SET image = excluded.image, hidden = excluded.hidden`,
		s.App, s.Store, s.Image, s.Hidden)
	if err != nil {
		return fmt.Errorf("store %s of app %d: %w", s.Store, s.App, err)
	}
	return nil
}

// SetAppMeta writes an app's store metadata: the GeekApk icon_url, previews and category, and the columns
// beside them. It leaves updated_at alone: new metadata is not a new version.
func (q *Q) SetAppMeta(ctx context.Context, a *App) error {
	return q.execOne(ctx, `UPDATE apps SET icon_url = $2, previews = $3, category = $4, tagline = $5, homepage = $6,
		architectures = $7, hidden = $8, meta_store = $9 WHERE id = $1`,
		a.ID, a.IconURL, a.Previews, a.Category, a.Tagline, a.Homepage, a.Architectures, a.Hidden, a.MetaStore)
}

// AppCategories lists the categories an app is in: apps.category and its store categories, by name.
func (q *Q) AppCategories(ctx context.Context, aid int64) ([]Category, error) {
	out, err := queryRows(ctx, q.db, scanCategory, `SELECT id, category_name, parent_category FROM categories
		WHERE id IN (SELECT category FROM app_categories WHERE app = $1)
		OR id = (SELECT category FROM apps WHERE id = $1) ORDER BY category_name, id`, aid)
	if err != nil {
		return nil, fmt.Errorf("categories of app %d: %w", aid, err)
	}
	return out, nil
}

// LinkAppCategory puts an app in a category; a link already there is kept.
func (q *Q) LinkAppCategory(ctx context.Context, aid, tid int64) error {
	_, err := q.exec(ctx, `INSERT INTO app_categories (app, category) VALUES ($1, $2) ON CONFLICT DO NOTHING`, aid, tid)
	if err != nil {
		return fmt.Errorf("link app %d to category %d: %w", aid, tid, err)
	}
	return nil
}

// AppIcon is an icon the server serves itself (a store shipped it as a file).
type AppIcon struct {
	MediaType string
	Body      []byte
}

// AppIcon loads an app's own icon.
func (q *Q) AppIcon(ctx context.Context, aid int64) (*AppIcon, error) {
	var ic AppIcon
	err := q.db.QueryRowContext(ctx, `SELECT media_type, body FROM app_icons WHERE app = $1`, aid).Scan(&ic.MediaType, &ic.Body)
	if err != nil {
		return nil, fmt.Errorf("icon of app %d: %w", aid, mapErr(err))
	}
	return &ic, nil
}

// SaveAppIcon stores (or replaces) an app's own icon.
func (q *Q) SaveAppIcon(ctx context.Context, aid int64, ic AppIcon) error {
	_, err := q.exec(ctx, `INSERT INTO app_icons (app, media_type, body) VALUES ($1, $2, $3)
		ON CONFLICT (app) DO UPDATE SET media_type = excluded.media_type, body = excluded.body`, aid, ic.MediaType, ic.Body)
	if err != nil {
		return fmt.Errorf("icon of app %d: %w", aid, err)
	}
	return nil
}

// AppCategoryLinks maps each of the apps aids to the categories it is in (apps.category and its store
// categories), for a page of store cards.
func (q *Q) AppCategoryLinks(ctx context.Context, aids []int64) (map[int64][]int64, error) {
	out := map[int64][]int64{}
	args := idArgs(aids)
	if len(args) == 0 {
		return out, nil
	}
	in := placeholders(1, len(args))
	type link struct{ app, cat int64 }
	rows, err := queryRows(ctx, q.raw, func(r rowScanner) (*link, error) {
		var l link
		return &l, mapErr(r.Scan(&l.app, &l.cat))
	}, `SELECT app, category FROM app_categories WHERE app IN (`+in+`)
		UNION SELECT id, category FROM apps WHERE category IS NOT NULL AND id IN (`+in+`) ORDER BY 1, 2`, args...)
	if err != nil {
		return nil, fmt.Errorf("categories of apps: %w", err)
	}
	for _, l := range rows {
		out[l.app] = append(out[l.app], l.cat)
	}
	return out, nil
}
