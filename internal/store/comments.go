package store

import (
	"context"
	"fmt"
)

// Comment is a comment on an app; Reply is the parent comment, nil at the top level.
type Comment struct {
	ID         int64  `json:"id"`
	Author     int64  `json:"author"`
	App        int64  `json:"app"`
	Reply      *int64 `json:"reply"`
	Content    string `json:"content"`
	StarsNum   int64  `json:"stars_num"`
	RepliesNum int64  `json:"replies_num"`
	CreatedAt  int64  `json:"created_at"`
	UpdatedAt  *int64 `json:"updated_at"`
}

const commentCols = `id, author_user, app, reply_comment, content, stars_num, replies_num, created_at, updated_at`

func scanComment(row interface{ Scan(...any) error }) (*Comment, error) {
	var c Comment
	err := row.Scan(&c.ID, &c.Author, &c.App, &c.Reply, &c.Content, &c.StarsNum, &c.RepliesNum, &c.CreatedAt,
		&c.UpdatedAt)
	if err != nil {
		return nil, mapErr(err)
	}
	return &c, nil
}

var commentSorts = map[string]string{
	"ctime": "created_at", "utime": "updated_at", "stars": "stars_num", "replies": "replies_num", "id": "id",
}

// subtree selects every descendant of comment $1 (not the comment itself).
const subtree = `WITH RECURSIVE sub(id) AS (
		SELECT id FROM comments WHERE reply_comment = $1
		UNION ALL
		SELECT c.id FROM comments c JOIN sub ON c.reply_comment = sub.id)
	SELECT id FROM sub`

// CreateComment inserts c (its ID is set) and counts it on its app and its parent.
func (q *Q) CreateComment(ctx context.Context, c *Comment) error {
	err := q.db.QueryRowContext(ctx, `INSERT INTO comments (author_user, app, reply_comment, content, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, c.Author, c.App, c.Reply, c.Content, c.CreatedAt).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("insert comment: %w", mapErr(err))
	}
	if err := q.AddAppComments(ctx, c.App, 1); err != nil {
		return err
	}
	if c.Reply != nil {
		return q.AddReplies(ctx, *c.Reply, 1)
	}
	return nil
}

// Comment loads one comment.
func (q *Q) Comment(ctx context.Context, id int64) (*Comment, error) {
	c, err := scanComment(q.db.QueryRowContext(ctx, `SELECT `+commentCols+` FROM comments WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("comment %d: %w", id, err)
	}
	return c, nil
}

