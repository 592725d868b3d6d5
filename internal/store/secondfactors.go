package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// TOTP is a user's authenticator-app secret (base32) and the last 30-second step a code was accepted for.
type TOTP struct {
	Secret    string
	Confirmed bool
	LastStep  int64
}

// PutTOTP stores a new, unconfirmed secret for uid, replacing an unconfirmed one; a confirmed secret stays and the
// answer is ErrConflict.
func (q *Q) PutTOTP(ctx context.Context, uid int64, secret string, now int64) error {
	n, err := q.exec(ctx, `INSERT INTO totp (uid, secret, confirmed, last_step, created_at) VALUES ($1, $2, FALSE, 0, $3)
		ON CONFLICT (uid) DO UPDATE SET secret = excluded.secret, last_step = 0, created_at = excluded.created_at
		WHERE totp.confirmed = FALSE`, uid, secret, now)
	if err != nil {
		return fmt.Errorf("put totp of %d: %w", uid, err)
	}
	if n == 0 {
		return fmt.Errorf("put totp of %d: %w", uid, ErrConflict)
	}
	return nil
}

// TOTP loads uid's secret; ErrNotFound when there is none.
func (q *Q) TOTP(ctx context.Context, uid int64) (*TOTP, error) {
	var t TOTP
	err := q.db.QueryRowContext(ctx, `SELECT secret, confirmed, last_step FROM totp WHERE uid = $1`, uid).
		Scan(&t.Secret, &t.Confirmed, &t.LastStep)
	if err != nil {
		return nil, fmt.Errorf("totp of %d: %w", uid, mapErr(err))
	}
	return &t, nil
}

// UseTOTPStep records that a code of step was accepted for uid, and confirms the secret if it was not yet. It is
// false when a code of this step or a later one was already accepted: each code works once, even when two
// requests race.
func (q *Q) UseTOTPStep(ctx context.Context, uid, step int64) (bool, error) {
	n, err := q.exec(ctx, `UPDATE totp SET last_step = $2, confirmed = TRUE WHERE uid = $1 AND last_step < $2`, uid, step)
	if err != nil {
		return false, fmt.Errorf("use totp step of %d: %w", uid, err)
	}
	return n == 1, nil
}

// DeleteTOTP removes uid's secret and recovery codes.
func (q *Q) DeleteTOTP(ctx context.Context, uid int64) error {
	if _, err := q.exec(ctx, `DELETE FROM recovery_codes WHERE uid = $1`, uid); err != nil {
		return fmt.Errorf("delete recovery codes of %d: %w", uid, err)
	}
	_, err := q.exec(ctx, `DELETE FROM totp WHERE uid = $1`, uid)
	return wrapErr(err, "delete totp of %d", uid)
}

// DeleteSecondFactors removes all of uid's second factors: the TOTP secret, the recovery codes and the passkeys.
func (q *Q) DeleteSecondFactors(ctx context.Context, uid int64) error {
	if err := q.DeleteTOTP(ctx, uid); err != nil {
		return err
	}
	_, err := q.exec(ctx, `DELETE FROM passkeys WHERE uid = $1`, uid)
	return wrapErr(err, "delete passkeys of %d", uid)
}

// RecoveryCode is the hash of one of a user's single-use recovery codes.
type RecoveryCode struct {
	N    int64
	Hash string
}

// SetRecoveryCodes replaces uid's recovery codes with these hashes.
func (q *Q) SetRecoveryCodes(ctx context.Context, uid int64, hashes []string) error {
	if _, err := q.exec(ctx, `DELETE FROM recovery_codes WHERE uid = $1`, uid); err != nil {
		return fmt.Errorf("replace recovery codes of %d: %w", uid, err)
	}
	for i, h := range hashes {
		if _, err := q.exec(ctx, `INSERT INTO recovery_codes (uid, n, hash) VALUES ($1, $2, $3)`, uid, i+1, h); err != nil {
			return fmt.Errorf("insert recovery code of %d: %w", uid, err)
		}
	}
	return nil
}

// UnusedRecoveryCodes lists uid's recovery codes not spent yet.
func (q *Q) UnusedRecoveryCodes(ctx context.Context, uid int64) ([]RecoveryCode, error) {
	return queryRows(ctx, q.db, func(r rowScanner) (*RecoveryCode, error) {
		var c RecoveryCode
		return &c, r.Scan(&c.N, &c.Hash)
	}, `SELECT n, hash FROM recovery_codes WHERE uid = $1 AND used_at = 0 ORDER BY n`, uid)
}

// UseRecoveryCode spends code n of uid at now; false when it was already spent.
func (q *Q) UseRecoveryCode(ctx context.Context, uid, n, now int64) (bool, error) {
	c, err := q.exec(ctx, `UPDATE recovery_codes SET used_at = $3 WHERE uid = $1 AND n = $2 AND used_at = 0`, uid, n, now)
	if err != nil {
		return false, fmt.Errorf("use recovery code of %d: %w", uid, err)
	}
	return c == 1, nil
}

// HasSecondFactor tells whether uid has a confirmed TOTP secret or at least one passkey.
func (q *Q) HasSecondFactor(ctx context.Context, uid int64) (bool, error) {
	ok, err := q.exists(ctx, `SELECT 1 FROM totp WHERE uid = $1 AND confirmed
		UNION ALL SELECT 1 FROM passkeys WHERE uid = $1`, uid)
	if err != nil {
		return false, fmt.Errorf("second factors of %d: %w", uid, err)
	}
	return ok, nil
}

