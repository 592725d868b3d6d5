package hub

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// metapassLen is the length of an issued metapass (the contract's "20 random characters").
const metapassLen = 20

// CreateUser creates a user (admin only) and returns the uid and the metapass, shown this once.
func (s *Service) CreateUser(ctx context.Context, a auth.Actor, in UserInput) (uid int64, _ string, err error) {
	defer func() { s.audit.Record(ctx, a, audit.UserCreate, userTarget(uid, in.SimpleName.V), err) }()
	if err := requireAdmin(a); err != nil {
		return 0, "", err
	}
	now := s.ms()
	u := &User{CreatedAt: now, OnlineAt: now, Enabled: true}
	applyUser(u, in)
	if u.Name == "" {
		u.Name = u.SimpleName
	}
	if err := checkUser(u); err != nil {
		return 0, "", err
	}
	metapass, err := auth.RandomString(metapassLen, auth.Alphanumeric)
	if err != nil {
		return 0, "", err
	}
	hash, err := s.auth.Hash(metapass)
	if err != nil {
		return 0, "", err
	}
	err = s.tx(ctx, func(t *txn) error {
		if err := t.CreateUser(ctx, u, hash); err != nil {
			return conflict(err, "simple_name", "simple_name %q is taken", u.SimpleName)
		}
		t.emit(events.UserCreated, 0, 0, *u)
		return nil
	})
	if err != nil {
		return 0, "", err
	}
	return u.ID, metapass, nil
}

func applyUser(u *User, in UserInput) {
	in.SimpleName.apply(&u.SimpleName)
	in.Name.apply(&u.Name)
	in.AvatarURL.apply(&u.AvatarURL)
	in.Alias.apply(&u.Alias)
	in.Github.apply(&u.Github)
	in.Bio.apply(&u.Bio)
	in.DevBio.apply(&u.DevBio)
}

// User loads one user. The system user (0) is not a user anyone can see.
func (s *Service) User(ctx context.Context, uid int64) (*User, error) {
	if uid == 0 {
		return nil, notFound(store.ErrNotFound, "user", uid)
	}
	u, err := s.store.Q().User(ctx, uid)
	if err != nil {
		return nil, notFound(err, "user", uid)
	}
	return u, nil
}

// UpdateUser changes the caller's own profile.
func (s *Service) UpdateUser(ctx context.Context, a auth.Actor, uid int64, in UserInput) (*User, error) {
	if err := requireSelf(a, uid); err != nil {
		return nil, err
	}
	var u *User
	err := s.tx(ctx, func(t *txn) error {
		var err error
		if u, err = t.User(ctx, uid); err != nil {
			return notFound(err, "user", uid)
		}
		applyUser(u, in)
		if err := checkUser(u); err != nil {
			return err
		}
		if err := t.UpdateUser(ctx, u); err != nil {
			return conflict(err, "simple_name", "simple_name %q is taken", u.SimpleName)
		}
		return nil
	})
	return u, err
}

// DeleteUser removes a user (self or admin); their apps, updates and comments stay.
func (s *Service) DeleteUser(ctx context.Context, a auth.Actor, uid int64) error {
	if !auth.IsAdmin(a) {
		if err := requireSelf(a, uid); err != nil {
			return err
		}
	}
	if uid == 0 {
		return apperr.New(apperr.Forbidden, "The system user cannot be deleted")
	}
	err := s.tx(ctx, func(t *txn) error {
		if err := t.DeleteUser(ctx, uid); err != nil {
			return notFound(err, "user", uid)
		}
		t.emit(events.UserDeleted, a.UID, 0, map[string]int64{"uid": uid})
		return nil
	})
	if err == nil {
		s.auth.Forget(uid)
	}
	return err
}

