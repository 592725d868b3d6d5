package hub

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
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

// UpdateApp changes an app's fields (owner or admin).
func (s *Service) UpdateApp(ctx context.Context, a auth.Actor, aid int64, in AppInput) (*App, error) {
	var app *App
	err := s.tx(ctx, func(t *txn) error {
		var err error
		if app, err = ownedApp(ctx, t.Q, a, aid); err != nil {
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

// ownedApp loads an app the caller may change: their own, or any for the admin, but never app 0, which holds
// deleted comments.
func ownedApp(ctx context.Context, q *store.Q, a auth.Actor, aid int64) (*App, error) {
	app, err := q.App(ctx, aid)
	if err != nil {
		return nil, notFound(err, "app", aid)
	}
	if app.ID == DeletedCommentsApp {
		return nil, apperr.New(apperr.Forbidden, "App 0 holds deleted comments and cannot be changed")
	}
	if err := requireOwner(a, app.Author, "app"); err != nil {
		return nil, err
	}
	return app, nil
}

// DeleteApp removes an app (owner or admin). Its comments move to app 0 under one placeholder comment, unless
// recursive, which deletes them. Its updates and stars go with it.
func (s *Service) DeleteApp(ctx context.Context, a auth.Actor, aid int64, recursive bool) error {
	return s.tx(ctx, func(t *txn) error {
		app, err := ownedApp(ctx, t.Q, a, aid)
		if err != nil {
			return err
		}
		return s.deleteApp(ctx, t, a, app, recursive)
	})
}

// deleteApp is DeleteApp's work inside t, on an app the caller may delete.
func (s *Service) deleteApp(ctx context.Context, t *txn, a auth.Actor, app *App, recursive bool) error {
	aid := app.ID
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
}

// AppStargazers lists who starred an app.
func (s *Service) AppStargazers(ctx context.Context, aid int64, p Page) ([]int64, error) {
	q := s.store.Q()
	ids, err := q.AppStargazers(ctx, aid, p)
	if err := parentCheck(ctx, len(ids), wrap(err, "stargazers"), q.AppExists, "app", aid); err != nil {
		return nil, err
	}
	return ids, nil
}

// Starred reports whether the caller starred the app.
func (s *Service) Starred(ctx context.Context, a auth.Actor, aid int64) (bool, error) {
	if err := requireSignedIn(a); err != nil {
		return false, err
	}
	q := s.store.Q()
	ok, err := q.Starred(ctx, a.UID, aid)
	if err := parentCheck(ctx, boolLen(ok), wrap(err, "starred"), q.AppExists, "app", aid); err != nil {
		return false, err
	}
	return ok, nil
}

// boolLen counts a yes as a list of one, for parentCheck: a star or a follow proves its target exists.
func boolLen(ok bool) int {
	if ok {
		return 1
	}
	return 0
}

// ToggleStar stars or unstars an app; a new star adds a timeline entry.
func (s *Service) ToggleStar(ctx context.Context, a auth.Actor, aid int64) (bool, error) {
	if err := requireUser(a); err != nil {
		return false, err
	}
	var on bool
	err := s.tx(ctx, func(t *txn) error {
		if err := requireApp(ctx, t.Q, aid); err != nil {
			return err
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

// requireApp answers 404 unless aid names an app.
func requireApp(ctx context.Context, q *store.Q, aid int64) error {
	return parentCheck(ctx, 0, nil, q.AppExists, "app", aid)
}

// Updates lists an app's versions by reversion.
func (s *Service) Updates(ctx context.Context, aid int64, p Page) ([]Version, error) {
	q := s.store.Q()
	us, err := q.Updates(ctx, aid, false, p)
	if err := parentCheck(ctx, len(us), wrap(err, "updates"), q.AppExists, "app", aid); err != nil {
		return nil, err
	}
	out := make([]Version, len(us))
	for i, u := range us {
		out[i] = VersionOf(u)
	}
	return out, nil
}

// CountUpdates counts an app's versions.
func (s *Service) CountUpdates(ctx context.Context, aid int64) (int64, error) {
	q := s.store.Q()
	n, err := q.CountUpdates(ctx, aid)
	if err := parentCheck(ctx, int(min(n, 1)), wrap(err, "count updates"), q.AppExists, "app", aid); err != nil {
		return 0, err
	}
	return n, nil
}

// Version is an update as the APIs show it, with its stack as JSON.
type Version struct {
	Update
	Stack json.RawMessage `json:"stack,omitempty"`
}

// VersionOf shows an update.
func VersionOf(u Update) Version {
	v := Version{Update: u}
	if u.Stack != nil {
		v.Stack = json.RawMessage(*u.Stack)
	}
	return v
}

// PublishUpdate adds a version to an app (owner or admin); it touches the app and adds a timeline entry.
func (s *Service) PublishUpdate(ctx context.Context, a auth.Actor, aid int64, in UpdateInput) (*Version, error) {
	now := s.ms()
	u := &Update{App: aid, CreatedAt: now}
	if err := s.applyUpdate(u, in, a); err != nil {
		return nil, err
	}
	if err := checkUpdate(u); err != nil {
		return nil, err
	}
	err := s.tx(ctx, func(t *txn) error {
		app, err := ownedApp(ctx, t.Q, a, aid)
		if err != nil {
			return err
		}
		if err := t.CreateUpdate(ctx, u); err != nil {
			return conflict(err, "rev", "app %d already has reversion %d", aid, u.Reversion)
		}
		if err := t.TouchApp(ctx, aid, now); err != nil {
			return err
		}
		actor := a.UID
		if !a.User {
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
	v := VersionOf(*u)
	return &v, nil
}

// applyUpdate copies the request into u. A stack is validated first: stacks ordinary users publish may not ask
// for host power; the admin's may, and then record it.
func (s *Service) applyUpdate(u *Update, in UpdateInput, a auth.Actor) error {
	in.Reversion.apply(&u.Reversion)
	in.Version.apply(&u.Version)
	in.InstallURL.apply(&u.InstallURL)
	in.Updates.apply(&u.Updates)
	in.APIMin.apply(&u.APIMin)
	in.APITarget.apply(&u.APITarget)
	if !in.Stack.Set {
		return nil
	}
	if in.Stack.V == nil {
		u.Stack = nil
		return nil
	}
	st := *in.Stack.V
	st.HostAccess = nil // derived by Validate, never taken from the client
	if err := catalog.Validate(&st, s.validateOptions(a)); err != nil {
		return apperr.Wrap(apperr.Invalid, err, "stack: %v", err).WithField("stack")
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode stack: %w", err)
	}
	text := string(b)
	u.Stack = &text
	return nil
}

// SaveUpdate changes a version's fields (owner or admin); the reversion itself never changes.
func (s *Service) SaveUpdate(ctx context.Context, a auth.Actor, aid, rev int64, in UpdateInput) (*Version, error) {
	in.Reversion = Opt[int64]{}
	var u *Update
	err := s.tx(ctx, func(t *txn) error {
		if _, err := ownedApp(ctx, t.Q, a, aid); err != nil {
			return err
		}
		var err error
		if u, err = t.Update(ctx, aid, rev); err != nil {
			return notFound(err, "update", fmt.Sprintf("%d/%d", aid, rev))
		}
		if err := s.applyUpdate(u, in, a); err != nil {
			return err
		}
		if err := checkUpdate(u); err != nil {
			return err
		}
		return t.SaveUpdate(ctx, u)
	})
	if err != nil {
		return nil, err
	}
	v := VersionOf(*u)
	return &v, nil
}

// DeleteUpdate removes a version (owner or admin).
func (s *Service) DeleteUpdate(ctx context.Context, a auth.Actor, aid, rev int64) error {
	return s.tx(ctx, func(t *txn) error {
		if _, err := ownedApp(ctx, t.Q, a, aid); err != nil {
			return err
		}
		return notFound(t.DeleteUpdate(ctx, aid, rev), "update", fmt.Sprintf("%d/%d", aid, rev))
	})
}
