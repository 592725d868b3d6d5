package store

import (
	"context"
	"fmt"
)

// Category is a node of the category tree; Parent is nil at the top level.
type Category struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Parent *int64 `json:"parent"`
}

func scanCategory(row interface{ Scan(...any) error }) (*Category, error) {
	var c Category
	if err := row.Scan(&c.ID, &c.Name, &c.Parent); err != nil {
		return nil, mapErr(err)
	}
	return &c, nil
}

// CreateCategory inserts a category and returns its id.
func (q *Q) CreateCategory(ctx context.Context, name string, parent *int64) (int64, error) {
	id, err := q.int64(ctx, `INSERT INTO categories (category_name, parent_category) VALUES ($1, $2) RETURNING id`,
		name, parent)
	if err != nil {
		return 0, fmt.Errorf("insert category: %w", err)
	}
	return id, nil
}

// Category loads one category.
func (q *Q) Category(ctx context.Context, id int64) (*Category, error) {
	c, err := scanCategory(q.db.QueryRowContext(ctx,
		`SELECT id, category_name, parent_category FROM categories WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("category %d: %w", id, err)
	}
	return c, nil
}

// CategoryExists reports whether tid names a category; it is cheaper than Category.
func (q *Q) CategoryExists(ctx context.Context, id int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM categories WHERE id = $1`, id)
}

// Categories lists every category by id.
func (q *Q) Categories(ctx context.Context) ([]Category, error) {
	return queryRows(ctx, q.db, scanCategory, `SELECT id, category_name, parent_category FROM categories ORDER BY id`)
}

// RenameCategory sets a category's name.
func (q *Q) RenameCategory(ctx context.Context, id int64, name string) error {
	return q.execOne(ctx, `UPDATE categories SET category_name = $2 WHERE id = $1`, id, name)
}

// MoveCategory sets a category's parent (nil for the top level). The caller refuses cycles.
func (q *Q) MoveCategory(ctx context.Context, id int64, parent *int64) error {
	return q.execOne(ctx, `UPDATE categories SET parent_category = $2 WHERE id = $1`, id, parent)
}

// CategoryAncestors lists the ids from the category's parent up to the root.
func (q *Q) CategoryAncestors(ctx context.Context, id int64) ([]int64, error) {
	return q.ids(ctx, `WITH RECURSIVE up(id, depth) AS (
			SELECT parent_category, 1 FROM categories WHERE id = $1 AND parent_category IS NOT NULL
			UNION ALL
			SELECT c.parent_category, up.depth + 1 FROM categories c JOIN up ON c.id = up.id
			WHERE c.parent_category IS NOT NULL AND up.depth < 10000)
		SELECT id FROM up ORDER BY depth`, id)
}

// DeleteCategory removes a category no app and no child category uses; otherwise it answers ErrInUse.
func (q *Q) DeleteCategory(ctx context.Context, id int64) error {
	used, err := q.exists(ctx, `SELECT 1 FROM apps WHERE category = $1
		UNION ALL SELECT 1 FROM categories WHERE parent_category = $1 LIMIT 1`, id)
	if err != nil {
		return fmt.Errorf("delete category %d: %w", id, err)
	}
	if used {
		return fmt.Errorf("delete category %d: %w", id, ErrInUse)
	}
	return q.execOne(ctx, `DELETE FROM categories WHERE id = $1`, id)
}
