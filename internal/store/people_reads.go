package store

import (
	"context"
	"fmt"
)

// UserMap loads the users among ids that exist, by id. Pages that name many users (a timeline, a list of
// notifications) load them in one query instead of one each.
func (q *Q) UserMap(ctx context.Context, ids []int64) (map[int64]User, error) {
	out := map[int64]User{}
	args := idArgs(ids)
	if len(args) == 0 {
		return out, nil
	}
	// An IN-list: the text varies with the number of ids, so it bypasses the statement cache.
	us, err := queryRows(ctx, q.raw, scanUser, `SELECT `+userCols+` FROM users WHERE id IN (`+
		placeholders(1, len(args))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	for _, u := range us {
		out[u.ID] = u
	}
	return out, nil
}

// CommentMap loads the comments among ids that exist, by id.
func (q *Q) CommentMap(ctx context.Context, ids []int64) (map[int64]Comment, error) {
	out := map[int64]Comment{}
	args := idArgs(ids)
	if len(args) == 0 {
		return out, nil
	}
	cs, err := queryRows(ctx, q.raw, scanComment, `SELECT `+commentCols+` FROM comments WHERE id IN (`+
		placeholders(1, len(args))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("load comments: %w", err)
	}
	for _, c := range cs {
		out[c.ID] = c
	}
	return out, nil
}

// MarkNotificationsRead marks every unread notification of uid read and returns how many changed.
func (q *Q) MarkNotificationsRead(ctx context.Context, uid int64) (int64, error) {
	n, err := q.exec(ctx, `UPDATE notifications SET enabled = TRUE WHERE uid = $1 AND enabled = FALSE`, uid)
	if err != nil {
		return 0, fmt.Errorf("mark notifications of %d read: %w", uid, err)
	}
	return n, nil
}
