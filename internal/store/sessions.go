package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Session is a signed-in browser. ID is the SHA-256 (hex) of the cookie value; the value itself is never stored.
type Session struct {
	ID        string
	UID       int64  // the user; 0 for the admin
	AdminKey  string // for an admin session, a digest of the admin token it was opened with
	CreatedAt int64
	ExpiresAt int64
	Address   string // the client address it was opened from
	UserAgent string
}

// CreateSession inserts s.
func (q *Q) CreateSession(ctx context.Context, s Session) error {
	_, err := q.exec(ctx, `INSERT INTO sessions (id, uid, admin_key, created_at, expires_at,
		last_seen_at, address, user_agent) VALUES ($1, $2, $3, $4, $5, $4, $6, $7)`,
		s.ID, s.UID, s.AdminKey, s.CreatedAt, s.ExpiresAt, s.Address, s.UserAgent)
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionUser is a live session with the state of its user: what resolving a session cookie needs.
type SessionUser struct {
	UID         int64
	AdminKey    string // for an admin session, a digest of the admin token it was opened with
	UserExists  bool   // the session's user is still there
	UserEnabled bool
	UserRole    string
	LastSeenAt  int64
}

// SessionUser loads the session with id if it has not expired at now (ms), with its user's state. One query
// rather than Session then User, since every signed-in page request asks.
func (q *Q) SessionUser(ctx context.Context, id string, now int64) (*SessionUser, error) {
	var s SessionUser
	var enabled sql.NullBool // NULL: the user is gone
	var role sql.NullString
	err := q.db.QueryRowContext(ctx, `SELECT s.uid, s.admin_key, u.enabled, u.role, s.last_seen_at FROM sessions s
		LEFT JOIN users u ON u.id = s.uid WHERE s.id = $1 AND s.expires_at > $2`, id, now).
		Scan(&s.UID, &s.AdminKey, &enabled, &role, &s.LastSeenAt)
	if err != nil {
		return nil, fmt.Errorf("session: %w", mapErr(err))
	}
	s.UserExists, s.UserEnabled, s.UserRole = enabled.Valid, enabled.Bool, role.String
	return &s, nil
}

// DeleteSession ends one session.
func (q *Q) DeleteSession(ctx context.Context, id string) error {
	_, err := q.exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return wrapErr(err, "delete session")
}

// DeleteUserSessions ends every session of uid (its password changed, or it was disabled or deleted).
func (q *Q) DeleteUserSessions(ctx context.Context, uid int64) error {
	_, err := q.exec(ctx, `DELETE FROM sessions WHERE uid = $1 AND admin_key = ''`, uid)
	return wrapErr(err, "delete sessions of %d", uid)
}

// DeleteExpiredSessions removes the sessions that expired before now (ms).
func (q *Q) DeleteExpiredSessions(ctx context.Context, now int64) error {
	_, err := q.exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now)
	return wrapErr(err, "delete expired sessions")
}

// CountUnread counts uid's unread notifications.
func (q *Q) CountUnread(ctx context.Context, uid int64) (int64, error) {
	n, err := q.int64(ctx, `SELECT COUNT(*) FROM notifications WHERE uid = $1 AND NOT enabled`, uid)
	if err != nil {
		return 0, fmt.Errorf("count unread of %d: %w", uid, err)
	}
	return n, nil
}

func wrapErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
