package store

import (
	"context"
	"fmt"
)

// App is a catalog entry; JSON names follow the contract.
type App struct {
	ID          int64   `json:"id"`
	Author      int64   `json:"author"`
	Category    *int64  `json:"category"`
	Package     *string `json:"package"`
	Name        string  `json:"name"`
	Alias       *string `json:"alias"`
	IconURL     *string `json:"icon_url"`
	Desc        string  `json:"desc"`
	Visual      *string `json:"visual"`
	Button      *string `json:"button"`
	Special     *string `json:"special"`
	Previews    *string `json:"previews"`
	Permissions *string `json:"permissions"`
	Size        int64   `json:"size"`
	CreatedAt   int64   `json:"created_at"`
	UpdatedAt   int64   `json:"updated_at"`
	StarsNum    int64   `json:"stars_num"`
	CommentsNum int64   `json:"comments_num"`

	// The store metadata (docs/stores.md), outside the GeekApk shape: the API v1 and the web UI show it.
	Tagline       string `json:"-"`
	Homepage      string `json:"-"`
	Architectures string `json:"-"` // comma-separated Docker platform names
	Hidden        bool   `json:"-"` // every store that has it deprecates it: not listed in the store
	MetaStore     string `json:"-"` // the store whose metadata the app shows
}

func cloneApp(a *App) *App {
	c := *a
	return &c
}

const appCols = `id, author_user, category, package_name, app_name, alias, icon_url, app_description, visualizer,
	button_text, special, previews, app_permissions, size, created_at, updated_at, stars_num, comments_num, tagline,
	homepage, architectures, hidden, meta_store`

func scanApp(row interface{ Scan(...any) error }) (*App, error) {
	var a App
	err := row.Scan(&a.ID, &a.Author, &a.Category, &a.Package, &a.Name, &a.Alias, &a.IconURL, &a.Desc, &a.Visual,
		&a.Button, &a.Special, &a.Previews, &a.Permissions, &a.Size, &a.CreatedAt, &a.UpdatedAt, &a.StarsNum,
		&a.CommentsNum, &a.Tagline, &a.Homepage, &a.Architectures, &a.Hidden, &a.MetaStore)
	if err != nil {
		return nil, mapErr(err)
	}
	return &a, nil
}

var appSorts = map[string]string{
	"ctime": "created_at", "updated": "updated_at", "star": "stars_num", "replies": "comments_num", "size": "size",
	"name": "app_name", "id": "id",
}

// appSearchFields are the folded copies of the searchable columns (migration 00021), which every statement
// writing app_name, package_name or app_description keeps as fold() of them.
var appSearchFields = map[string]string{"name": "fold_name", "pkg": "fold_package", "desc": "fold_description"}

// CreateApp inserts a (its ID is set).
func (q *Q) CreateApp(ctx context.Context, a *App) error {
	err := q.db.QueryRowContext(ctx, `INSERT INTO apps (author_user, category, package_name, app_name, alias,
		icon_url, app_description, visualizer, button_text, special, previews, app_permissions, size, created_at,
		updated_at, fold_name, fold_package, fold_description) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
		$12, $13, $14, $15, fold($4), fold($3), fold($7)) RETURNING id`,
		a.Author, a.Category, a.Package, a.Name, a.Alias, a.IconURL, a.Desc, a.Visual, a.Button, a.Special,
		a.Previews, a.Permissions, a.Size, a.CreatedAt, a.UpdatedAt).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("insert app: %w", mapErr(err))
	}
	return nil
}

// App loads one app.
func (q *Q) App(ctx context.Context, id int64) (*App, error) {
	const query = `SELECT ` + appCols + ` FROM apps WHERE id = $1`
	a, err := cached(q.reads, cloneApp, func() (*App, error) {
		return scanApp(q.db.QueryRowContext(ctx, query, id))
	}, query, id)
	if err != nil {
		return nil, fmt.Errorf("app %d: %w", id, err)
	}
	return a, nil
}

