-- +goose Up
-- Second factors (docs/accounts.md §3). The TOTP secret is kept as typed into an authenticator app (base32, not
-- encrypted: the server must read it to check a code). last_step is the last 30-second step a code was accepted
-- for, so a code works once.
CREATE TABLE totp (
    uid        INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    confirmed  BOOLEAN NOT NULL DEFAULT FALSE,
    last_step  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- Single-use recovery codes, argon2id hashes only; used_at is 0 until the code is spent.
CREATE TABLE recovery_codes (
    uid     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    n       INTEGER NOT NULL,
    hash    TEXT NOT NULL,
    used_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (uid, n)
);

-- Passkeys (WebAuthn credentials). id is the credential id in base64url; user_handle is the random WebAuthn user
-- id of its owner (the same for all of a user's passkeys); flags are the authenticator flags as one byte.
CREATE TABLE passkeys (
    id               TEXT PRIMARY KEY,
    uid              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    public_key       BLOB NOT NULL,
    sign_count       INTEGER NOT NULL DEFAULT 0,
    transports       TEXT NOT NULL DEFAULT '',
    user_handle      BLOB NOT NULL,
    aaguid           BLOB NOT NULL,
    flags            INTEGER NOT NULL DEFAULT 0,
    attestation_type TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    last_used_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX passkeys_uid ON passkeys (uid);
CREATE INDEX passkeys_user_handle ON passkeys (user_handle);

-- Short-lived server-side state of a sign-in or a ceremony: a password-checked sign-in waiting for its second
-- factor, a WebAuthn challenge. id is the SHA-256 of the value the browser holds; data is the ceremony's JSON.
CREATE TABLE auth_pending (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    uid        INTEGER NOT NULL,
    data       TEXT NOT NULL DEFAULT '',
    expires_at INTEGER NOT NULL
);
CREATE INDEX auth_pending_expires ON auth_pending (expires_at);

-- +goose Down
DROP TABLE auth_pending;
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP TABLE totp;
