package store

import (
	"context"
	"fmt"
)

// The reads below serve the web UI's comment thread: each loads a whole level of the tree, or every author of it,
// in one query, so a page of comments costs a handful of queries whatever its size.

// ThreadTop lists one page of an app's top-level comments, newest first. (AppCommentIDs lists replies too.)
func (q *Q) ThreadTop(ctx context.Context, aid int64, p Page) ([]Comment, error) {
	query, args := paged(`SELECT `+commentCols+` FROM comments WHERE app = $1 AND reply_comment IS NULL
		ORDER BY created_at DESC, id DESC`, p, aid)
	cs, err := queryRows(ctx, q.db, scanComment, query, args...)
	if err != nil {
		return nil, fmt.Errorf("top comments of %d: %w", aid, err)
	}
	return cs, nil
}

// ThreadReplies loads the direct replies to each of parents, oldest first: at most perParent replies of each
// parent and at most limit in all.
func (q *Q) ThreadReplies(ctx context.Context, parents []int64, perParent, limit int) ([]Comment, error) {
	if len(parents) == 0 || perParent <= 0 || limit <= 0 {
		return []Comment{}, nil
	}
	args := idArgs(parents)
	n := len(args)
	args = append(args, int64(perParent), int64(limit))
	// ROW_NUMBER numbers each parent's replies, so one busy comment cannot crowd out its siblings' replies.
	query := fmt.Sprintf(`SELECT %s FROM (SELECT %s, ROW_NUMBER() OVER (PARTITION BY reply_comment
		ORDER BY created_at, id) AS rn FROM comments WHERE reply_comment IN (%s)) r
		WHERE rn <= CAST($%d AS BIGINT) ORDER BY created_at, id LIMIT CAST($%d AS BIGINT)`,
		commentCols, commentCols, placeholders(1, n), n+1, n+2)
	cs, err := queryRows(ctx, q.raw, scanComment, query, args...)
	if err != nil {
		return nil, fmt.Errorf("replies: %w", err)
	}
	return cs, nil
}

// ThreadStarred tells which of the comments cids uid starred.
func (q *Q) ThreadStarred(ctx context.Context, uid int64, cids []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	if len(cids) == 0 {
		return out, nil
	}
	args := append([]any{uid}, idArgs(cids)...)
	got, err := queryRows(ctx, q.raw, scanID, `SELECT comment FROM comment_stars WHERE uid = $1 AND comment IN (`+
		placeholders(2, len(args)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("comment stars of %d: %w", uid, err)
	}
	for _, id := range got {
		out[id] = true
	}
	return out, nil
}