// CommentExists reports whether cid names a comment; it is cheaper than Comment.
func (q *Q) CommentExists(ctx context.Context, id int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM comments WHERE id = $1`, id)
}

// CommentIDs lists every comment by creation time.
func (q *Q) CommentIDs(ctx context.Context, desc bool, p Page) ([]int64, error) {
	ob, _ := orderBy(commentSorts, Sort{Key: "ctime", Desc: desc}, "id")
	return q.pagedIDs(ctx, p, `SELECT id FROM comments`+ob)
}

// AppCommentIDs lists an app's comments.
func (q *Q) AppCommentIDs(ctx context.Context, aid int64, s Sort, p Page) ([]int64, error) {
	ob, err := orderBy(commentSorts, s, "id")
	if err != nil {
		return nil, err
	}
	return q.pagedIDs(ctx, p, `SELECT id FROM comments WHERE app = $1`+ob, aid)
}

// UserCommentIDs lists uid's comments, newest first.
func (q *Q) UserCommentIDs(ctx context.Context, uid int64, p Page) ([]int64, error) {
	return q.pagedIDs(ctx, p, `SELECT id FROM comments WHERE author_user = $1 ORDER BY created_at DESC, id DESC`,
		uid)
}

// ReplyIDs lists the direct replies to a comment, oldest first.
func (q *Q) ReplyIDs(ctx context.Context, cid int64, p Page) ([]int64, error) {
	return q.pagedIDs(ctx, p, `SELECT id FROM comments WHERE reply_comment = $1 ORDER BY created_at, id`, cid)
}

// SearchComments lists comments whose content contains keyword, case-insensitively.
func (q *Q) SearchComments(ctx context.Context, keyword string, p Page) ([]int64, error) {
	return q.searchIDs(ctx, p, `SELECT id FROM comments WHERE fold(content) LIKE $1 ESCAPE '\'
		ORDER BY created_at, id`, likePattern(keyword))
}

// EditComment replaces a comment's content and stamps updated_at.
func (q *Q) EditComment(ctx context.Context, id int64, content string, ms int64) error {
	return q.execOne(ctx, `UPDATE comments SET content = $2, updated_at = $3 WHERE id = $1`, id, content, ms)
}

// AddAppComments moves an app's comment counter by delta.
func (q *Q) AddAppComments(ctx context.Context, aid, delta int64) error {
	return q.execOne(ctx, `UPDATE apps SET comments_num = comments_num + $2 WHERE id = $1`, aid, delta)
}

// AddReplies moves a comment's reply counter by delta.
func (q *Q) AddReplies(ctx context.Context, cid, delta int64) error {
	return q.execOne(ctx, `UPDATE comments SET replies_num = replies_num + $2 WHERE id = $1`, cid, delta)
}

// CountSubtree counts the descendants of a comment.
func (q *Q) CountSubtree(ctx context.Context, cid int64) (int64, error) {
	return q.int64(ctx, `SELECT COUNT(*) FROM (`+subtree+`) s`, cid)
}

// DeleteSubtree removes every descendant of a comment.
func (q *Q) DeleteSubtree(ctx context.Context, cid int64) error {
	_, err := q.exec(ctx, `DELETE FROM comments WHERE id IN (`+subtree+`)`, cid)
	return err
}

// MoveSubtree moves every descendant of a comment to another app.
func (q *Q) MoveSubtree(ctx context.Context, cid, app int64) error {
	_, err := q.exec(ctx, `UPDATE comments SET app = $2 WHERE id IN (`+subtree+`)`, cid, app)
	return err
}

// RepointReplies makes the direct replies of one comment replies of another.
func (q *Q) RepointReplies(ctx context.Context, from, to int64) error {
	_, err := q.exec(ctx, `UPDATE comments SET reply_comment = $2 WHERE reply_comment = $1`, from, to)
	return err
}

// SetReplies sets a comment's reply counter.
func (q *Q) SetReplies(ctx context.Context, cid, n int64) error {
	return q.execOne(ctx, `UPDATE comments SET replies_num = $2 WHERE id = $1`, cid, n)
}

// DeleteComment removes one comment (its stars go with it).
func (q *Q) DeleteComment(ctx context.Context, id int64) error {
	return q.execOne(ctx, `DELETE FROM comments WHERE id = $1`, id)
}

// CountAppComments counts an app's comments, and those at the top level.
func (q *Q) CountAppComments(ctx context.Context, aid int64) (all, top int64, err error) {
	err = q.db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) - COUNT(reply_comment) FROM comments WHERE app = $1`,
		aid).Scan(&all, &top)
	return all, top, mapErr(err)
}

// MoveAppComments moves every comment of an app to another app, re-pointing the top-level ones to parent.
func (q *Q) MoveAppComments(ctx context.Context, aid, to, parent int64) error {
	if _, err := q.exec(ctx, `UPDATE comments SET reply_comment = $2 WHERE app = $1 AND reply_comment IS NULL
		AND id <> $2`, aid, parent); err != nil {
		return fmt.Errorf("re-point comments of %d: %w", aid, err)
	}
	if _, err := q.exec(ctx, `UPDATE comments SET app = $2 WHERE app = $1 AND id <> $3`, aid, to, parent); err != nil {
		return fmt.Errorf("move comments of %d: %w", aid, err)
	}
	return nil
}

// DeleteAppComments removes every comment of an app.
func (q *Q) DeleteAppComments(ctx context.Context, aid int64) error {
	_, err := q.exec(ctx, `DELETE FROM comments WHERE app = $1`, aid)
	return err
}
