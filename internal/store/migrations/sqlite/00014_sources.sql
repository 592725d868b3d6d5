-- +goose Up
-- Store sources the admin registered (stores.md §1): an archive or templates.json URL, fetched and imported on a
-- schedule. etag and last_modified are what the last full download answered, for the next conditional request.
-- removed_at is set when the admin removes one: it is no longer listed or synced, and its row goes once the
-- versions it brought have left the catalog (those an install still uses stay until it is uninstalled).
CREATE TABLE sources (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    url              TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    format           TEXT    NOT NULL DEFAULT '',
    read_format      TEXT    NOT NULL DEFAULT '',
    etag             TEXT    NOT NULL DEFAULT '',
    last_modified    TEXT    NOT NULL DEFAULT '',
    synced_at        INTEGER,
    error            TEXT    NOT NULL DEFAULT '',
    apps_accepted    INTEGER NOT NULL DEFAULT 0,
    apps_refused     INTEGER NOT NULL DEFAULT 0,
    versions_added   INTEGER NOT NULL DEFAULT 0,
    versions_removed INTEGER NOT NULL DEFAULT 0,
    refusals         TEXT    NOT NULL DEFAULT '[]',
    created_at       INTEGER NOT NULL,
    removed_at       INTEGER
);
CREATE UNIQUE INDEX sources_url ON sources (url) WHERE removed_at IS NULL;

-- The catalog versions a source holds, by app key and version name. stale: the source no longer offers it (or was
-- removed) but an install still uses it; it leaves the catalog once no install does.
CREATE TABLE source_versions (
    source  INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    app_key TEXT    NOT NULL,
    version TEXT    NOT NULL,
    stale   BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (source, app_key, version)
);
CREATE INDEX source_versions_app ON source_versions (app_key, version);

-- +goose Down
DROP TABLE source_versions;
DROP TABLE sources;
