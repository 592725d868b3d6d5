package store

import (
	"context"
	"fmt"
	"strings"
)

// Role reads a user's role.
func (q *Q) Role(ctx context.Context, uid int64) (string, error) {
	var role string
	err := q.db.QueryRowContext(ctx, `SELECT role FROM users WHERE id = $1`, uid).Scan(&role)
	if err != nil {
		return "", fmt.Errorf("role of %d: %w", uid, mapErr(err))
	}
	return role, nil
}

// SetRole sets a user's role.
func (q *Q) SetRole(ctx context.Context, uid int64, role string) error {
	return q.execOne(ctx, `UPDATE users SET role = $2 WHERE id = $1 AND id <> 0`, uid, role)
}

// APIToken is an API token without its secret. ID is the token's public part; Hash the argon2id of the secret
// part. UID 0 is the admin.
type APIToken struct {
	ID         string
	UID        int64
	Name       string
	Scopes     []string
	Hash       string
	CreatedAt  int64
	ExpiresAt  int64 // 0: never
	LastUsedAt int64 // 0: never
}

const tokenCols = `id, uid, name, scopes, hash, created_at, expires_at, last_used_at`

func scanToken(row rowScanner) (*APIToken, error) {
	var t APIToken
	var scopes string
	if err := row.Scan(&t.ID, &t.UID, &t.Name, &scopes, &t.Hash, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt); err != nil {
		return nil, mapErr(err)
	}
	t.Scopes = strings.Fields(scopes)
	return &t, nil
}

// CreateToken inserts t.
func (q *Q) CreateToken(ctx context.Context, t *APIToken) error {
	_, err := q.exec(ctx, `INSERT INTO api_tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.ID, t.UID, t.Name, strings.Join(t.Scopes, " "), t.Hash, t.CreatedAt, t.ExpiresAt, t.LastUsedAt)
	return wrapErr(err, "insert token")
}

// TokenOwner is a token with the state of its owner at the time of the request: what resolving a token needs.
type TokenOwner struct {
	APIToken
	OwnerExists  bool
	OwnerEnabled bool
	OwnerRole    string
}

// TokenWithOwner loads a token and its owner's current role and state in one query.
func (q *Q) TokenWithOwner(ctx context.Context, id string) (*TokenOwner, error) {
	var t TokenOwner
	var scopes string
	var enabled *bool
	var role *string
	err := q.db.QueryRowContext(ctx, `SELECT t.id, t.uid, t.name, t.scopes, t.hash, t.created_at, t.expires_at,
		t.last_used_at, u.enabled, u.role FROM api_tokens t LEFT JOIN users u ON u.id = t.uid AND t.uid <> 0
		WHERE t.id = $1`, id).Scan(&t.ID, &t.UID, &t.Name, &scopes, &t.Hash, &t.CreatedAt, &t.ExpiresAt,
		&t.LastUsedAt, &enabled, &role)
	if err != nil {
		return nil, fmt.Errorf("token %s: %w", id, mapErr(err))
	}
	t.Scopes = strings.Fields(scopes)
	if enabled != nil && role != nil {
		t.OwnerExists, t.OwnerEnabled, t.OwnerRole = true, *enabled, *role
	}
	return &t, nil
}

// Tokens lists uid's tokens, newest first.
func (q *Q) Tokens(ctx context.Context, uid int64) ([]APIToken, error) {
	ts, err := queryRows(ctx, q.db, scanToken, `SELECT `+tokenCols+` FROM api_tokens WHERE uid = $1
		ORDER BY created_at DESC, id`, uid)
	return ts, wrapErr(err, "tokens of %d", uid)
}

// DeleteToken removes the token id of uid; ErrNotFound when uid has no such token.
func (q *Q) DeleteToken(ctx context.Context, uid int64, id string) error {
	return q.execOne(ctx, `DELETE FROM api_tokens WHERE id = $1 AND uid = $2`, id, uid)
}

// TouchToken records a token's use at now (ms).
func (q *Q) TouchToken(ctx context.Context, id string, now int64) error {
	_, err := q.exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, now)
	return wrapErr(err, "touch token %s", id)
}

// SessionInfo is a session as its owner sees it in a list.
type SessionInfo struct {
	ID         string
	CreatedAt  int64
	LastSeenAt int64
	ExpiresAt  int64
	Address    string
	UserAgent  string
}

func scanSessionInfo(row rowScanner) (*SessionInfo, error) {
	var s SessionInfo
	if err := row.Scan(&s.ID, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.Address, &s.UserAgent); err != nil {
		return nil, mapErr(err)
	}
	return &s, nil
}

// UserSessions lists the live sessions (at now, ms) of uid, newest first.
func (q *Q) UserSessions(ctx context.Context, uid, now int64) ([]SessionInfo, error) {
	ss, err := queryRows(ctx, q.db, scanSessionInfo, `SELECT id, created_at, last_seen_at, expires_at, address,
		user_agent FROM sessions WHERE uid = $1 AND admin_key = '' AND expires_at > $2
		ORDER BY created_at DESC, id`, uid, now)
	return ss, wrapErr(err, "sessions of %d", uid)
}

// DeleteUserSession ends the session id of uid; ErrNotFound when uid has no such session.
func (q *Q) DeleteUserSession(ctx context.Context, uid int64, id string) error {
	return q.execOne(ctx, `DELETE FROM sessions WHERE id = $1 AND uid = $2 AND admin_key = ''`, id, uid)
}

// DeleteOtherSessions ends every session of uid except keep.
func (q *Q) DeleteOtherSessions(ctx context.Context, uid int64, keep string) error {
	_, err := q.exec(ctx, `DELETE FROM sessions WHERE uid = $1 AND admin_key = '' AND id <> $2`, uid, keep)
	return wrapErr(err, "delete other sessions of %d", uid)
}

// TouchSession records a session's last request at now (ms).
func (q *Q) TouchSession(ctx context.Context, id string, now int64) error {
	_, err := q.exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1`, id, now)
	return wrapErr(err, "touch session")
}

