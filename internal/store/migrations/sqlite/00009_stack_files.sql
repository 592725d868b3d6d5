-- +goose Up
-- The files of published stacks, stored once by content: a version's stack JSON keeps, under "file_refs", each
-- file's path → the SHA-256 (hex) of its JSON value, and the value lives here. Versions that share a file (most
-- of an app's versions do) share its row, and large stacks stay out of the version rows.
CREATE TABLE stack_files (
    hash TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

-- +goose Down
DROP TABLE stack_files;
