-- +goose Up
-- certmagic's storage: one row per key ("certificates/<ca>/<name>/<name>.crt"); directories are key prefixes.
CREATE TABLE cert_kv (
    key         TEXT    PRIMARY KEY,
    value       BLOB    NOT NULL,
    size        INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);

-- certmagic's named locks, shared by every StackHub on the database. A holder refreshes expires_at while it
-- works, so a crashed holder's lock expires and another process takes it over.
CREATE TABLE cert_locks (
    name       TEXT    PRIMARY KEY,
    owner      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Certificates the admin uploaded; names is the certificate's DNS names and IPs, one per line.
CREATE TABLE certificates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    names      TEXT    NOT NULL,
    issuer     TEXT    NOT NULL,
    not_before INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    cert_pem   TEXT    NOT NULL,
    key_pem    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- The internal CA's root, generated once; id is always 1, so two processes starting together keep one root.
CREATE TABLE internal_ca (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    cert_pem   TEXT    NOT NULL,
    key_pem    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE internal_ca;
DROP TABLE certificates;
DROP TABLE cert_locks;
DROP TABLE cert_kv;
