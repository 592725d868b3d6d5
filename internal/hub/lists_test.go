package hub_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// TestListsOfAParent pins what the id-list reads answer now that they list first and check their parent only
// when the list is empty: the list for a parent with children, [] (or 0, or false) for an existing parent
// without, and 404 for a missing one, as when the parent was loaded first.
func TestListsOfAParent(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		st := testutil.OpenStore(t, e)
		au := auth.NewService(st, testutil.AdminToken, testutil.HashParams, auth.NewLimiter(1000, time.Minute))
		h := hub.New(st, au, events.NewBus(), testutil.Logger(t))
		ctx := context.Background()

		// u1 follows u2, stars app a1 and comment c1; a1 has comment c1, a reply c2 to it, and one update; a2,
		// c2, u3 and the category of a2 have nothing under them.
		var u1, u2, u3, a1, a2, c1, c2, cat, emptyCat int64
		err := st.Tx(ctx, func(q *store.Q) error {
			for i, id := range []*int64{&u1, &u2, &u3} {
				u := &store.User{SimpleName: fmt.Sprintf("u%d", i+1), Name: "U", CreatedAt: 1, OnlineAt: 1, Enabled: true}
				if err := q.CreateUser(ctx, u, "hash"); err != nil {
					return err
				}
				*id = u.ID
			}
			var err error
			if cat, err = q.CreateCategory(ctx, "full", nil); err != nil {
				return err
			}
			if emptyCat, err = q.CreateCategory(ctx, "empty", nil); err != nil {
				return err
			}
			for _, id := range []*int64{&a1, &a2} {
				a := &store.App{Author: u1, Name: "app", CreatedAt: 1, UpdatedAt: 1}
				if id == &a1 {
					a.Category = &cat
				}
				if err := q.CreateApp(ctx, a); err != nil {
					return err
				}
				*id = a.ID
			}
			c := &store.Comment{Author: u1, App: a1, Content: "c1", CreatedAt: 1}
			if err := q.CreateComment(ctx, c); err != nil {
				return err
			}
			c1 = c.ID
			c = &store.Comment{Author: u2, App: a1, Reply: &c1, Content: "c2", CreatedAt: 2}
			if err := q.CreateComment(ctx, c); err != nil {
				return err
			}
			c2 = c.ID
			if err := q.CreateUpdate(ctx, &store.Update{App: a1, Version: "1.0", CreatedAt: 1}); err != nil {
				return err
			}
			if _, err := q.ToggleFollow(ctx, u1, u2); err != nil {
				return err
			}
			if _, err := q.ToggleStar(ctx, u1, a1); err != nil {
				return err
			}
			_, err = q.ToggleCommentStar(ctx, u1, c1)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		const missing = 999_999
		p := hub.Page{Limit: 10}
		byID := hub.Sort{Key: "id"}
		byCtime := hub.Sort{Key: "ctime"}
		ids := func(ids []int64, err error) func() (any, error) {
			return func() (any, error) { return ids, err }
		}
		n := func(n int64, err error) func() (any, error) { return func() (any, error) { return n, err } }
		yes := func(ok bool, err error) func() (any, error) { return func() (any, error) { return ok, err } }
		updates := func(us []hub.Version, err error) func() (any, error) {
			return func() (any, error) { return len(us), err }
		}
		u1Actor := auth.Actor{UID: u1, User: true, Enabled: true}

		for _, tc := range []struct {
			name            string
			full, empty, no func() (any, error)
			want, wantEmpty any
		}{
			{"AppComments", ids(h.AppComments(ctx, a1, byCtime, p)), ids(h.AppComments(ctx, a2, byCtime, p)),
				ids(h.AppComments(ctx, missing, byCtime, p)), []int64{c1, c2}, []int64{}},
			{"Replies", ids(h.Replies(ctx, c1, p)), ids(h.Replies(ctx, c2, p)), ids(h.Replies(ctx, missing, p)),
				[]int64{c2}, []int64{}},
			{"CommentStargazers", ids(h.CommentStargazers(ctx, c1, p)), ids(h.CommentStargazers(ctx, c2, p)),
				ids(h.CommentStargazers(ctx, missing, p)), []int64{u1}, []int64{}},
			{"AppStargazers", ids(h.AppStargazers(ctx, a1, p)), ids(h.AppStargazers(ctx, a2, p)),
				ids(h.AppStargazers(ctx, missing, p)), []int64{u1}, []int64{}},
			{"Followers", ids(h.Followers(ctx, u2, p)), ids(h.Followers(ctx, u3, p)), ids(h.Followers(ctx, missing, p)),
				[]int64{u1}, []int64{}},
			{"Followers of the system user", ids(h.Followers(ctx, u2, p)), ids(h.Followers(ctx, u3, p)),
				ids(h.Followers(ctx, 0, p)), []int64{u1}, []int64{}},
			{"Following", ids(h.Following(ctx, u1, p)), ids(h.Following(ctx, u3, p)), ids(h.Following(ctx, 0, p)),
				[]int64{u2}, []int64{}},
			{"CategoryApps", ids(h.CategoryApps(ctx, cat, byID, p)), ids(h.CategoryApps(ctx, emptyCat, byID, p)),
				ids(h.CategoryApps(ctx, missing, byID, p)), []int64{a1}, []int64{}},
			{"SearchApps in a category", ids(h.SearchApps(ctx, &cat, "name", "app", p)),
				ids(h.SearchApps(ctx, &emptyCat, "name", "app", p)), ids(h.SearchApps(ctx, ptr(int64(missing)), "name", "app", p)),
				[]int64{a1}, []int64{}},
			{"Updates", updates(h.Updates(ctx, a1, p)), updates(h.Updates(ctx, a2, p)), updates(h.Updates(ctx, missing, p)),
				1, 0},
			{"CountUpdates", n(h.CountUpdates(ctx, a1)), n(h.CountUpdates(ctx, a2)), n(h.CountUpdates(ctx, missing)),
				int64(1), int64(0)},
			{"Starred", yes(h.Starred(ctx, u1Actor, a1)), yes(h.Starred(ctx, u1Actor, a2)),
				yes(h.Starred(ctx, u1Actor, missing)), true, false},
			{"CommentStarred", yes(h.CommentStarred(ctx, u1Actor, c1)), yes(h.CommentStarred(ctx, u1Actor, c2)),
				yes(h.CommentStarred(ctx, u1Actor, missing)), true, false},
			{"Follows", yes(h.Follows(ctx, u1Actor, u2)), yes(h.Follows(ctx, u1Actor, u3)),
				yes(h.Follows(ctx, u1Actor, 0)), true, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, c := range []struct {
					what string
					call func() (any, error)
					want any
				}{{"with children", tc.full, tc.want}, {"without", tc.empty, tc.wantEmpty}} {
					got, err := c.call()
					if err != nil {
						t.Fatalf("%s: %v", c.what, err)
					}
					if !equal(got, c.want) {
						t.Errorf("%s: got %v, want %v", c.what, got, c.want)
					}
				}
				if _, err := tc.no(); !apperr.Is(err, apperr.NotFound) {
					t.Errorf("missing parent: got %v, want a 404", err)
				}
			})
		}
	})
}

func equal(a, b any) bool {
	if x, ok := a.([]int64); ok {
		y, ok := b.([]int64)
		return ok && x != nil && slices.Equal(x, y)
	}
	return a == b
}

func ptr[T any](v T) *T { return &v }
