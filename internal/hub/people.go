package hub

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
)

// TimelineLine is a timeline entry with what it names loaded, for pages that show it as a sentence. A pointer is
// nil when the thing it names is gone (a deleted user, app or comment).
type TimelineLine struct {
	Timeline
	Actor   *User    // who acted
	User    *User    // the followed user (follow lines)
	App     *App     // the app (app lines), or the commented app (comment lines)
	Comment *Comment // comment lines
}

// NotificationItem is a notification with what it names loaded, for pages that show it as a sentence.
type NotificationItem struct {
	Notification
	Actor   *User    // who replied, mentioned or followed; nil for a comment star (the star is anonymous) or a gone user
	Comment *Comment // replies, mentions and comment stars
	App     *App     // the comment's app
}

// Profile is what a user's page shows.
type Profile struct {
	User    User
	Self    bool // the viewer is this user
	Follows bool // the viewer (a user) follows this user
	Apps    []App
	Stars   []App
	Lines   []TimelineLine
}

// refs are the users, apps and comments some lines or notifications name, loaded with one query per kind.
type refs struct {
	users    map[int64]User
	apps     map[int64]App
	comments map[int64]Comment
}

func (r *refs) user(id int64) *User {
	if u, ok := r.users[id]; ok {
		return &u
	}
	return nil
}

func (r *refs) app(id int64) *App {
	if a, ok := r.apps[id]; ok {
		return &a
	}
	return nil
}

func (r *refs) comment(id int64) *Comment {
	if c, ok := r.comments[id]; ok {
		return &c
	}
	return nil
}

// loadRefs loads the comments first, since their apps and authors are named too.
func (s *Service) loadRefs(ctx context.Context, uids, aids, cids []int64) (*refs, error) {
	q := s.store.Q()
	r := &refs{}
	var err error
	if r.comments, err = q.CommentMap(ctx, cids); err != nil {
		return nil, err
	}
	for _, c := range r.comments {
		aids = append(aids, c.App)
		uids = append(uids, c.Author)
	}
	if r.users, err = q.UserMap(ctx, uids); err != nil {
		return nil, err
	}
	apps, err := q.Apps(ctx, aids)
	if err != nil {
		return nil, fmt.Errorf("load apps: %w", err)
	}
	r.apps = make(map[int64]App, len(apps))
	for _, a := range apps {
		r.apps[a.ID] = a
	}
	return r, nil
}

// TimelineLines is Timeline with what each entry names loaded.
func (s *Service) TimelineLines(ctx context.Context, uids []int64, p Page) ([]TimelineLine, error) {
	lines, err := s.Timeline(ctx, uids, p)
	if err != nil {
		return nil, err
	}
	var us, as, cs []int64
	for _, l := range lines {
		us = append(us, l.UID)
		switch l.Type {
		case store.LineFollowUser:
			us = append(us, l.Data)
		case store.LineStarComment, store.LineCreateComment, store.LineEditComment:
			cs = append(cs, l.Data)
		default:
			as = append(as, l.Data)
		}
	}
	r, err := s.loadRefs(ctx, us, as, cs)
	if err != nil {
		return nil, wrap(err, "timeline")
	}
	out := make([]TimelineLine, len(lines))
	for i, l := range lines {
		tl := TimelineLine{Timeline: l, Actor: r.user(l.UID)}
		switch l.Type {
		case store.LineFollowUser:
			tl.User = r.user(l.Data)
		case store.LineStarComment, store.LineCreateComment, store.LineEditComment:
			if tl.Comment = r.comment(l.Data); tl.Comment != nil {
				tl.App = r.app(tl.Comment.App)
			}
		default:
			tl.App = r.app(l.Data)
		}
		out[i] = tl
	}
	return out, nil
}

// NotificationItems lists the caller's notifications, read or not, newest first, with what each names loaded.
func (s *Service) NotificationItems(ctx context.Context, a auth.Actor, p Page) ([]NotificationItem, error) {
	ns, err := s.Notifications(ctx, a, a.UID, true, p)
	if err != nil {
		return nil, err
	}
	var us, cs []int64
	for _, n := range ns {
		if n.Type == store.NoteFollow {
			us = append(us, n.Data)
		} else {
			cs = append(cs, n.Data)
		}
	}
	r, err := s.loadRefs(ctx, us, nil, cs)
	if err != nil {
		return nil, wrap(err, "notifications")
	}
	out := make([]NotificationItem, len(ns))
	for i, n := range ns {
		it := NotificationItem{Notification: n}
		if n.Type == store.NoteFollow {
			it.Actor = r.user(n.Data)
		} else if it.Comment = r.comment(n.Data); it.Comment != nil {
			it.App = r.app(it.Comment.App)
			if n.Type != store.NoteCommentStar {
				it.Actor = r.user(it.Comment.Author)
			}
		}
		out[i] = it
	}
	return out, nil
}

