package store

import (
	"context"
	"fmt"
)

// Notification types, 1-based.
const (
	NoteReply       = 1
	NoteMention     = 2
	NoteFollow      = 3
	NoteCommentStar = 4
)

// Notification is addressed by (User, CreatedAt); Read is the original's "enabled".
type Notification struct {
	User      int64 `json:"user"`
	CreatedAt int64 `json:"created_at"`
	Type      int   `json:"type"`
	Data      int64 `json:"data"`
	Read      bool  `json:"enabled"`
}

// AddNotification inserts n. CreatedAt is unique per user: on a collision it moves 1 ms later until free, and
// n.CreatedAt is set to the time used.
func (q *Q) AddNotification(ctx context.Context, n *Notification) error {
	last, err := q.int64(ctx, `SELECT COALESCE(MAX(created_at), 0) FROM notifications WHERE uid = $1`, n.User)
	if err != nil {
		return fmt.Errorf("notification time for %d: %w", n.User, err)
	}
	n.CreatedAt = max(n.CreatedAt, last+1)
	for range 100 {
		added, err := q.exec(ctx, `INSERT INTO notifications (uid, created_at, notification_type, notification_data)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, n.User, n.CreatedAt, n.Type, n.Data)
		if err != nil {
			return fmt.Errorf("insert notification for %d: %w", n.User, err)
		}
		if added == 1 {
			return nil
		}
		n.CreatedAt++
	}
	return fmt.Errorf("insert notification for %d: %w", n.User, ErrConflict)
}

// Notifications lists a user's notifications newest first; all includes those already read.
func (q *Q) Notifications(ctx context.Context, uid int64, all bool, p Page) ([]Notification, error) {
	where := ` AND enabled = FALSE`
	if all {
		where = ""
	}
	query, args := paged(`SELECT uid, created_at, notification_type, notification_data, enabled
		FROM notifications WHERE uid = $1`+where+` ORDER BY created_at DESC`, p, uid)
	return queryRows(ctx, q.db, scanNotification, query, args...)
}

func scanNotification(row rowScanner) (*Notification, error) {
	var n Notification
	if err := row.Scan(&n.User, &n.CreatedAt, &n.Type, &n.Data, &n.Read); err != nil {
		return nil, err
	}
	return &n, nil
}

// HasNotification reports whether uid already has a notification of that type and data.
func (q *Q) HasNotification(ctx context.Context, uid int64, typ int, data int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM notifications WHERE uid = $1 AND notification_type = $2
		AND notification_data = $3`, uid, typ, data)
}

// ToggleNotificationRead flips the read mark and returns the new state.
func (q *Q) ToggleNotificationRead(ctx context.Context, uid, createdAt int64) (bool, error) {
	var read bool
	err := q.db.QueryRowContext(ctx, `UPDATE notifications SET enabled = NOT enabled WHERE uid = $1 AND created_at = $2
		RETURNING enabled`, uid, createdAt).Scan(&read)
	if err != nil {
		return false, fmt.Errorf("notification %d/%d: %w", uid, createdAt, mapErr(err))
	}
	return read, nil
}

// DeleteNotification removes one notification.
func (q *Q) DeleteNotification(ctx context.Context, uid, createdAt int64) error {
	return q.execOne(ctx, `DELETE FROM notifications WHERE uid = $1 AND created_at = $2`, uid, createdAt)
}
