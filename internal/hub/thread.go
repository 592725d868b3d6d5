package hub

import (
	"context"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
)

// ThreadLimits bound one rendering of a comment thread, so a busy app never makes a page unbounded.
type ThreadLimits struct {
	Depth     int // levels shown, the top one included
	PerParent int // replies shown under one comment
	PerLevel  int // replies loaded on one level in all
}

// ThreadNode is one comment of a thread with what a page shows beside it.
type ThreadNode struct {
	Comment
	By      *User // the author; nil when their account was deleted
	Starred bool  // the caller starred it
	Depth   int   // 1 at the top of the thread
	Replies []*ThreadNode
	// MoreReplies says some replies were left out by the limits; the page links to a thread rooted here.
	MoreReplies bool
}

// Thread is what a page shows of a comment thread: its top comments with replies nested below them.
type Thread struct {
	Comments []*ThreadNode
	More     bool // another page of top comments follows
}

// AppThread loads one page of an app's top-level comments, newest first, with their replies nested below them
// within lim. It costs one query per level, one for the authors and one for the caller's stars.
func (s *Service) AppThread(ctx context.Context, a auth.Actor, aid int64, p Page, lim ThreadLimits) (*Thread, error) {
	q := s.store.Q()
	// One more than the page tells whether a next page exists.
	top, err := q.ThreadTop(ctx, aid, Page{Limit: p.Limit + 1, Offset: p.Offset})
	if err := parentCheck(ctx, len(top), wrap(err, "app comments"), q.AppExists, "app", aid); err != nil {
		return nil, err
	}
	th := &Thread{}
	if len(top) > p.Limit {
		top, th.More = top[:p.Limit], true
	}
	th.Comments = nodes(top, 1)
	return th, s.fillThread(ctx, a, th.Comments, lim)
}

// CommentThread loads comment cid of app aid with its replies nested below it within lim.
func (s *Service) CommentThread(ctx context.Context, a auth.Actor, aid, cid int64, lim ThreadLimits) (*Thread, error) {
	c, err := s.store.Q().Comment(ctx, cid)
	if err != nil {
		return nil, notFound(err, "comment", cid)
	}
	if c.App != aid {
		return nil, apperr.New(apperr.NotFound, "Resource was not found: comment %d is not on app %d", cid, aid)
	}
	th := &Thread{Comments: nodes([]Comment{*c}, 1)}
	return th, s.fillThread(ctx, a, th.Comments, lim)
}

func nodes(cs []Comment, depth int) []*ThreadNode {
	out := make([]*ThreadNode, len(cs))
	for i := range cs {
		out[i] = &ThreadNode{Comment: cs[i], Depth: depth}
	}
	return out
}

// fillThread loads the replies below top level by level, then every author and the caller's stars at once.
func (s *Service) fillThread(ctx context.Context, a auth.Actor, top []*ThreadNode, lim ThreadLimits) error {
	q := s.store.Q()
	all := append([]*ThreadNode(nil), top...)
	level := top
	for depth := 1; len(level) > 0; depth++ {
		var parents []int64
		byID := map[int64]*ThreadNode{}
		for _, n := range level {
			if n.RepliesNum > 0 {
				parents = append(parents, n.ID)
				byID[n.ID] = n
			}
		}
		if depth >= lim.Depth || len(parents) == 0 {
			for _, n := range level {
				n.MoreReplies = n.RepliesNum > 0
			}
			break
		}
		replies, err := q.ThreadReplies(ctx, parents, lim.PerParent, lim.PerLevel)
		if err != nil {
			return wrap(err, "replies")
		}
		next := nodes(replies, depth+1)
		for _, n := range next {
			if p := byID[*n.Reply]; p != nil {
				p.Replies = append(p.Replies, n)
			}
		}
		for _, n := range level {
			n.MoreReplies = n.RepliesNum > int64(len(n.Replies))
		}
		all = append(all, next...)
		level = next
	}
	return s.decorate(ctx, a, all)
}

// decorate sets each node's author and whether the caller starred it.
func (s *Service) decorate(ctx context.Context, a auth.Actor, all []*ThreadNode) error {
	q := s.store.Q()
	var uids, cids []int64
	for _, n := range all {
		cids = append(cids, n.ID)
		if n.Comment.Author != 0 { // user 0 is the system user nobody sees; UserMap drops repeats
			uids = append(uids, n.Comment.Author)
		}
	}
	users, err := q.UserMap(ctx, uids)
	if err != nil {
		return wrap(err, "comment authors")
	}
	starred := map[int64]bool{}
	if a.User {
		if starred, err = q.ThreadStarred(ctx, a.UID, cids); err != nil {
			return wrap(err, "comment stars")
		}
	}
	for _, n := range all {
		if u, ok := users[n.Comment.Author]; ok {
			n.By = &u
		}
		n.Starred = starred[n.ID]
	}
	return nil
}
