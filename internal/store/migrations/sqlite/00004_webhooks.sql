-- +goose Up
-- Webhooks added by the admin through /api/v1 (the GeekApk ones come from WEBHOOKS). event is an event type
-- ("comment.created"), a prefix ("comment.*") or "*".
CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event      TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- The durable delivery queue: a row is written before the first attempt, so a restart resumes what is pending.
-- hook names the source ("newUser", "commentApp:23", "custom:7"); hook_id is set for custom hooks only.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    hook            TEXT    NOT NULL,
    hook_id         INTEGER,
    event           TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    content_type    TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (hook_id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
