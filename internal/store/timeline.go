package store

import (
	"context"
	"fmt"
)

// Timeline types, 1-based in the documented order.
const (
	LineFollowUser    = 1
	LineStarComment   = 2
	LineCreateComment = 3
	LineEditComment   = 4
	LineCreateApp     = 5
	LinePublishUpdate = 6
	LineDeleteApp     = 7
	LineStarApp       = 8
)

// Timeline is one entry of a user's public activity.
type Timeline struct {
	UID       int64 `json:"u"`
	Type      int   `json:"t"`
	Data      int64 `json:"d"`
	CreatedAt int64 `json:"c"`
}

// AddTimeline appends an entry.
func (q *Q) AddTimeline(ctx context.Context, t Timeline) error {
	_, err := q.exec(ctx, `INSERT INTO timelines (uid, created_at, line_type, line_data) VALUES ($1, $2, $3, $4)`,
		t.UID, t.CreatedAt, t.Type, t.Data)
	if err != nil {
		return fmt.Errorf("insert timeline: %w", err)
	}
	return nil
}

// Timelines lists entries newest first, of the given users or (uids nil) of everybody.
func (q *Q) Timelines(ctx context.Context, uids []int64, p Page) ([]Timeline, error) {
	where, args := "", []any{}
	if uids != nil {
		if len(uids) == 0 {
			return []Timeline{}, nil
		}
		where = ` WHERE uid IN (` + placeholders(1, len(uids)) + `)`
		for _, u := range uids {
			args = append(args, u)
		}
	}
	query, args := paged(`SELECT uid, line_type, line_data, created_at FROM timelines`+where+
		` ORDER BY created_at DESC, id DESC`, p, args...)
	db := q.db
	if uids != nil {
		db = q.raw // an IN-list: the text varies with the number of users
	}
	return queryRows(ctx, db, scanTimeline, query, args...)
}

func scanTimeline(row rowScanner) (*Timeline, error) {
	var t Timeline
	if err := row.Scan(&t.UID, &t.Type, &t.Data, &t.CreatedAt); err != nil {
		return nil, err
	}
	return &t, nil
}
