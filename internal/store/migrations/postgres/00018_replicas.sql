-- +goose Up
-- Replicas (architecture.md, "Replicas"): several `stackhub serve` processes on one PostgreSQL database.
-- cluster_events is the shared event log: each event is written once, by the process where it happened, and its id
-- is NOTIFYed on stackhub_events; every process reads the rows after the last id it delivered. Ids are global, so
-- a stream client resumes with last_id on any process. Rows are pruned by age and count.
CREATE TABLE cluster_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type       TEXT    NOT NULL,
    at         BIGINT  NOT NULL, -- Unix milliseconds
    actor      BIGINT  NOT NULL DEFAULT 0,
    audience   BIGINT  NOT NULL DEFAULT 0,
    admin_only BOOLEAN NOT NULL DEFAULT FALSE,
    scope      TEXT    NOT NULL DEFAULT '', -- with admin_only: the scope that sees it (host:read...); '' is admin
    payload    TEXT    NOT NULL
);
CREATE INDEX cluster_events_at ON cluster_events (at);

-- cluster_processes are the live serve processes: each refreshes seen_at (its lease); a process whose lease ran out
-- is dead, and its presence rows and job leases are taken over or dropped.
CREATE TABLE cluster_processes (
    id      TEXT   PRIMARY KEY,
    seen_at BIGINT NOT NULL -- Unix milliseconds, by the database's clock
);

-- cluster_presence: which users have a GeekApk socket open on which process.
CREATE TABLE cluster_presence (
    process TEXT   NOT NULL REFERENCES cluster_processes (id) ON DELETE CASCADE,
    uid     BIGINT NOT NULL,
    PRIMARY KEY (uid, process)
);
CREATE INDEX cluster_presence_process ON cluster_presence (process);

-- cluster_messages carries GeekApk direct messages too large for a NOTIFY payload (8,000 bytes).
CREATE TABLE cluster_messages (
    id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body  TEXT   NOT NULL,
    at    BIGINT NOT NULL
);

-- auth_failures: failed credential checks per limiter key, shared by every process (auth.SharedLimiter).
CREATE TABLE auth_failures (
    key TEXT   NOT NULL,
    at  BIGINT NOT NULL -- Unix milliseconds
);
CREATE INDEX auth_failures_key ON auth_failures (key, at);
CREATE INDEX auth_failures_at ON auth_failures (at);

-- cluster_job_leases: the process running a job holds its lease; when that process dies, a live one takes the job
-- over with the restart recovery.
CREATE TABLE cluster_job_leases (
    job     BIGINT PRIMARY KEY,
    process TEXT   NOT NULL
);
