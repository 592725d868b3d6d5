-- +goose Up
-- Browser sessions of the web UI. The id is the SHA-256 of the cookie's value, so a copy of the database signs
-- nobody in. admin_key ties an admin session to the admin token it was opened with.
CREATE TABLE sessions (
    id         TEXT    PRIMARY KEY,
    uid        BIGINT  NOT NULL,
    admin_key  TEXT    NOT NULL DEFAULT '',
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX sessions_uid ON sessions (uid);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
