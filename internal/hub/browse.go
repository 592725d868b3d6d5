package hub

import (
	"context"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
)

// BrowseSorts are the store page's orders, by the name the page shows them under.
var BrowseSorts = map[string]Sort{
	"updated":  {Key: "updated", Desc: true},
	"stars":    {Key: "star", Desc: true},
	"comments": {Key: "replies", Desc: true},
	"new":      {Key: "ctime", Desc: true},
}

// BrowseQuery is what a store page asks for. Category 0 means every category; a category includes its subtree.
type BrowseQuery struct {
	Category int64
	Keyword  string
	Sort     string // a key of BrowseSorts; default "updated"
	Page     Page
	// Categories are every category, when the caller has loaded them already (the store page shows them);
	// nil: Browse loads them when Category is set.
	Categories []Category
}

// Browse lists whole apps for the store page.
func (s *Service) Browse(ctx context.Context, q BrowseQuery) ([]App, error) {
	if q.Sort == "" {
		q.Sort = "updated"
	}
	sort, ok := BrowseSorts[q.Sort]
	if !ok {
		return nil, apperr.Field(apperr.Invalid, "sort", "sort must be one of updated, stars, comments, new")
	}
	if len([]rune(q.Keyword)) > 100 {
		return nil, apperr.Field(apperr.TooLarge, "q", "the search is longer than 100 characters")
	}
	b := store.Browse{Keyword: q.Keyword, Sort: sort, Page: q.Page}
	if q.Category != 0 {
		cats := q.Categories
		if cats == nil {
			var err error
			if cats, err = s.Categories(ctx); err != nil {
				return nil, err
			}
		}
		if b.Categories = Subtree(cats, q.Category); len(b.Categories) == 0 {
			return nil, apperr.Field(apperr.NotFound, "category", "category %d does not exist", q.Category)
		}
	}
	apps, err := s.store.Q().BrowseApps(ctx, b)
	return apps, wrap(err, "browse apps")
}

// Subtree lists root and every category below it; empty when root is not among cats.
func Subtree(cats []Category, root int64) []int64 {
	children := map[int64][]int64{}
	found := false
	for _, c := range cats {
		if c.ID == root {
			found = true
		}
		if c.Parent != nil {
			children[*c.Parent] = append(children[*c.Parent], c.ID)
		}
	}
	if !found {
		return nil
	}
	out, seen := []int64{root}, map[int64]bool{root: true}
	for i := 0; i < len(out); i++ {
		for _, c := range children[out[i]] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// UnreadCount counts the caller's unread notifications (0 for anybody but a signed-in user).
func (s *Service) UnreadCount(ctx context.Context, a auth.Actor) (int64, error) {
	if !a.User {
		return 0, nil
	}
	n, err := s.store.Q().CountUnread(ctx, a.UID)
	return n, wrap(err, "unread notifications")
}

// UserIDByName finds a user by simple name.
func (s *Service) UserIDByName(ctx context.Context, name string) (int64, error) {
	if name == "" {
		return 0, apperr.Field(apperr.Invalid, "login", "enter a user name or id")
	}
	ids, err := s.store.Q().UserIDsBySimpleName(ctx, []string{name})
	if err != nil {
		return 0, wrap(err, "find user")
	}
	if len(ids) == 0 {
		return 0, apperr.Field(apperr.NotFound, "login", "no user is called %s", name)
	}
	return ids[0], nil
}
