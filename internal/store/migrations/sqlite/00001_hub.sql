-- +goose Up
-- The GeekApk community schema. Times are UTC epoch milliseconds.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    simple_name   TEXT    NOT NULL UNIQUE,
    avatar_url    TEXT,
    user_name     TEXT    NOT NULL DEFAULT '',
    alias         TEXT,
    github        TEXT,
    bio           TEXT    NOT NULL DEFAULT '',
    dev_bio       TEXT,
    created_at    INTEGER NOT NULL,
    online_at     INTEGER NOT NULL,
    followers_num INTEGER NOT NULL DEFAULT 0,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX users_created ON users (created_at);
CREATE INDEX users_online ON users (online_at);

-- One row per user; both credentials are argon2id hashes, never clear text.
CREATE TABLE security (
    uid      INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    metapass TEXT NOT NULL,
    passhash TEXT
);

CREATE TABLE categories (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    category_name   TEXT NOT NULL,
    parent_category INTEGER REFERENCES categories (id)
);

-- author_user has no foreign key: a deleted user's apps stay and keep the uid.
CREATE TABLE apps (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    author_user     INTEGER NOT NULL,
    category        INTEGER REFERENCES categories (id),
    package_name    TEXT UNIQUE,
    app_name        TEXT    NOT NULL,
    alias           TEXT,
    icon_url        TEXT,
    app_description TEXT    NOT NULL DEFAULT '',
    visualizer      TEXT,
    button_text     TEXT,
    special         TEXT,
    previews        TEXT,
    app_permissions TEXT,
    size            INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    stars_num       INTEGER NOT NULL DEFAULT 0,
    comments_num    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX apps_author ON apps (author_user);
CREATE INDEX apps_category ON apps (category);
CREATE INDEX apps_updated ON apps (updated_at, id);

CREATE TABLE updates (
    app          INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    reversion    INTEGER NOT NULL,
    version_name TEXT    NOT NULL DEFAULT '',
    install_url  TEXT    NOT NULL DEFAULT '',
    updates      TEXT    NOT NULL DEFAULT '',
    api_min      INTEGER,
    api_target   INTEGER,
    stack        TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (app, reversion)
);

-- reply_comment has no foreign key: deletion re-points and moves subtrees itself.
CREATE TABLE comments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    author_user   INTEGER NOT NULL,
    app           INTEGER NOT NULL REFERENCES apps (id),
    reply_comment INTEGER,
    content       TEXT    NOT NULL,
    stars_num     INTEGER NOT NULL DEFAULT 0,
    replies_num   INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER
);
CREATE INDEX comments_app ON comments (app, created_at);
CREATE INDEX comments_reply ON comments (reply_comment);
CREATE INDEX comments_author ON comments (author_user, created_at);
CREATE INDEX comments_created ON comments (created_at, id);

CREATE TABLE follow (
    uid           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followed_user INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (uid, followed_user)
);
CREATE INDEX follow_followed ON follow (followed_user);

CREATE TABLE stars (
    uid INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    PRIMARY KEY (uid, app)
);
CREATE INDEX stars_app ON stars (app);

CREATE TABLE comment_stars (
    uid     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    comment INTEGER NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    PRIMARY KEY (uid, comment)
);
CREATE INDEX comment_stars_comment ON comment_stars (comment);

-- Timeline rows outlive their user, as apps and comments do.
CREATE TABLE timelines (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    uid        INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    line_type  INTEGER NOT NULL,
    line_data  INTEGER NOT NULL
);
CREATE INDEX timelines_uid ON timelines (uid, created_at);
CREATE INDEX timelines_created ON timelines (created_at);

-- A notification is addressed by (uid, created_at); enabled means "read".
CREATE TABLE notifications (
    uid               INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at        INTEGER NOT NULL,
    notification_type INTEGER NOT NULL,
    notification_data INTEGER NOT NULL,
    enabled           BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (uid, created_at)
);

-- The system user (uid 0) owns app 0, "Deleted comments"; it has no credentials and cannot log in.
INSERT INTO users (id, simple_name, user_name, bio, created_at, online_at, enabled)
VALUES (0, 'system', 'System', 'Owner of app 0', 0, 0, FALSE);
INSERT INTO apps (id, author_user, app_name, app_description, created_at, updated_at)
VALUES (0, 0, 'Deleted comments', 'Comments whose app or parent was deleted', 0, 0);

-- +goose Down
DROP TABLE notifications;
DROP TABLE timelines;
DROP TABLE comment_stars;
DROP TABLE stars;
DROP TABLE follow;
DROP TABLE comments;
DROP TABLE updates;
DROP TABLE apps;
DROP TABLE categories;
DROP TABLE security;
DROP TABLE users;
