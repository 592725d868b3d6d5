package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// SystemUser owns imported templates; it cannot log in.
const SystemUser = 0

// ImportResult says what importing one template changed.
type ImportResult struct {
	Key     string   `json:"key"`
	App     int64    `json:"app"`
	Created bool     `json:"created"`
	Added   []string `json:"added"` // versions added now; empty when the template was already there
	// Warnings are what Compose accepts but reads its own way (the default version's, as Validate words them).
	Warnings []string `json:"warnings,omitempty"`
}

// ImportTemplate stores a template as an app owned by the system user (package = its key) with one update per
// version, the first listed (the default) last. Versions already present are left alone, so importing twice
// changes nothing.
// Admin only; admin templates may need host access, which their stacks record.
func (s *Service) ImportTemplate(ctx context.Context, a auth.Actor, t catalog.Template) (*ImportResult, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	if len(t.Versions) == 0 {
		return nil, apperr.Field(apperr.Invalid, "versions", "template %s lists no version", t.Key)
	}
	stacks := make([]string, len(t.Versions))
	var warnings []string
	for i, v := range t.Versions {
		st, err := t.StackFor(v)
		if err == nil {
			err = catalog.Validate(&st, catalog.ValidateOptions{AllowHostAccess: true, MaxSize: catalog.MaxImportSize})
		}
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "template %s version %s: %v", t.Key, v, err)
		}
		if i == 0 {
			warnings = st.Warnings
		}
		b, err := json.Marshal(st)
		if err != nil {
			return nil, err
		}
		stacks[i] = string(b)
	}
	res := &ImportResult{Key: t.Key, Added: []string{}, Warnings: warnings}
	err := s.tx(ctx, func(tx *txn) error {
		app, err := tx.AppByPackage(ctx, t.Key)
		now := s.ms()
		switch {
		case errors.Is(err, store.ErrNotFound):
			key := t.Key
			app = &App{Author: SystemUser, Package: &key, Name: t.Name, Desc: t.Description, CreatedAt: now, UpdatedAt: now}
			if err := checkApp(app); err != nil {
				return err
			}
			if err := tx.CreateApp(ctx, app); err != nil {
				return conflict(err, "package", "package %q is taken", key)
			}
			res.Created = true
			tx.emit(events.AppCreated, SystemUser, 0, *app)
		case err != nil:
			return err
		case app.Author != SystemUser:
			return apperr.New(apperr.Conflict, "package %s belongs to user %d's app, not to the catalog", t.Key, app.Author)
		}
		res.App = app.ID
		have, err := tx.Updates(ctx, app.ID, false, Page{Limit: MaxMax * 100})
		if err != nil {
			return err
		}
		known := map[string]bool{}
		for _, u := range have {
			known[u.Version] = true
		}
		// Templates list their newest version first, and it is their default. Adding them oldest first gives the
		// default the highest reversion, so "newer" means a higher reversion for imported and published versions
		// alike (an install's "update available" compares reversions).
		for i := len(t.Versions) - 1; i >= 0; i-- {
			v := t.Versions[i]
			if known[v] {
				continue
			}
			u := &Update{App: app.ID, Version: v, Updates: fmt.Sprintf("%s %s from the template library", t.Name, v),
				Stack: &stacks[i], CreatedAt: now}
			if err := checkUpdate(u); err != nil {
				return err
			}
			if err := tx.CreateUpdate(ctx, u); err != nil {
				return err
			}
			res.Added = append(res.Added, v)
			tx.emit(events.UpdatePublished, SystemUser, 0, *u)
		}
		if len(res.Added) > 0 && !res.Created {
			return tx.TouchApp(ctx, app.ID, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// SeedCatalog imports the built-in templates on a server's first start: while the catalog holds no template yet.
// A server whose admin removed them does not get them back on the next start.
func (s *Service) SeedCatalog(ctx context.Context, templates []catalog.Template) (int, error) {
	return s.SeedCatalogFrom(ctx, func() ([]catalog.Template, error) { return templates, nil })
}

// SeedCatalogFrom is SeedCatalog with the templates read by load only when they are needed: reading and
// validating them all costs every start time, and only the first start uses them.
func (s *Service) SeedCatalogFrom(ctx context.Context, load func() ([]catalog.Template, error)) (int, error) {
	seeded, err := s.store.Q().HasSystemApps(ctx)
	if err != nil || seeded {
		return 0, err
	}
	templates, err := load()
	if err != nil {
		return 0, err
	}
	admin := auth.System
	for _, t := range templates {
		if _, err := s.ImportTemplate(ctx, admin, t); err != nil {
			return 0, fmt.Errorf("built-in template %s: %w", t.Key, err)
		}
	}
	return len(templates), nil
}
