package hub

import (
	"context"
	"fmt"
	"regexp"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// mentionRe finds @simple_name not glued to a word before it (so mail addresses are not mentions).
var mentionRe = regexp.MustCompile(`(?:^|[^A-Za-z0-9_])@([A-Za-z0-9_]{1,19})`)

// CreateComment posts a comment (or a reply) on an app and returns its id. It adds a timeline entry, notifies the
// author of the comment replied to, and notifies every @-mentioned user.
func (s *Service) CreateComment(ctx context.Context, a auth.Actor, aid int64, in CommentInput) (int64, error) {
	if err := requireUser(a); err != nil {
		return 0, err
	}
	if aid == DeletedCommentsApp {
		return 0, apperr.New(apperr.Forbidden, "App 0 holds deleted comments; nobody can comment on it")
	}
	if err := checkContent(in.Content.V); err != nil {
		return 0, err
	}
	now := s.ms()
	c := &Comment{Author: a.UID, App: aid, Reply: in.Reply.V, Content: in.Content.V, CreatedAt: now}
	if c.Reply != nil && *c.Reply == 0 {
		c.Reply = nil
	}
	err := s.tx(ctx, func(t *txn) error {
		if err := requireApp(ctx, t.Q, aid); err != nil {
			return err
		}
		var parent *Comment
		if c.Reply != nil {
			var err error
			if parent, err = t.Comment(ctx, *c.Reply); err != nil || parent.App != aid {
				return apperr.Field(apperr.Invalid, "reply", "reply must name a comment on app %d", aid)
			}
		}
		if err := t.CreateComment(ctx, c); err != nil {
			return err
		}
		if err := t.AddTimeline(ctx, Timeline{UID: a.UID, Type: store.LineCreateComment, Data: c.ID, CreatedAt: now}); err != nil {
			return err
		}
		if parent != nil && parent.Author != a.UID {
			if err := s.notifyUser(ctx, t, parent.Author, store.NoteReply, c.ID, now); err != nil {
				return err
			}
		}
		if err := s.notifyMentions(ctx, t, c, a.UID, now); err != nil {
			return err
		}
		t.emit(events.CommentCreated, a.UID, 0, *c)
		return nil
	})
	return c.ID, err
}

// notifyUser notifies uid unless they no longer exist (comments outlive their authors) or are the system user.
func (s *Service) notifyUser(ctx context.Context, t *txn, uid int64, typ int, data, now int64) error {
	ok, err := userExists(t.Q)(ctx, uid)
	if err != nil || !ok {
		return err
	}
	return t.notify(ctx, uid, typ, data, now)
}

// notifyMentions notifies each existing user @-mentioned in c, once per comment, never the actor.
func (s *Service) notifyMentions(ctx context.Context, t *txn, c *Comment, actor, now int64) error {
	var names []string
	seen := map[string]bool{}
	for _, m := range mentionRe.FindAllStringSubmatch(c.Content, 50) {
		if !seen[m[1]] {
			seen[m[1]] = true
			names = append(names, m[1])
		}
	}
	uids, err := t.UserIDsBySimpleName(ctx, names)
	if err != nil {
		return err
	}
	for _, uid := range uids {
		if uid == actor {
			continue
		}
		done, err := t.HasNotification(ctx, uid, store.NoteMention, c.ID)
		if err != nil {
			return err
		}
		if !done {
			if err := t.notify(ctx, uid, store.NoteMention, c.ID, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// Comment loads one comment.
func (s *Service) Comment(ctx context.Context, cid int64) (*Comment, error) {
	c, err := s.store.Q().Comment(ctx, cid)
	if err != nil {
		return nil, notFound(err, "comment", cid)
	}
	return c, nil
}

// Comments lists every comment by creation time.
func (s *Service) Comments(ctx context.Context, p Page) ([]int64, error) {
	ids, err := s.store.Q().CommentIDs(ctx, false, p)
	return ids, wrap(err, "comments")
}

// AppComments lists an app's comments.
func (s *Service) AppComments(ctx context.Context, aid int64, sort Sort, p Page) ([]int64, error) {
	q := s.store.Q()
	ids, err := q.AppCommentIDs(ctx, aid, sort, p)
	if err := parentCheck(ctx, len(ids), wrap(err, "app comments"), q.AppExists, "app", aid); err != nil {
		return nil, err
	}
	return ids, nil
}

// Replies lists the direct replies to a comment. reply_comment has no foreign key, but a reply never outlives
// its parent: deleting a comment deletes its subtree or re-points its replies to a placeholder, in one
// transaction; so a non-empty list still proves the comment exists.
func (s *Service) Replies(ctx context.Context, cid int64, p Page) ([]int64, error) {
	q := s.store.Q()
	ids, err := q.ReplyIDs(ctx, cid, p)
	if err := parentCheck(ctx, len(ids), wrap(err, "replies"), q.CommentExists, "comment", cid); err != nil {
		return nil, err
	}
	return ids, nil
}

// CommentStargazers lists who starred a comment.
func (s *Service) CommentStargazers(ctx context.Context, cid int64, p Page) ([]int64, error) {
	q := s.store.Q()
	ids, err := q.CommentStargazers(ctx, cid, p)
	if err := parentCheck(ctx, len(ids), wrap(err, "comment stargazers"), q.CommentExists, "comment", cid); err != nil {
		return nil, err
	}
	return ids, nil
}

// SearchComments lists comments whose content contains keyword.
func (s *Service) SearchComments(ctx context.Context, keyword string, p Page) ([]int64, error) {
	ids, err := s.store.Q().SearchComments(ctx, keyword, p)
	return ids, wrap(err, "search comments")
}

// EditComment replaces a comment's content (owner or admin), adds a timeline entry and notifies newly mentioned
// users.
func (s *Service) EditComment(ctx context.Context, a auth.Actor, cid int64, content string) (*Comment, error) {
	if err := checkContent(content); err != nil {
		return nil, err
	}
	var c *Comment
	err := s.tx(ctx, func(t *txn) error {
		var err error
		if c, err = t.Comment(ctx, cid); err != nil {
			return notFound(err, "comment", cid)
		}
		if err := requireOwner(a, c.Author, "comment"); err != nil {
			return err
		}
		now := s.ms()
		if err := t.EditComment(ctx, cid, content, now); err != nil {
			return err
		}
		c.Content, c.UpdatedAt = content, &now
		if err := t.AddTimeline(ctx, Timeline{UID: c.Author, Type: store.LineEditComment, Data: cid, CreatedAt: now}); err != nil {
			return err
		}
		if err := s.notifyMentions(ctx, t, c, c.Author, now); err != nil {
			return err
		}
		t.emit(events.CommentEdited, a.UID, 0, *c)
		return nil
	})
	return c, err
}

// CommentStarred reports whether the caller starred a comment.
func (s *Service) CommentStarred(ctx context.Context, a auth.Actor, cid int64) (bool, error) {
	if err := requireSignedIn(a); err != nil {
		return false, err
	}
	q := s.store.Q()
	ok, err := q.CommentStarred(ctx, a.UID, cid)
	if err := parentCheck(ctx, boolLen(ok), wrap(err, "comment starred"), q.CommentExists, "comment", cid); err != nil {
		return false, err
	}
	return ok, nil
}

// ToggleCommentStar stars or unstars a comment; a new star adds a timeline entry and notifies the author.
func (s *Service) ToggleCommentStar(ctx context.Context, a auth.Actor, cid int64) (bool, error) {
	if err := requireUser(a); err != nil {
		return false, err
	}
	var on bool
	err := s.tx(ctx, func(t *txn) error {
		c, err := t.Comment(ctx, cid)
		if err != nil {
			return notFound(err, "comment", cid)
		}
		if on, err = t.ToggleCommentStar(ctx, a.UID, cid); err != nil || !on {
			return err
		}
		now := s.ms()
		if err := t.AddTimeline(ctx, Timeline{UID: a.UID, Type: store.LineStarComment, Data: cid, CreatedAt: now}); err != nil {
			return err
		}
		t.emit(events.CommentStarred, a.UID, 0, map[string]int64{"uid": a.UID, "comment": cid})
		if c.Author == a.UID {
			return nil
		}
		return s.notifyUser(ctx, t, c.Author, store.NoteCommentStar, cid, now)
	})
	return on, err
}

// DeleteComment removes a comment (owner or admin). Its replies move to app 0 under one placeholder comment,
// unless recursive, which deletes them. Counters of the app and the parent follow.
func (s *Service) DeleteComment(ctx context.Context, a auth.Actor, cid int64, recursive bool) error {
	return s.tx(ctx, func(t *txn) error {
		c, err := t.Comment(ctx, cid)
		if err != nil {
			return notFound(err, "comment", cid)
		}
		if err := requireOwner(a, c.Author, "comment"); err != nil {
			return err
		}
		n, err := t.CountSubtree(ctx, cid)
		if err != nil {
			return err
		}
		switch {
		case n == 0:
		case recursive:
			if err := t.DeleteSubtree(ctx, cid); err != nil {
				return err
			}
		default:
			if err := s.orphanReplies(ctx, t, c, n); err != nil {
				return err
			}
		}
		if err := t.DeleteComment(ctx, cid); err != nil {
			return err
		}
		if err := t.AddAppComments(ctx, c.App, -(n + 1)); err != nil {
			return err
		}
		if c.Reply != nil {
			if err := t.AddReplies(ctx, *c.Reply, -1); err != nil {
				return err
			}
		}
		t.emit(events.CommentDeleted, a.UID, 0, map[string]int64{"comment": cid, "app": c.App})
		return nil
	})
}

// orphanReplies moves the n replies under c to app 0, beneath a placeholder comment by c's author.
func (s *Service) orphanReplies(ctx context.Context, t *txn, c *Comment, n int64) error {
	reply := "null"
	if c.Reply != nil {
		reply = fmt.Sprint(*c.Reply)
	}
	holder := &Comment{Author: c.Author, App: DeletedCommentsApp, CreatedAt: s.ms(),
		Content: fmt.Sprintf("Replies Deleted from %d (reply to %s)", c.App, reply)}
	if err := t.CreateComment(ctx, holder); err != nil {
		return err
	}
	if err := t.MoveSubtree(ctx, c.ID, DeletedCommentsApp); err != nil {
		return err
	}
	if err := t.RepointReplies(ctx, c.ID, holder.ID); err != nil {
		return err
	}
	if err := t.SetReplies(ctx, holder.ID, c.RepliesNum); err != nil {
		return err
	}
	return t.AddAppComments(ctx, DeletedCommentsApp, n)
}
