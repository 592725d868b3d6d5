package store

import (
	"context"
	"fmt"
)

// relation is a unique pair table whose rows feed a counter on another table.
type relation struct {
	table, left, right string
	counter            string // UPDATE ... WHERE id = $1, with %s for "+ 1" or "- 1"
}

var (
	followRel      = relation{table: "follow", left: "uid", right: "followed_user", counter: `UPDATE users SET followers_num = followers_num %s WHERE id = $1`}
	starRel        = relation{table: "stars", left: "uid", right: "app", counter: `UPDATE apps SET stars_num = stars_num %s WHERE id = $1`}
	commentStarRel = relation{table: "comment_stars", left: "uid", right: "comment", counter: `UPDATE comments SET stars_num = stars_num %s WHERE id = $1`}
)

// toggle flips the pair (a, b) and moves the counter with it, in the caller's transaction. Deleting first and
// inserting with ON CONFLICT DO NOTHING keeps the counter exact when toggles of one pair race.
func (q *Q) toggle(ctx context.Context, r relation, a, b int64) (bool, error) {
	n, err := q.exec(ctx, `DELETE FROM `+r.table+` WHERE `+r.left+` = $1 AND `+r.right+` = $2`, a, b)
	if err != nil {
		return false, fmt.Errorf("toggle %s: %w", r.table, err)
	}
	if n > 0 {
		_, err = q.exec(ctx, fmt.Sprintf(r.counter, "- 1"), b)
		return false, err
	}
	n, err = q.exec(ctx, `INSERT INTO `+r.table+` (`+r.left+`, `+r.right+`) VALUES ($1, $2) ON CONFLICT DO NOTHING`, a, b)
	if err != nil {
		return false, fmt.Errorf("toggle %s: %w", r.table, err)
	}
	if n > 0 {
		_, err = q.exec(ctx, fmt.Sprintf(r.counter, "+ 1"), b)
	}
	return true, err
}

func (q *Q) has(ctx context.Context, r relation, a, b int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM `+r.table+` WHERE `+r.left+` = $1 AND `+r.right+` = $2`, a, b)
}

// ToggleFollow makes uid follow target, or stop; it returns the new state.
func (q *Q) ToggleFollow(ctx context.Context, uid, target int64) (bool, error) {
	return q.toggle(ctx, followRel, uid, target)
}

// Follows reports whether uid follows target.
func (q *Q) Follows(ctx context.Context, uid, target int64) (bool, error) {
	return q.has(ctx, followRel, uid, target)
}

// Followers lists who follows uid.
func (q *Q) Followers(ctx context.Context, uid int64, p Page) ([]int64, error) {
	return q.pagedIDs(ctx, p, `SELECT uid FROM follow WHERE followed_user = $1 ORDER BY uid`, uid)
}

// Following lists whom uid follows.
func (q *Q) Following(ctx context.Context, uid int64, p Page) ([]int64, error) {
	return q.pagedIDs(ctx, p, `SELECT followed_user FROM follow WHERE uid = $1 ORDER BY followed_user`, uid)
}

// ToggleStar stars or unstars an app for uid; it returns the new state.
func (q *Q) ToggleStar(ctx context.Context, uid, aid int64) (bool, error) {
	return q.toggle(ctx, starRel, uid, aid)
}

// Starred reports whether uid starred the app.
func (q *Q) Starred(ctx context.Context, uid, aid int64) (bool, error) {
	return q.has(ctx, starRel, uid, aid)
}

// AppStargazers lists who starred the app.
func (q *Q) AppStargazers(ctx context.Context, aid int64, p Page) ([]int64, error) {
	return q.pagedIDs(ctx, p, `SELECT uid FROM stars WHERE app = $1 ORDER BY uid`, aid)
}

// UserStars lists the apps uid starred.
func (q *Q) UserStars(ctx context.Context, uid int64, p Page) ([]int64, error) {
	return q.pagedIDs(ctx, p, `SELECT app FROM stars WHERE uid = $1 ORDER BY app`, uid)
}

// ToggleCommentStar stars or unstars a comment for uid; it returns the new state.
func (q *Q) ToggleCommentStar(ctx context.Context, uid, cid int64) (bool, error) {
	return q.toggle(ctx, commentStarRel, uid, cid)
}

// CommentStarred reports whether uid starred the comment.
func (q *Q) CommentStarred(ctx context.Context, uid, cid int64) (bool, error) {
	return q.has(ctx, commentStarRel, uid, cid)
}

// CommentStargazers lists who starred the comment.
func (q *Q) CommentStargazers(ctx context.Context, cid int64, p Page) ([]int64, error) {
	return q.pagedIDs(ctx, p, `SELECT uid FROM comment_stars WHERE comment = $1 ORDER BY uid`, cid)
}

// UserCommentStars lists the comments uid starred.
func (q *Q) UserCommentStars(ctx context.Context, uid int64, p Page) ([]int64, error) {
	return q.pagedIDs(ctx, p, `SELECT comment FROM comment_stars WHERE uid = $1 ORDER BY comment`, uid)
}
