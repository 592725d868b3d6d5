-- +goose Up
-- The store's search (docs/stores.md, "All stores in one") matches a keyword against each app's name, package and
-- description case-insensitively. Folding them per row at every search cost ~20 ms of CPU at 1,161 apps on SQLite
-- (fold() is a Go function called through the driver), so the folded texts are stored, kept by the statements that
-- write those columns (internal/store/apps.go). fold_package is NULL when package_name is, as fold() answers.
ALTER TABLE apps ADD COLUMN fold_name TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN fold_package TEXT;
ALTER TABLE apps ADD COLUMN fold_description TEXT NOT NULL DEFAULT '';
UPDATE apps SET fold_name = fold(app_name), fold_package = fold(package_name), fold_description = fold(app_description);

-- +goose Down
ALTER TABLE apps DROP COLUMN fold_description;
ALTER TABLE apps DROP COLUMN fold_package;
ALTER TABLE apps DROP COLUMN fold_name;
