-- +goose Up
-- What StackHub rendered into each instance's project directory: JSON of file path → SHA-256 (hex) of the content
-- it wrote. An upgrade compares the files on disk with it to tell the admin's edits from StackHub's own output.
ALTER TABLE instances ADD COLUMN rendered TEXT NOT NULL DEFAULT '';
-- The files an upgrade left as the admin had changed them (its new rendering beside each as <file>.new), and the
-- StackHub-owned files (the Compose file, .env) whose local edits it replaced: JSON arrays of paths.
ALTER TABLE upgrades ADD COLUMN kept TEXT NOT NULL DEFAULT '';
ALTER TABLE upgrades ADD COLUMN replaced TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE upgrades DROP COLUMN replaced;
ALTER TABLE upgrades DROP COLUMN kept;
ALTER TABLE instances DROP COLUMN rendered;