// ToggleUserEnabled enables or disables a user (admin only) and returns the new state.
func (s *Service) ToggleUserEnabled(ctx context.Context, a auth.Actor, uid int64) (enabled bool, err error) {
	defer func() {
		action := audit.UserDisable
		if enabled {
			action = audit.UserEnable
		}
		s.audit.Record(ctx, a, action, userTarget(uid, ""), err)
	}()
	if err := requireAdmin(a); err != nil {
		return false, err
	}
	err = s.tx(ctx, func(t *txn) error {
		var err error
		if enabled, err = t.ToggleUserEnabled(ctx, uid); err != nil {
			return notFound(err, "user", uid)
		}
		typ := events.UserDisabled
		if enabled {
			typ = events.UserEnabled
		}
		t.emit(typ, a.UID, 0, map[string]int64{"uid": uid})
		return nil
	})
	if err != nil || enabled {
		return enabled, err
	}
	// A disabled user must not stay signed in on the web either.
	if err := s.auth.EndSessions(ctx, uid); err != nil {
		return false, fmt.Errorf("end sessions of %d: %w", uid, err)
	}
	return false, nil
}

// SetMetapass replaces a user's metapass (admin only); an empty one is generated. It returns the new metapass.
func (s *Service) SetMetapass(ctx context.Context, a auth.Actor, uid int64, metapass string) (string, error) {
	if err := requireAdmin(a); err != nil {
		return "", err
	}
	metapass = strings.TrimSpace(metapass)
	if metapass == "" {
		var err error
		if metapass, err = auth.RandomString(metapassLen, auth.Alphanumeric); err != nil {
			return "", err
		}
	}
	var c checker
	c.len("metapass", metapass, limMetapass)
	if c.err == nil && len(metapass) < 8 {
		c.fail(apperr.Field(apperr.Invalid, "metapass", "metapass must be at least 8 characters"))
	}
	if c.err != nil {
		return "", c.err
	}
	hash, err := s.auth.Hash(metapass)
	if err != nil {
		return "", err
	}
	if err := s.store.Q().SetMetapass(ctx, uid, hash); err != nil {
		return "", notFound(err, "user", uid)
	}
	return metapass, nil
}

// Users lists uids.
func (s *Service) Users(ctx context.Context, sort Sort, p Page) ([]int64, error) {
	ids, err := s.store.Q().UserIDs(ctx, sort, p)
	return ids, wrap(err, "list users")
}

// SearchUsers lists uids whose field (mode) contains keyword.
func (s *Service) SearchUsers(ctx context.Context, mode, keyword string, sort Sort, p Page) ([]int64, error) {
	if mode == "" {
		mode = "name"
	}
	switch mode {
	case "sname", "name", "alias", "github", "bio", "dev_bio":
	default:
		return nil, apperr.Field(apperr.Invalid, "mode", "mode must be one of sname, name, alias, github, bio, dev_bio")
	}
	ids, err := s.store.Q().SearchUsers(ctx, mode, keyword, sort, p)
	return ids, wrap(err, "search users")
}

// userExists is q.UserExists without the system user, whom nobody can see (see User), in the shape parentCheck
// takes.
func userExists(q *store.Q) func(context.Context, int64) (bool, error) {
	return func(ctx context.Context, uid int64) (bool, error) {
		if uid == 0 {
			return false, nil
		}
		return q.UserExists(ctx, uid)
	}
}

// requireUserExists answers 404 unless uid names a user anyone can see; a failed lookup stays a server error.
func requireUserExists(ctx context.Context, q *store.Q, uid int64) error {
	return parentCheck(ctx, 0, nil, userExists(q), "user", uid)
}

// Followers lists who follows uid.
func (s *Service) Followers(ctx context.Context, uid int64, p Page) ([]int64, error) {
	if uid == 0 {
		return nil, notFound(store.ErrNotFound, "user", uid)
	}
	q := s.store.Q()
	ids, err := q.Followers(ctx, uid, p)
	if err := parentCheck(ctx, len(ids), wrap(err, "followers"), userExists(q), "user", uid); err != nil {
		return nil, err
	}
	return ids, nil
}

// Following lists whom uid follows.
func (s *Service) Following(ctx context.Context, uid int64, p Page) ([]int64, error) {
	if uid == 0 {
		return nil, notFound(store.ErrNotFound, "user", uid)
	}
	q := s.store.Q()
	ids, err := q.Following(ctx, uid, p)
	if err := parentCheck(ctx, len(ids), wrap(err, "following"), userExists(q), "user", uid); err != nil {
		return nil, err
	}
	return ids, nil
}

