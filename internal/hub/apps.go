package hub

import (
	"context"
	"fmt"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// DeletedCommentsApp is app 0: it receives comments orphaned by deletions.
const DeletedCommentsApp = 0

// CreateApp publishes a new app by the caller and returns its id.
func (s *Service) CreateApp(ctx context.Context, a auth.Actor, in AppInput) (int64, error) {
	if err := requireUser(a); err != nil {
		return 0, err
	}
	now := s.ms()
	app := &App{Author: a.UID, CreatedAt: now, UpdatedAt: now}
	applyApp(app, in)
	if err := checkApp(app); err != nil {
		return 0, err
	}
	err := s.tx(ctx, func(t *txn) error {
		if err := s.checkCategory(ctx, t, app.Category); err != nil {
			return err
		}
		if err := t.CreateApp(ctx, app); err != nil {
			return conflict(err, "package", "package %q is taken", deref(app.Package))
		}
		if err := t.AddTimeline(ctx, Timeline{UID: a.UID, Type: store.LineCreateApp, Data: app.ID, CreatedAt: now}); err != nil {
			return err
		}
		t.emit(events.AppCreated, a.UID, 0, *app)
		return nil
	})
	return app.ID, err
}

func applyApp(app *App, in AppInput) {
	in.Category.apply(&app.Category)
	in.Package.apply(&app.Package)
	in.Name.apply(&app.Name)
	in.Alias.apply(&app.Alias)
	in.IconURL.apply(&app.IconURL)
	in.Desc.apply(&app.Desc)
	in.Visual.apply(&app.Visual)
	in.Button.apply(&app.Button)
	in.Special.apply(&app.Special)
	in.Previews.apply(&app.Previews)
	in.Permissions.apply(&app.Permissions)
	in.Size.apply(&app.Size)
	if app.Category != nil && *app.Category == 0 {
		app.Category = nil // 0 means "no category", as for parents
	}
}

func (s *Service) checkCategory(ctx context.Context, t *txn, tid *int64) error {
	if tid == nil {
		return nil
	}
	if _, err := t.Category(ctx, *tid); err != nil {
		if e := notFound(err, "category", *tid); apperr.Is(e, apperr.NotFound) {
			return apperr.Field(apperr.Invalid, "category", "category %d does not exist", *tid)
		}
		return err
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// App loads one app.
func (s *Service) App(ctx context.Context, aid int64) (*App, error) {
	app, err := s.store.Q().App(ctx, aid)
	if err != nil {
		return nil, notFound(err, "app", aid)
	}
	return app, nil
}

// Apps lists apps, most recently updated first.
func (s *Service) Apps(ctx context.Context, p Page) ([]int64, error) {
	ids, err := s.store.Q().AppIDs(ctx, nil, Sort{Key: "updated", Desc: true}, p)
	return ids, wrap(err, "list apps")
}

// AppsSorted lists apps, optionally in a category, in any allowed order.
func (s *Service) AppsSorted(ctx context.Context, tid *int64, sort Sort, p Page) ([]int64, error) {
	ids, err := s.store.Q().AppIDs(ctx, tid, sort, p)
	return ids, wrap(err, "list apps")
}

// UpdateApp changes an app's fields (owner or admin).
func (s *Service) UpdateApp(ctx context.Context, a auth.Actor, aid int64, in AppInput) (*App, error) {
	var app *App
	err := s.tx(ctx, func(t *txn) error {
		var err error
		if app, err = t.App(ctx, aid); err != nil {
			return notFound(err, "app", aid)
		}
		if err := s.ownApp(a, app); err != nil {
			return err
		}
		applyApp(app, in)
		if err := checkApp(app); err != nil {
			return err
		}
		if err := s.checkCategory(ctx, t, app.Category); err != nil {
			return err
		}
		app.UpdatedAt = s.ms()
		if err := t.UpdateApp(ctx, app); err != nil {
			return conflict(err, "package", "package %q is taken", deref(app.Package))
		}
		t.emit(events.AppChanged, a.UID, 0, *app)
		return nil
	})
	return app, err
}

func (s *Service) ownApp(a auth.Actor, app *App) error {
	if app.ID == DeletedCommentsApp {
		return apperr.New(apperr.Forbidden, "App 0 holds deleted comments and cannot be changed")
	}
	return requireOwner(a, app.Author, "app")
}

// DeleteApp removes an app (owner or admin). Its comments move to app 0 under one placeholder comment, unless
// recursive, which deletes them. Its updates and stars go with it.
func (s *Service) DeleteApp(ctx context.Context, a auth.Actor, aid int64, recursive bool) error {
	return s.tx(ctx, func(t *txn) error {
		app, err := t.App(ctx, aid)
		if err != nil {
			return notFound(err, "app", aid)
		}
		if err := s.ownApp(a, app); err != nil {
			return err
		}
		all, top, err := t.CountAppComments(ctx, aid)
		if err != nil {
			return err
		}
		now := s.ms()
		switch {
		case all == 0:
		case recursive:
			if err := t.DeleteAppComments(ctx, aid); err != nil {
				return err
			}
		default:
			holder := &Comment{Author: app.Author, App: DeletedCommentsApp, CreatedAt: now,
				Content: fmt.Sprintf("Comments Deleted from %d", aid)}
			if err := t.CreateComment(ctx, holder); err != nil {
				return err
			}
			if err := t.MoveAppComments(ctx, aid, DeletedCommentsApp, holder.ID); err != nil {
				return err
			}
			if err := t.AddAppComments(ctx, DeletedCommentsApp, all); err != nil {
				return err
			}
			if err := t.SetReplies(ctx, holder.ID, top); err != nil {
				return err
			}
		}
		if err := t.DeleteApp(ctx, aid); err != nil {
			return err
		}
		if err := t.AddTimeline(ctx, Timeline{UID: app.Author, Type: store.LineDeleteApp, Data: aid, CreatedAt: now}); err != nil {
			return err
		}
		t.emit(events.AppDeleted, a.UID, 0, map[string]int64{"app": aid})
		return nil
	})
}

// AppStargazers lists who starred an app.
func (s *Service) AppStargazers(ctx context.Context, aid int64, p Page) ([]int64, error) {
	if _, err := s.App(ctx, aid); err != nil {
		return nil, err
	}
	ids, err := s.store.Q().AppStargazers(ctx, aid, p)
	return ids, wrap(err, "stargazers")
}

// Starred reports whether the caller starred the app.
func (s *Service) Starred(ctx context.Context, a auth.Actor, aid int64) (bool, error) {
	if err := requireSignedIn(a); err != nil {
		return false, err
	}
	if _, err := s.App(ctx, aid); err != nil {
		return false, err
	}
	ok, err := s.store.Q().Starred(ctx, a.UID, aid)
	return ok, wrap(err, "starred")
}

// ToggleStar stars or unstars an app; a new star adds a timeline entry.
func (s *Service) ToggleStar(ctx context.Context, a auth.Actor, aid int64) (bool, error) {
	if err := requireUser(a); err != nil {
		return false, err
	}
	var on bool
	err := s.tx(ctx, func(t *txn) error {
		if _, err := t.App(ctx, aid); err != nil {
			return notFound(err, "app", aid)
		}
		var err error
		if on, err = t.ToggleStar(ctx, a.UID, aid); err != nil || !on {
			return err
		}
		t.emit(events.AppStarred, a.UID, 0, map[string]int64{"uid": a.UID, "app": aid})
		return t.AddTimeline(ctx, Timeline{UID: a.UID, Type: store.LineStarApp, Data: aid, CreatedAt: s.ms()})
	})
	return on, err
}

// Updates lists an app's versions by reversion.
func (s *Service) Updates(ctx context.Context, aid int64, p Page) ([]Update, error) {
	if _, err := s.App(ctx, aid); err != nil {
		return nil, err
	}
	us, err := s.store.Q().Updates(ctx, aid, false, p)
	return us, wrap(err, "updates")
}

// CountUpdates counts an app's versions.
func (s *Service) CountUpdates(ctx context.Context, aid int64) (int64, error) {
	if _, err := s.App(ctx, aid); err != nil {
		return 0, err
	}
	n, err := s.store.Q().CountUpdates(ctx, aid)
	return n, wrap(err, "count updates")
}

// PublishUpdate adds a version to an app (owner or admin); it touches the app and adds a timeline entry.
func (s *Service) PublishUpdate(ctx context.Context, a auth.Actor, aid int64, in UpdateInput) (*Update, error) {
	now := s.ms()
	u := &Update{App: aid, CreatedAt: now}
	applyUpdate(u, in)
	if err := checkUpdate(u); err != nil {
		return nil, err
	}
	err := s.tx(ctx, func(t *txn) error {
		app, err := t.App(ctx, aid)
		if err != nil {
			return notFound(err, "app", aid)
		}
		if err := s.ownApp(a, app); err != nil {
			return err
		}
		if err := t.CreateUpdate(ctx, u); err != nil {
			return conflict(err, "rev", "app %d already has reversion %d", aid, u.Reversion)
		}
		if err := t.TouchApp(ctx, aid, now); err != nil {
			return err
		}
		actor := a.UID
		if a.Admin {
			actor = app.Author
		}
		if err := t.AddTimeline(ctx, Timeline{UID: actor, Type: store.LinePublishUpdate, Data: aid, CreatedAt: now}); err != nil {
			return err
		}
		t.emit(events.UpdatePublished, a.UID, 0, *u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func applyUpdate(u *Update, in UpdateInput) {
	in.Reversion.apply(&u.Reversion)
	in.Version.apply(&u.Version)
	in.InstallURL.apply(&u.InstallURL)
	in.Updates.apply(&u.Updates)
	in.APIMin.apply(&u.APIMin)
	in.APITarget.apply(&u.APITarget)
}

// SaveUpdate changes a version's fields (owner or admin); the reversion itself never changes.
func (s *Service) SaveUpdate(ctx context.Context, a auth.Actor, aid, rev int64, in UpdateInput) (*Update, error) {
	in.Reversion = Opt[int64]{}
	var u *Update
	err := s.tx(ctx, func(t *txn) error {
		app, err := t.App(ctx, aid)
		if err != nil {
			return notFound(err, "app", aid)
		}
		if err := s.ownApp(a, app); err != nil {
			return err
		}
		if u, err = t.Update(ctx, aid, rev); err != nil {
			return notFound(err, "update", fmt.Sprintf("%d/%d", aid, rev))
		}
		applyUpdate(u, in)
		if err := checkUpdate(u); err != nil {
			return err
		}
		return t.SaveUpdate(ctx, u)
	})
	return u, err
}

// DeleteUpdate removes a version (owner or admin).
func (s *Service) DeleteUpdate(ctx context.Context, a auth.Actor, aid, rev int64) error {
	return s.tx(ctx, func(t *txn) error {
		app, err := t.App(ctx, aid)
		if err != nil {
			return notFound(err, "app", aid)
		}
		if err := s.ownApp(a, app); err != nil {
			return err
		}
		return notFound(t.DeleteUpdate(ctx, aid, rev), "update", fmt.Sprintf("%d/%d", aid, rev))
	})
}
