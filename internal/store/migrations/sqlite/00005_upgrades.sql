-- +goose Up
-- One row per upgrade or rollback of an instance: from, to, result, and the snapshot taken before it.
CREATE TABLE upgrades (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    instance       TEXT    NOT NULL REFERENCES instances (name) ON DELETE CASCADE,
    job            INTEGER NOT NULL,
    kind           TEXT    NOT NULL,
    from_version   TEXT    NOT NULL,
    from_reversion INTEGER NOT NULL,
    to_version     TEXT    NOT NULL,
    to_reversion   INTEGER NOT NULL,
    result         TEXT    NOT NULL,
    cause          TEXT    NOT NULL DEFAULT '',
    snapshot       TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    finished_at    INTEGER
);
CREATE INDEX upgrades_instance ON upgrades (instance, id);

-- +goose Down
DROP TABLE upgrades;