// Follows reports whether the caller follows uid.
func (s *Service) Follows(ctx context.Context, a auth.Actor, uid int64) (bool, error) {
	if err := requireSignedIn(a); err != nil {
		return false, err
	}
	if uid == 0 {
		return false, notFound(store.ErrNotFound, "user", uid)
	}
	q := s.store.Q()
	ok, err := q.Follows(ctx, a.UID, uid)
	if err := parentCheck(ctx, boolLen(ok), wrap(err, "follows"), userExists(q), "user", uid); err != nil {
		return false, err
	}
	return ok, nil
}

// ToggleFollow follows or unfollows uid; a new follow adds a timeline entry and notifies uid.
func (s *Service) ToggleFollow(ctx context.Context, a auth.Actor, uid int64) (bool, error) {
	if err := requireUser(a); err != nil {
		return false, err
	}
	if uid == a.UID {
		return false, apperr.Field(apperr.Invalid, "uid", "You cannot follow yourself")
	}
	var on bool
	err := s.tx(ctx, func(t *txn) error {
		if err := requireUserExists(ctx, t.Q, uid); err != nil {
			return err
		}
		var err error
		if on, err = t.ToggleFollow(ctx, a.UID, uid); err != nil || !on {
			return err
		}
		now := s.ms()
		if err := t.AddTimeline(ctx, Timeline{UID: a.UID, Type: store.LineFollowUser, Data: uid, CreatedAt: now}); err != nil {
			return err
		}
		t.emit(events.UserFollowed, a.UID, 0, map[string]int64{"uid": a.UID, "followed": uid})
		return t.notify(ctx, uid, store.NoteFollow, a.UID, now)
	})
	return on, err
}

// OnlineAt tells when uid was last online.
func (s *Service) OnlineAt(ctx context.Context, uid int64) (int64, error) {
	u, err := s.User(ctx, uid)
	if err != nil {
		return 0, err
	}
	return u.OnlineAt, nil
}

// MarkOnline records that the caller (uid) is online now.
func (s *Service) MarkOnline(ctx context.Context, a auth.Actor, uid int64) (int64, error) {
	if err := requireSelf(a, uid); err != nil {
		return 0, err
	}
	now := s.ms()
	if err := s.store.Q().SetOnline(ctx, uid, now); err != nil {
		return 0, notFound(err, "user", uid)
	}
	return now, nil
}

// UserApps lists the apps uid authored, most recently updated first.
func (s *Service) UserApps(ctx context.Context, uid int64, p Page) ([]int64, error) {
	ids, err := s.store.Q().UserAppIDs(ctx, uid, p)
	return ids, wrap(err, "user apps")
}

// UserComments lists uid's comments, newest first.
func (s *Service) UserComments(ctx context.Context, uid int64, p Page) ([]int64, error) {
	ids, err := s.store.Q().UserCommentIDs(ctx, uid, p)
	return ids, wrap(err, "user comments")
}

// UserStars lists the apps uid starred.
func (s *Service) UserStars(ctx context.Context, uid int64, p Page) ([]int64, error) {
	ids, err := s.store.Q().UserStars(ctx, uid, p)
	return ids, wrap(err, "user stars")
}

// UserCommentStars lists the comments uid starred.
func (s *Service) UserCommentStars(ctx context.Context, uid int64, p Page) ([]int64, error) {
	ids, err := s.store.Q().UserCommentStars(ctx, uid, p)
	return ids, wrap(err, "user comment stars")
}

// Timeline lists timeline entries newest first, of the given users or (nil) of everybody.
func (s *Service) Timeline(ctx context.Context, uids []int64, p Page) ([]Timeline, error) {
	lines, err := s.store.Q().Timelines(ctx, uids, p)
	return lines, wrap(err, "timeline")
}

