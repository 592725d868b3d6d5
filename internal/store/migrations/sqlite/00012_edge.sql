-- +goose Up
-- The edge's route table: a name (and a path prefix) served by one installed app. Rows go with their install.
-- basic_users is JSON [{"user", "hash"}] (argon2id); allow is JSON ["CIDR", ...].
CREATE TABLE routes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance    TEXT    NOT NULL REFERENCES instances (name) ON DELETE CASCADE,
    domain      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    strip_path  BOOLEAN NOT NULL DEFAULT FALSE,
    service     TEXT    NOT NULL DEFAULT '',
    port        INTEGER NOT NULL DEFAULT 0,
    https       TEXT    NOT NULL,
    redirect    BOOLEAN NOT NULL DEFAULT TRUE,
    access      TEXT    NOT NULL,
    basic_users TEXT    NOT NULL DEFAULT '[]',
    allow       TEXT    NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    UNIQUE (domain, path)
);
CREATE INDEX routes_instance ON routes (instance);

-- Where an install publishes its ports: '' on every interface, '127.0.0.1' on loopback only (--publish loopback
-- when it was installed).
ALTER TABLE instances ADD COLUMN publish_ip TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE instances DROP COLUMN publish_ip;
DROP TABLE routes;
