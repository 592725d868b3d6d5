package store

import (
	"context"
	"fmt"
)

// Browse is the web store's query: optional categories (a subtree), an optional keyword matched against name,
// package and description, a sort and a page.
type Browse struct {
	Categories []int64
	Keyword    string
	Sort       Sort
	Page       Page
}

// BrowseApps lists whole apps (app 0 and hidden apps excluded) for the store page; an app is in a category by
// apps.category or by one of its store categories.
func (q *Q) BrowseApps(ctx context.Context, b Browse) ([]App, error) {
	ob, err := orderBy(appSorts, b.Sort, "id")
	if err != nil {
		return nil, err
	}
	where, args := `id <> 0 AND hidden = FALSE`, []any{}
	if b.Keyword != "" {
		args = append(args, likePattern(b.Keyword))
		// The folded copies (appSearchFields): folding every row at each search was most of its cost.
		where += ` AND (fold_name LIKE $1 ESCAPE '\' OR COALESCE(fold_package, '') LIKE $1 ESCAPE '\'
			OR fold_description LIKE $1 ESCAPE '\')`
	}
	if len(b.Categories) > 0 {
		in := placeholders(len(args)+1, len(b.Categories))
		where += ` AND (category IN (` + in + `) OR id IN (SELECT app FROM app_categories WHERE category IN (` + in + `)))`
		for _, c := range b.Categories {
			args = append(args, c)
		}
	}
	query, args := paged(`SELECT `+appCols+` FROM apps WHERE `+where+ob, b.Page, args...)
	out, err := queryRows(ctx, q.raw, scanApp, query, args...)
	if err != nil {
		return nil, fmt.Errorf("browse apps: %w", err)
	}
	return out, nil
}