// requireSignedIn lets through any signed-in user, enabled or not (for reads about oneself).
func requireSignedIn(a auth.Actor) error {
	if a.User && a.TokenID != "" {
		return auth.Can(a, auth.HubRead)
	}
	if a.User {
		return nil
	}
	if a.Admin {
		return apperr.New(apperr.Forbidden, "The admin is not a user: sign in as a user to do this")
	}
	return apperr.New(apperr.Unauthorized, "Unauthorized, check geekapk_uid/geekapk_passhash")
}

func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrInvalid) {
		return apperr.Wrap(apperr.Invalid, err, "Invalid request for %s", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// userTarget names a user in the audit log.
func userTarget(uid int64, simpleName string) string {
	if simpleName == "" {
		return "user " + strconv.FormatInt(uid, 10)
	}
	return "user " + strconv.FormatInt(uid, 10) + " (" + simpleName + ")"
}

// SetRole sets a user's role (admin only). The user's sessions end, so each browser signs in again under the new
// role; their API tokens follow the role at once, since a token's scopes are capped by it on every request.
func (s *Service) SetRole(ctx context.Context, a auth.Actor, uid int64, role string) (err error) {
	defer func() { s.audit.Record(ctx, a, audit.RoleSet, userTarget(uid, "")+" to "+role, err) }()
	if err := requireAdmin(a); err != nil {
		return err
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return err
	}
	if err := s.store.Q().SetRole(ctx, uid, string(r)); err != nil {
		return notFound(err, "user", uid)
	}
	if err := s.auth.EndSessions(ctx, uid); err != nil {
		return fmt.Errorf("end sessions of %d: %w", uid, err)
	}
	s.auth.Forget(uid)
	return nil
}

// Role reads a user's role.
func (s *Service) Role(ctx context.Context, uid int64) (auth.Role, error) {
	r, err := s.store.Q().Role(ctx, uid)
	return auth.Role(r), notFound(err, "user", uid)
}

// SetRoleOf sets the role of the user named by id or simple name (admin only) and returns the uid.
func (s *Service) SetRoleOf(ctx context.Context, a auth.Actor, user, role string) (int64, error) {
	uid, err := s.resolveUser(ctx, a, user)
	if err != nil {
		s.audit.Record(ctx, a, audit.RoleSet, "user "+user+" to "+role, err)
		return 0, err
	}
	return uid, s.SetRole(ctx, a, uid, role)
}

// ResetSecondFactorsOf removes every second factor of the user named by id or simple name (TOTP, recovery codes,
// passkeys) and ends their sessions, for a user who lost them; admin only. They sign in with their password again
// (and enrol anew where second factors are required). It returns the uid.
func (s *Service) ResetSecondFactorsOf(ctx context.Context, a auth.Actor, user string) (uid int64, err error) {
	defer func() { s.audit.Record(ctx, a, audit.FactorsReset, "user "+user, err) }()
	if uid, err = s.resolveUser(ctx, a, user); err != nil {
		return 0, err
	}
	if _, err := s.store.Q().Role(ctx, uid); err != nil {
		return 0, notFound(err, "user", uid)
	}
	if err := s.store.Tx(ctx, func(q *store.Q) error { return q.DeleteSecondFactors(ctx, uid) }); err != nil {
		return 0, err
	}
	if err := s.auth.EndSessions(ctx, uid); err != nil {
		return 0, fmt.Errorf("end sessions of %d: %w", uid, err)
	}
	s.auth.Forget(uid)
	return uid, nil
}

// resolveUser finds a user by id or simple name, for the admin only (nobody else learns who exists).
func (s *Service) resolveUser(ctx context.Context, a auth.Actor, user string) (int64, error) {
	if err := requireAdmin(a); err != nil {
		return 0, err
	}
	uid, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		ids, err := s.store.Q().UserIDsBySimpleName(ctx, []string{user})
		if err != nil {
			return 0, fmt.Errorf("look up %q: %w", user, err)
		}
		if len(ids) == 0 {
			return 0, apperr.Field(apperr.NotFound, "uid", "no user named %q", user)
		}
		uid = ids[0]
	}
	return uid, nil
}