// Passkey is a registered WebAuthn credential.
type Passkey struct {
	ID              string // the credential id, base64url
	UID             int64
	Name            string
	PublicKey       []byte
	SignCount       int64
	Transports      string // comma-separated
	UserHandle      []byte
	AAGUID          []byte
	Flags           int64
	AttestationType string
	CreatedAt       int64
	LastUsedAt      int64
}

const passkeyCols = `id, uid, name, public_key, sign_count, transports, user_handle, aaguid, flags, attestation_type,
	created_at, last_used_at`

func scanPasskey(r rowScanner) (*Passkey, error) {
	var p Passkey
	err := r.Scan(&p.ID, &p.UID, &p.Name, &p.PublicKey, &p.SignCount, &p.Transports, &p.UserHandle, &p.AAGUID,
		&p.Flags, &p.AttestationType, &p.CreatedAt, &p.LastUsedAt)
	return &p, err
}

// CreatePasskey inserts p; a credential id registered before is ErrConflict.
func (q *Q) CreatePasskey(ctx context.Context, p Passkey) error {
	_, err := q.exec(ctx, `INSERT INTO passkeys (`+passkeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		p.ID, p.UID, p.Name, p.PublicKey, p.SignCount, p.Transports, p.UserHandle, p.AAGUID, p.Flags,
		p.AttestationType, p.CreatedAt, p.LastUsedAt)
	return wrapErr(err, "insert passkey of %d", p.UID)
}

// Passkeys lists uid's passkeys, oldest first.
func (q *Q) Passkeys(ctx context.Context, uid int64) ([]Passkey, error) {
	ps, err := queryRows(ctx, q.db, scanPasskey, `SELECT `+passkeyCols+` FROM passkeys WHERE uid = $1 ORDER BY created_at, id`, uid)
	return ps, wrapErr(err, "passkeys of %d", uid)
}

// PasskeyByID loads one passkey by its credential id.
func (q *Q) PasskeyByID(ctx context.Context, id string) (*Passkey, error) {
	p, err := scanPasskey(q.db.QueryRowContext(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", mapErr(err))
	}
	return p, nil
}

// UserHandle is the WebAuthn user handle of uid's passkeys; nil when uid has none.
func (q *Q) UserHandle(ctx context.Context, uid int64) ([]byte, error) {
	var h []byte
	err := q.db.QueryRowContext(ctx, `SELECT user_handle FROM passkeys WHERE uid = $1 ORDER BY created_at LIMIT 1`, uid).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return h, wrapErr(mapErr(err), "user handle of %d", uid)
}

// UsePasskey records a sign-in with passkey id: its new signature counter and flags.
func (q *Q) UsePasskey(ctx context.Context, id string, signCount, flags, now int64) error {
	return q.execOne(ctx, `UPDATE passkeys SET sign_count = $2, flags = $3, last_used_at = $4 WHERE id = $1`,
		id, signCount, flags, now)
}

// DeletePasskey removes uid's passkey id; ErrNotFound when uid has no such passkey.
func (q *Q) DeletePasskey(ctx context.Context, uid int64, id string) error {
	return q.execOne(ctx, `DELETE FROM passkeys WHERE uid = $1 AND id = $2`, uid, id)
}

// Pending is short-lived server-side state of a sign-in or a WebAuthn ceremony (see migration 00011).
type Pending struct {
	ID        string // SHA-256 hex of the browser's value
	Kind      string
	UID       int64
	Data      string
	ExpiresAt int64
}

// CreatePending inserts p.
func (q *Q) CreatePending(ctx context.Context, p Pending) error {
	_, err := q.exec(ctx, `INSERT INTO auth_pending (id, kind, uid, data, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		p.ID, p.Kind, p.UID, p.Data, p.ExpiresAt)
	return wrapErr(err, "insert pending %s", p.Kind)
}

// PendingOf loads the live pending state id of kind at now (ms); ErrNotFound when it is unknown or expired.
func (q *Q) PendingOf(ctx context.Context, id, kind string, now int64) (*Pending, error) {
	p := Pending{ID: id, Kind: kind}
	err := q.db.QueryRowContext(ctx, `SELECT uid, data, expires_at FROM auth_pending WHERE id = $1 AND kind = $2 AND expires_at > $3`,
		id, kind, now).Scan(&p.UID, &p.Data, &p.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("pending %s: %w", kind, mapErr(err))
	}
	return &p, nil
}

// TakePending deletes the live pending state id of kind and returns it: only one request can finish a ceremony.
func (q *Q) TakePending(ctx context.Context, id, kind string, now int64) (*Pending, error) {
	p := Pending{ID: id, Kind: kind}
	err := q.db.QueryRowContext(ctx, `DELETE FROM auth_pending WHERE id = $1 AND kind = $2 AND expires_at > $3
		RETURNING uid, data, expires_at`, id, kind, now).Scan(&p.UID, &p.Data, &p.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("take pending %s: %w", kind, mapErr(err))
	}
	return &p, nil
}

// DeleteExpiredPending removes pending state that expired before now (ms).
func (q *Q) DeleteExpiredPending(ctx context.Context, now int64) error {
	_, err := q.exec(ctx, `DELETE FROM auth_pending WHERE expires_at <= $1`, now)
	return wrapErr(err, "delete expired pending")
}
