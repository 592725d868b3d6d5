package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"

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
	Key     string   `json:"key"` // the app's package: the template's key, or <key>-<store> (see Renamed)
	App     int64    `json:"app"`
	Store   string   `json:"store"`
	Created bool     `json:"created"`
	Joined  bool     `json:"joined,omitempty"` // the app came from another store first: this store's versions joined it
	Added   []string `json:"added"`            // versions added now; empty when the template was already there
	// Renamed says why the template got another key: its key belongs to another app (another image).
	Renamed string `json:"renamed,omitempty"`
	// Warnings are what Compose accepts but reads its own way (the default version's, as Validate words them),
	// and metadata that could not be kept.
	Warnings []string `json:"warnings,omitempty"`
}

// DefaultStore is the store of a template that names none: the Websoft9 layout (the built-in catalog's too).
const DefaultStore = "websoft9"

// storeName is what a store's name must look like (an importer's format name).
var storeName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// ImportTemplate stores a template as an app owned by the system user (package = its key) with one update per
// version, the first listed (the default) last, each marked with the template's store. The same app from
// another store (same key, same image repository of its main service, docs/stores.md §2) gets that store's
// versions too; a key that names another app (another image) is imported as <key>-<store>. Versions already
// present for the store are left alone, so importing twice changes nothing. The store's metadata (tagline,
// icon, screenshots, homepage, architectures, categories) is kept from the store that brought the app first;
// the others fill what it lacks.
// Admin only; admin templates may need host access, which their stacks record.
func (s *Service) ImportTemplate(ctx context.Context, a auth.Actor, t catalog.Template) (*ImportResult, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	if len(t.Versions) == 0 {
		return nil, apperr.Field(apperr.Invalid, "versions", "template %s lists no version", t.Key)
	}
	if t.Store == "" {
		t.Store = DefaultStore
	}
	if err := checkStoreName("store", t.Store); err != nil {
		return nil, err
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
	image := catalog.MainImage(t.Stack)
	res := &ImportResult{Key: t.Key, Store: t.Store, Added: []string{}, Warnings: warnings}
	err := s.tx(ctx, func(tx *txn) error {
		res.Renamed, res.Created, res.Joined, res.Added = "", false, false, res.Added[:0]
		res.Warnings = warnings
		app, err := s.catalogApp(ctx, tx, t, image, res)
		if err != nil {
			return err
		}
		res.App, res.Key = app.ID, *app.Package
		if err := s.importMeta(ctx, tx, app, t, image, res); err != nil {
			return err
		}
		have, err := tx.Updates(ctx, app.ID, false, Page{Limit: MaxMax * 100})
		if err != nil {
			return err
		}
		known := map[string]bool{}
		for _, u := range have {
			if u.Store == t.Store {
				known[u.Version] = true
			}
		}
		now := s.ms()
		// Templates list their newest version first, and it is their default. Adding them oldest first gives the
		// default the highest reversion, so "newer" means a higher reversion for imported and published versions
		// alike (an install's "update available" compares reversions).
		for i := len(t.Versions) - 1; i >= 0; i-- {
			v := t.Versions[i]
			if known[v] {
				continue
			}
			u := &Update{App: app.ID, Version: v, Updates: fmt.Sprintf("%s %s from the template library", t.Name, v),
				Stack: &stacks[i], CreatedAt: now, Store: t.Store}
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

// catalogApp finds or creates the app a template belongs to: the app of its key when that is the same app (a
// catalog app that this store already offers, or whose image repository is the template's or unknown), else
// the app of <key>-<store>.
func (s *Service) catalogApp(ctx context.Context, tx *txn, t catalog.Template, image string, res *ImportResult) (*App, error) {
	key, first := t.Key, ""
	for attempt := 0; ; attempt++ {
		app, err := tx.AppByPackage(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return s.createCatalogApp(ctx, tx, t, key, res)
		}
		if err != nil {
			return nil, err
		}
		if app.Author != SystemUser {
			return nil, apperr.New(apperr.Conflict, "package %s belongs to user %d's app, not to the catalog", key, app.Author)
		}
		stores, err := tx.AppStores(ctx, app.ID)
		if err != nil {
			return nil, err
		}
		other := otherImage(stores, t.Store, image)
		if other == "" {
			res.Joined = !slices.ContainsFunc(stores, func(st store.AppStore) bool { return st.Store == t.Store })
			return app, nil
		}
		if attempt > 0 {
			return nil, apperr.New(apperr.Conflict, "packages %s and %s both belong to other apps (images %s and %s, not %s); import this one under another key",
				t.Key, key, first, other, image)
		}
		first = other
		res.Renamed = fmt.Sprintf("%s is another app in the catalog (image %s, not %s): imported as %s-%s", t.Key, other, image, t.Key, t.Store)
		key = t.Key + "-" + t.Store
	}
}

// otherImage is the image repository that makes an app with these stores a different app than a template of
// store with image, or "" when it is the same app: the store already offers it, or an image is unknown, or one
// of its stores has the same image, whichever registry each names (catalog.ImagePath).
func otherImage(stores []store.AppStore, storeName, image string) string {
	other := ""
	for _, st := range stores {
		switch {
		case st.Store == storeName, catalog.ImagePath(st.Image) == catalog.ImagePath(image):
			return ""
		case st.Image != "":
			other = st.Image
		}
	}
	if image == "" {
		return ""
	}
	return other
}

// createCatalogApp creates the system user's app for a template under key.
func (s *Service) createCatalogApp(ctx context.Context, tx *txn, t catalog.Template, key string, res *ImportResult) (*App, error) {
	now := s.ms()
	app := &App{Author: SystemUser, Package: &key, Name: t.Name, Desc: t.Description, CreatedAt: now, UpdatedAt: now}
	if err := checkApp(app); err != nil {
		return nil, err
	}
	if err := tx.CreateApp(ctx, app); err != nil {
		return nil, conflict(err, "package", "package %q is taken", key)
	}
	res.Created = true
	tx.emit(events.AppCreated, SystemUser, 0, *app)
	return app, nil
}

// SeedCatalog imports the built-in templates on a server's first start: while the catalog holds no template yet.
// A server whose admin removed them does not get them back on the next start.
func (s *Service) SeedCatalog(ctx context.Context, templates []catalog.Template) (int, error) {
	return s.SeedCatalogFrom(ctx, func() ([]catalog.Template, error) { return templates, nil })
}

// SweepStackFiles deletes the stored stack files that no version refers to any more (deleted apps and versions,
// edited stacks, versions a store sync retired), and tells how many.
func (s *Service) SweepStackFiles(ctx context.Context) (int64, error) {
	return s.store.SweepStackFiles(ctx)
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