// MarkAllNotificationsRead marks every notification of the caller read and returns how many changed.
func (s *Service) MarkAllNotificationsRead(ctx context.Context, a auth.Actor) (int64, error) {
	if err := requireUser(a); err != nil {
		return 0, err
	}
	n, err := s.store.Q().MarkNotificationsRead(ctx, a.UID)
	return n, wrap(err, "notifications")
}

// Profile loads what uid's page shows: the user, up to n of their apps, starred apps and timeline entries, and
// whether the viewer follows them.
func (s *Service) Profile(ctx context.Context, a auth.Actor, uid int64, n int) (*Profile, error) {
	u, err := s.User(ctx, uid)
	if err != nil {
		return nil, err
	}
	pr := &Profile{User: *u, Self: a.User && a.UID == uid}
	if a.User && !pr.Self {
		// The user was just loaded, so Follows' existence check would only repeat that query.
		if pr.Follows, err = s.store.Q().Follows(ctx, a.UID, uid); err != nil {
			return nil, wrap(err, "follows")
		}
	}
	p := Page{Limit: n}
	if pr.Apps, err = s.appsOf(ctx, s.UserApps, uid, p); err != nil {
		return nil, err
	}
	if pr.Stars, err = s.appsOf(ctx, s.UserStars, uid, p); err != nil {
		return nil, err
	}
	if pr.Lines, err = s.TimelineLines(ctx, []int64{uid}, p); err != nil {
		return nil, err
	}
	return pr, nil
}

// appsOf loads the apps a list of aids names, in its order.
func (s *Service) appsOf(ctx context.Context, list func(context.Context, int64, Page) ([]int64, error), uid int64,
	p Page) ([]App, error) {
	ids, err := list(ctx, uid, p)
	if err != nil {
		return nil, err
	}
	apps, err := s.store.Q().Apps(ctx, ids)
	return apps, wrap(err, "load apps")
}

// CheckAdmin refuses anybody but the admin, for pages that only the admin may see.
func (s *Service) CheckAdmin(a auth.Actor) error { return requireAdmin(a) }

// AdminUsers lists whole users, newest first (admin only).
func (s *Service) AdminUsers(ctx context.Context, a auth.Actor, p Page) ([]User, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	ids, err := s.Users(ctx, Sort{Key: "ctime", Desc: true}, p)
	if err != nil {
		return nil, err
	}
	m, err := s.store.Q().UserMap(ctx, ids)
	if err != nil {
		return nil, wrap(err, "load users")
	}
	out := make([]User, 0, len(ids))
	for _, id := range ids {
		if u, ok := m[id]; ok {
			out = append(out, u)
		}
	}
	return out, nil
}

// AppForPublishing loads an app the caller may add versions to (its owner or the admin), with the reversion a
// new version would naturally take (one past the highest).
func (s *Service) AppForPublishing(ctx context.Context, a auth.Actor, aid int64) (*App, int64, error) {
	app, err := ownedApp(ctx, s.store.Q(), a, aid)
	if err != nil {
		return nil, 0, err
	}
	last, err := s.store.Q().Updates(ctx, aid, true, Page{Limit: 1})
	if err != nil {
		return nil, 0, wrap(err, "updates")
	}
	next := int64(1)
	if len(last) > 0 {
		next = last[0].Reversion + 1
	}
	return app, next, nil
}

// CategoryNode is a category with its depth in the tree (0 = top level).
type CategoryNode struct {
	Category
	Depth int
}

// CategoryOutline orders categories as a tree reads top down: each parent followed by its children, by name.
func CategoryOutline(cats []Category) []CategoryNode {
	children := map[int64][]Category{}
	known := map[int64]bool{}
	for _, c := range cats {
		known[c.ID] = true
	}
	var roots []Category
	for _, c := range cats {
		if c.Parent == nil || !known[*c.Parent] {
			roots = append(roots, c)
		} else {
			children[*c.Parent] = append(children[*c.Parent], c)
		}
	}
	out := make([]CategoryNode, 0, len(cats))
	seen := map[int64]bool{}
	var walk func(cs []Category, depth int)
	walk = func(cs []Category, depth int) {
		sortCategories(cs)
		for _, c := range cs {
			if seen[c.ID] {
				continue // a cycle in stored data must not hang the page
			}
			seen[c.ID] = true
			out = append(out, CategoryNode{Category: c, Depth: depth})
			walk(children[c.ID], depth+1)
		}
	}
	walk(roots, 0)
	return out
}

func sortCategories(cs []Category) {
	slices.SortFunc(cs, func(a, b Category) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
}
