-- +goose Up
-- Every list query orders by its key and then the id (or the other half of a pair): these indexes end with the
-- same columns, so an index scan returns a page already in order and stops after it, instead of sorting every
-- row of the parent (PostgreSQL's generic plans for LIMIT $n cannot assume a small page). A SQLite index already
-- ends with the rowid, which is the id of the id-keyed tables, so there mostly the pair tables (follow, stars,
-- comment_stars) gain; both dialects get the same logical indexes all the same.
-- Columns that change on every comment or star (comments_num, stars_num, replies_num) stay unindexed, so those
-- counter updates stay cheap (HOT updates on PostgreSQL).
-- Note: CREATE INDEX locks the table against writes while it builds; on a large hub, expect a short pause.
DROP INDEX IF EXISTS comments_app;
CREATE INDEX comments_app ON comments (app, created_at, id);
DROP INDEX IF EXISTS comments_author;
CREATE INDEX comments_author ON comments (author_user, created_at, id);
DROP INDEX IF EXISTS comments_reply;
CREATE INDEX comments_reply ON comments (reply_comment, created_at, id);
DROP INDEX IF EXISTS apps_author;
CREATE INDEX apps_author ON apps (author_user, updated_at, id);
DROP INDEX IF EXISTS apps_category;
CREATE INDEX apps_category ON apps (category, id);
CREATE INDEX apps_created ON apps (created_at, id);
DROP INDEX IF EXISTS users_created;
CREATE INDEX users_created ON users (created_at, id);
DROP INDEX IF EXISTS users_online;
CREATE INDEX users_online ON users (online_at, id);
DROP INDEX IF EXISTS follow_followed;
CREATE INDEX follow_followed ON follow (followed_user, uid);
DROP INDEX IF EXISTS stars_app;
CREATE INDEX stars_app ON stars (app, uid);
DROP INDEX IF EXISTS comment_stars_comment;
CREATE INDEX comment_stars_comment ON comment_stars (comment, uid);
DROP INDEX IF EXISTS timelines_uid;
CREATE INDEX timelines_uid ON timelines (uid, created_at, id);
DROP INDEX IF EXISTS timelines_created;
CREATE INDEX timelines_created ON timelines (created_at, id);

-- +goose Down
DROP INDEX apps_created;
DROP INDEX IF EXISTS timelines_created;
CREATE INDEX timelines_created ON timelines (created_at);
DROP INDEX IF EXISTS timelines_uid;
CREATE INDEX timelines_uid ON timelines (uid, created_at);
DROP INDEX IF EXISTS comment_stars_comment;
CREATE INDEX comment_stars_comment ON comment_stars (comment);
DROP INDEX IF EXISTS stars_app;
CREATE INDEX stars_app ON stars (app);
DROP INDEX IF EXISTS follow_followed;
CREATE INDEX follow_followed ON follow (followed_user);
DROP INDEX IF EXISTS users_online;
CREATE INDEX users_online ON users (online_at);
DROP INDEX IF EXISTS users_created;
CREATE INDEX users_created ON users (created_at);
DROP INDEX IF EXISTS apps_category;
CREATE INDEX apps_category ON apps (category);
DROP INDEX IF EXISTS apps_author;
CREATE INDEX apps_author ON apps (author_user);
DROP INDEX IF EXISTS comments_reply;
CREATE INDEX comments_reply ON comments (reply_comment);
DROP INDEX IF EXISTS comments_author;
CREATE INDEX comments_author ON comments (author_user, created_at);
DROP INDEX IF EXISTS comments_app;
CREATE INDEX comments_app ON comments (app, created_at);
