-- +goose Up
-- One app, several stores (docs/stores.md §2). Each version records the store it was imported from ('' for a
-- version a user published); a store's version string is unique within the app, so two stores may both
-- have "1.2.3" and an import that runs twice adds nothing.
ALTER TABLE updates ADD COLUMN store TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX updates_store_version ON updates (app, store, version_name) WHERE store <> '';

-- The store metadata beside the GeekApk fields (icon_url and previews hold the icon and screenshots):
-- meta_store is the store whose tagline, icon, screenshots, homepage and architectures the app shows (the one
-- that brought it first); hidden is true when every store that has the app deprecates it.
ALTER TABLE apps ADD COLUMN tagline TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN homepage TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN architectures TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN hidden BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE apps ADD COLUMN meta_store TEXT NOT NULL DEFAULT '';

-- The stores that offer an app, with the app's identity there: the image repository of its main service
-- ('' when unknown). A second store's app with the same key but another image is another app.
CREATE TABLE app_stores (
    app    INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    store  TEXT    NOT NULL,
    image  TEXT    NOT NULL DEFAULT '',
    hidden BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (app, store)
);

-- The categories a store puts an app in, besides apps.category (the GeekApk API's one category, which an import
-- sets to the first when the app has none). Deleting a category unlinks it here; apps.category still holds it.
CREATE TABLE app_categories (
    app      INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    category INTEGER NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    PRIMARY KEY (app, category)
);
CREATE INDEX app_categories_category ON app_categories (category, app);

-- Icons a store ships as files (data: URLs), served at /ui/apps/<id>/icon.
CREATE TABLE app_icons (
    app        INTEGER NOT NULL PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    media_type TEXT    NOT NULL,
    body       BLOB    NOT NULL
);

-- Until now only the Websoft9 layout was imported: the catalog's versions and apps are that store's.
-- (A version name the admin published twice keeps its first.)
UPDATE updates SET store = 'websoft9' WHERE stack IS NOT NULL AND app IN (SELECT id FROM apps WHERE author_user = 0 AND id <> 0)
    AND NOT EXISTS (SELECT 1 FROM updates u2 WHERE u2.app = updates.app AND u2.version_name = updates.version_name
                    AND u2.reversion < updates.reversion);
INSERT INTO app_stores (app, store) SELECT id, 'websoft9' FROM apps WHERE author_user = 0 AND id <> 0;
UPDATE apps SET meta_store = 'websoft9' WHERE author_user = 0 AND id <> 0;

-- +goose Down
DROP TABLE app_icons;
DROP INDEX app_categories_category;
DROP TABLE app_categories;
DROP TABLE app_stores;
ALTER TABLE apps DROP COLUMN meta_store;
ALTER TABLE apps DROP COLUMN hidden;
ALTER TABLE apps DROP COLUMN architectures;
ALTER TABLE apps DROP COLUMN homepage;
ALTER TABLE apps DROP COLUMN tagline;
DROP INDEX updates_store_version;
ALTER TABLE updates DROP COLUMN store;