// AppExists reports whether aid names an app; it is cheaper than App.
func (q *Q) AppExists(ctx context.Context, id int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM apps WHERE id = $1`, id)
}

// AppByPackage loads the app with that package name.
func (q *Q) AppByPackage(ctx context.Context, pkg string) (*App, error) {
	a, err := scanApp(q.db.QueryRowContext(ctx, `SELECT `+appCols+` FROM apps WHERE package_name = $1`, pkg))
	if err != nil {
		return nil, fmt.Errorf("app %q: %w", pkg, err)
	}
	return a, nil
}

// Apps loads the apps with the given ids, in that order; missing ids are left out.
func (q *Q) Apps(ctx context.Context, ids []int64) ([]App, error) {
	args := idArgs(ids)
	if len(args) == 0 {
		return []App{}, nil
	}
	// An IN-list of distinct ids (a repeated id is still listed again below): its text varies with their
	// number, so it bypasses the statement cache.
	found, err := queryRows(ctx, q.raw, scanApp, `SELECT `+appCols+` FROM apps WHERE id IN (`+
		placeholders(1, len(args))+`)`, args...)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]App, len(found))
	for _, a := range found {
		byID[a.ID] = a
	}
	out := make([]App, 0, len(ids))
	for _, id := range ids {
		if a, ok := byID[id]; ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// AppIDs lists apps (app 0 excluded), optionally within one category.
func (q *Q) AppIDs(ctx context.Context, category *int64, s Sort, p Page) ([]int64, error) {
	ob, err := orderBy(appSorts, s, "id")
	if err != nil {
		return nil, err
	}
	if category != nil {
		return q.pagedIDs(ctx, p, `SELECT id FROM apps WHERE id <> 0 AND category = $1`+ob, *category)
	}
	return q.pagedIDs(ctx, p, `SELECT id FROM apps WHERE id <> 0`+ob)
}

// SearchApps lists apps whose field contains keyword case-insensitively, optionally within one category.
func (q *Q) SearchApps(ctx context.Context, field, keyword string, category *int64, s Sort, p Page) ([]int64, error) {
	col, ok := appSearchFields[field]
	if !ok {
		return nil, fmt.Errorf("search field %q: %w", field, ErrInvalid)
	}
	ob, err := orderBy(appSorts, s, "id")
	if err != nil {
		return nil, err
	}
	where := `id <> 0 AND ` + col + ` LIKE $1 ESCAPE '\'`
	args := []any{likePattern(keyword)}
	if category != nil {
		where += ` AND category = $2`
		args = append(args, *category)
	}
	return q.searchIDs(ctx, p, `SELECT id FROM apps WHERE `+where+ob, args...)
}

// UserAppIDs lists the apps uid authored, most recently updated first.
func (q *Q) UserAppIDs(ctx context.Context, uid int64, p Page) ([]int64, error) {
	return q.pagedIDs(ctx, p, `SELECT id FROM apps WHERE author_user = $1 AND id <> 0
		ORDER BY updated_at DESC, id DESC`, uid)
}

// UpdateApp writes a's editable fields and updated_at.
func (q *Q) UpdateApp(ctx context.Context, a *App) error {
	return q.execOne(ctx, `UPDATE apps SET category = $2, package_name = $3, app_name = $4, alias = $5,
		icon_url = $6, app_description = $7, visualizer = $8, button_text = $9, special = $10, previews = $11,
		app_permissions = $12, size = $13, updated_at = $14, fold_name = fold($4), fold_package = fold($3),
		fold_description = fold($7) WHERE id = $1`,
		a.ID, a.Category, a.Package, a.Name, a.Alias, a.IconURL, a.Desc, a.Visual, a.Button, a.Special,
		a.Previews, a.Permissions, a.Size, a.UpdatedAt)
}

// TouchApp sets an app's updated_at.
func (q *Q) TouchApp(ctx context.Context, id, ms int64) error {
	return q.execOne(ctx, `UPDATE apps SET updated_at = $2 WHERE id = $1`, id, ms)
}

// DeleteApp removes the app with its updates and stars; its comments must have been moved or removed first.
func (q *Q) DeleteApp(ctx context.Context, id int64) error {
	if err := q.execOne(ctx, `DELETE FROM apps WHERE id = $1 AND id <> 0`, id); err != nil {
		return fmt.Errorf("delete app %d: %w", id, err)
	}
	return nil
}
