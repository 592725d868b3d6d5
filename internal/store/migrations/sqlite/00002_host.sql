-- +goose Up
-- Installed instances of catalog apps. secrets holds the generated credentials (JSON) and is never listed.
CREATE TABLE instances (
    name        TEXT    PRIMARY KEY,
    project     TEXT    NOT NULL UNIQUE,
    app         INTEGER NOT NULL,
    app_key     TEXT    NOT NULL,
    reversion   INTEGER NOT NULL,
    version     TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    stopped     BOOLEAN NOT NULL DEFAULT FALSE,
    cause       TEXT    NOT NULL DEFAULT '',
    services    TEXT    NOT NULL DEFAULT '',
    settings    TEXT    NOT NULL DEFAULT '{}',
    secrets     TEXT    NOT NULL DEFAULT '{}',
    host_access BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- One row per booked host port; the key makes two installs unable to book the same port.
CREATE TABLE port_bookings (
    port     INTEGER NOT NULL,
    protocol TEXT    NOT NULL,
    instance TEXT    NOT NULL REFERENCES instances (name) ON DELETE CASCADE,
    variable TEXT    NOT NULL,
    PRIMARY KEY (port, protocol)
);
CREATE INDEX port_bookings_instance ON port_bookings (instance);

-- Durable jobs: a server that dies mid-job finds them here on the next start.
CREATE TABLE jobs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    instance   TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    stage      TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    error      TEXT    NOT NULL DEFAULT '',
    rollback   TEXT    NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX jobs_instance ON jobs (instance);
CREATE INDEX jobs_state ON jobs (state);

CREATE TABLE job_events (
    job     INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    stage   TEXT    NOT NULL,
    message TEXT    NOT NULL,
    percent INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY (job, seq)
);

-- +goose Down
DROP TABLE job_events;
DROP TABLE jobs;
DROP TABLE port_bookings;
DROP TABLE instances;
