package hub

import (
	"context"
	"errors"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
)

// RetireImportedVersion takes a version an import brought (by app key and version name) out of the catalog, for a
// store source that no longer offers it: the version rows no install uses are deleted, and the app goes as
// DeleteApp removes it (its comments move to app 0) once it has no version left and no install. Versions an
// install uses stay, so it keeps running and can be uninstalled; kept reports them. Only the catalog's (the
// system user's) apps are touched. Admin only.
func (s *Service) RetireImportedVersion(ctx context.Context, a auth.Actor, key, version string) (deleted int64, kept bool, err error) {
	if err := requireAdmin(a); err != nil {
		return 0, false, err
	}
	err = s.tx(ctx, func(t *txn) error {
		app, err := t.AppByPackage(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil // already gone
		}
		if err != nil || app.Author != SystemUser {
			return err
		}
		n, left, err := t.DeleteUnusedVersions(ctx, app.ID, version)
		if err != nil {
			return err
		}
		deleted, kept = n, left > 0
		versions, err := t.CountUpdates(ctx, app.ID)
		if err != nil || versions > 0 {
			return err
		}
		if installed, err := t.AppInstalled(ctx, app.ID); err != nil || installed {
			return err
		}
		return s.deleteApp(ctx, t, a, app, false)
	})
	return deleted, kept, err
}
