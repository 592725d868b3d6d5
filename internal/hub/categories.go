package hub

import (
	"context"
	"slices"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
)

// CreateCategory adds a category under parent (0 = top level; admin only) and returns its id.
func (s *Service) CreateCategory(ctx context.Context, a auth.Actor, parent int64, name string) (int64, error) {
	if err := requireAdmin(a); err != nil {
		return 0, err
	}
	name, err := checkCategoryName(name)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.tx(ctx, func(t *txn) error {
		p, err := s.parentOf(ctx, t, parent)
		if err != nil {
			return err
		}
		id, err = t.CreateCategory(ctx, name, p)
		return err
	})
	return id, err
}

func checkCategoryName(name string) (string, error) {
	name = strings.TrimSpace(name)
	var c checker
	c.require("name", name)
	c.len("name", name, limCategory)
	return name, c.err
}

// parentOf checks a parent id from a path (0 = none).
func (s *Service) parentOf(ctx context.Context, t *txn, parent int64) (*int64, error) {
	if parent == 0 {
		return nil, nil
	}
	if _, err := t.Category(ctx, parent); err != nil {
		return nil, notFound(err, "category", parent)
	}
	return &parent, nil
}

// RenameCategory renames a category (admin only).
func (s *Service) RenameCategory(ctx context.Context, a auth.Actor, tid int64, name string) (*Category, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	name, err := checkCategoryName(name)
	if err != nil {
		return nil, err
	}
	var c *Category
	err = s.tx(ctx, func(t *txn) error {
		if err := t.RenameCategory(ctx, tid, name); err != nil {
			return notFound(err, "category", tid)
		}
		c, err = t.Category(ctx, tid)
		return err
	})
	return c, err
}

// MoveCategory gives a category a new parent (0 = top level; admin only). Cycles are refused.
func (s *Service) MoveCategory(ctx context.Context, a auth.Actor, tid, parent int64) (*Category, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	var c *Category
	err := s.tx(ctx, func(t *txn) error {
		if _, err := t.Category(ctx, tid); err != nil {
			return notFound(err, "category", tid)
		}
		p, err := s.parentOf(ctx, t, parent)
		if err != nil {
			return err
		}
		if p != nil {
			up, err := t.CategoryAncestors(ctx, parent)
			if err != nil {
				return err
			}
			if parent == tid || slices.Contains(up, tid) {
				return apperr.Field(apperr.Invalid, "parent", "category %d cannot move under %d: that makes a cycle", tid, parent)
			}
		}
		if err := t.MoveCategory(ctx, tid, p); err != nil {
			return err
		}
		c, err = t.Category(ctx, tid)
		return err
	})
	return c, err
}

// DeleteCategory removes a category no app or child uses (admin only).
func (s *Service) DeleteCategory(ctx context.Context, a auth.Actor, tid int64) error {
	if err := requireAdmin(a); err != nil {
		return err
	}
	return s.tx(ctx, func(t *txn) error {
		if _, err := t.Category(ctx, tid); err != nil {
			return notFound(err, "category", tid)
		}
		if err := t.DeleteCategory(ctx, tid); err != nil {
			return inUse(err, "Category %d still has apps or child categories; move them first", tid)
		}
		return nil
	})
}

// Categories lists every category.
func (s *Service) Categories(ctx context.Context) ([]Category, error) {
	cs, err := s.store.Q().Categories(ctx)
	return cs, wrap(err, "categories")
}

// Category loads one category.
func (s *Service) Category(ctx context.Context, tid int64) (*Category, error) {
	c, err := s.store.Q().Category(ctx, tid)
	if err != nil {
		return nil, notFound(err, "category", tid)
	}
	return c, nil
}

// CategoryParent loads a category's parent; a top-level category has none (404).
func (s *Service) CategoryParent(ctx context.Context, tid int64) (*Category, error) {
	c, err := s.Category(ctx, tid)
	if err != nil {
		return nil, err
	}
	if c.Parent == nil {
		return nil, apperr.New(apperr.NotFound, "Resource was not found: category %d is at the top level", tid)
	}
	return s.Category(ctx, *c.Parent)
}

// CategoryApps lists the apps of a category.
func (s *Service) CategoryApps(ctx context.Context, tid int64, sort Sort, p Page) ([]int64, error) {
	q := s.store.Q()
	ids, err := q.AppIDs(ctx, &tid, sort, p)
	if err := parentCheck(ctx, len(ids), wrap(err, "category apps"), q.CategoryExists, "category", tid); err != nil {
		return nil, err
	}
	return ids, nil
}

// SearchApps lists the apps whose field (name, pkg or desc) contains keyword, within a category when tid is set.
func (s *Service) SearchApps(ctx context.Context, tid *int64, field, keyword string, p Page) ([]int64, error) {
	if field == "" {
		field = "name"
	}
	if field != "name" && field != "pkg" && field != "desc" {
		return nil, apperr.Field(apperr.Invalid, "s", "s must be one of name, pkg, desc")
	}
	q := s.store.Q()
	ids, err := q.SearchApps(ctx, field, keyword, tid, Sort{Key: "id"}, p)
	err = wrap(err, "search apps")
	if tid != nil {
		err = parentCheck(ctx, len(ids), err, q.CategoryExists, "category", *tid)
	}
	if err != nil {
		return nil, err
	}
	return ids, nil
}