// AuditRecord is one line of the audit log.
type AuditRecord struct {
	ID         int64  `json:"id"`
	At         int64  `json:"at"`
	ActorKind  string `json:"actor_kind"`  // user, token, admin (the admin token) or anonymous
	ActorUID   int64  `json:"actor_uid"`   // the user, or the token's owner (0: the admin)
	ActorToken string `json:"actor_token"` // the API token's public id, when one was used
	Action     string `json:"action"`
	Target     string `json:"target"`
	Address    string `json:"address"`
	Outcome    string `json:"outcome"` // ok, or the error kind
}

// AddAudit appends r (its ID is set). This insert is the only statement that writes the table.
func (q *Q) AddAudit(ctx context.Context, r *AuditRecord) error {
	err := q.db.QueryRowContext(ctx, `INSERT INTO audit_log (at, actor_kind, actor_uid, actor_token, action, target,
		address, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, r.At, r.ActorKind, r.ActorUID,
		r.ActorToken, r.Action, r.Target, r.Address, r.Outcome).Scan(&r.ID)
	return wrapErr(mapErr(err), "insert audit record")
}

// AuditFilter narrows an audit query; empty fields match everything. Actor matches the kind (user, token,
// admin), a uid, or a token id.
type AuditFilter struct {
	Actor  string
	Action string // an action, or a prefix ending in *
	Since  int64
	Limit  int
}

// Audit lists audit records matching f, newest first.
func (q *Q) Audit(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	action, prefix := f.Action, ""
	if p, ok := strings.CutSuffix(f.Action, "*"); ok {
		action, prefix = "", p+"%"
	}
	rs, err := queryRows(ctx, q.db, func(row rowScanner) (*AuditRecord, error) {
		var r AuditRecord
		err := row.Scan(&r.ID, &r.At, &r.ActorKind, &r.ActorUID, &r.ActorToken, &r.Action, &r.Target, &r.Address,
			&r.Outcome)
		return &r, mapErr(err)
	}, `SELECT id, at, actor_kind, actor_uid, actor_token, action, target, address, outcome FROM audit_log
		WHERE ($1 = '' OR actor_kind = $1 OR actor_token = $1 OR CAST(actor_uid AS TEXT) = $1)
		AND ($2 = '' OR action = $2) AND ($3 = '' OR action LIKE $3) AND at >= $4
		ORDER BY id DESC LIMIT $5`, f.Actor, action, prefix, f.Since, f.Limit)
	return rs, wrapErr(err, "audit log")
}
