package store

import (
	"context"
	"fmt"
)

// User is a GeekApk user; JSON names follow the contract.
type User struct {
	ID           int64   `json:"id"`
	SimpleName   string  `json:"simple_name"`
	AvatarURL    *string `json:"avatar_url"`
	Name         string  `json:"name"`
	Alias        *string `json:"alias"`
	Github       *string `json:"github"`
	Bio          string  `json:"bio"`
	DevBio       *string `json:"dev_bio"`
	CreatedAt    int64   `json:"created_at"`
	OnlineAt     int64   `json:"online_at"`
	FollowersNum int64   `json:"followers_num"`
	Enabled      bool    `json:"enabled"`
	Role         string  `json:"-"` // admin, operator or member (docs/accounts.md); not part of the GeekApk contract
}

// Security holds a user's credential hashes. Passhash is nil until the user sets a password.
type Security struct {
	Metapass string
	Passhash *string
}

const userCols = `id, simple_name, avatar_url, user_name, alias, github, bio, dev_bio, created_at, online_at,
	followers_num, enabled, role`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	err := row.Scan(&u.ID, &u.SimpleName, &u.AvatarURL, &u.Name, &u.Alias, &u.Github, &u.Bio, &u.DevBio,
		&u.CreatedAt, &u.OnlineAt, &u.FollowersNum, &u.Enabled, &u.Role)
	if err != nil {
		return nil, mapErr(err)
	}
	return &u, nil
}

// userSorts maps the contract's sort keys to columns.
var userSorts = map[string]string{"ctime": "created_at", "otime": "online_at", "followers": "followers_num", "id": "id"}

// userSearchFields maps the contract's search modes to columns.
var userSearchFields = map[string]string{
	"sname": "simple_name", "name": "user_name", "alias": "alias", "github": "github", "bio": "bio",
	"dev_bio": "dev_bio",
}

// CreateUser inserts u (its ID and CreatedAt are set) with its metapass hash.
func (q *Q) CreateUser(ctx context.Context, u *User, metapassHash string) error {
	err := q.db.QueryRowContext(ctx, `INSERT INTO users (simple_name, avatar_url, user_name, alias, github, bio,
		dev_bio, created_at, online_at, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		u.SimpleName, u.AvatarURL, u.Name, u.Alias, u.Github, u.Bio, u.DevBio, u.CreatedAt, u.OnlineAt, u.Enabled).
		Scan(&u.ID)
	if err != nil {
		return fmt.Errorf("insert user: %w", mapErr(err))
	}
	if _, err := q.exec(ctx, `INSERT INTO security (uid, metapass) VALUES ($1, $2)`, u.ID, metapassHash); err != nil {
		return fmt.Errorf("insert security: %w", err)
	}
	return nil
}

// User loads one user.
func (q *Q) User(ctx context.Context, id int64) (*User, error) {
	u, err := scanUser(q.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// UserExists reports whether uid names a user.
func (q *Q) UserExists(ctx context.Context, id int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM users WHERE id = $1`, id)
}

// UserIDs lists user ids, the system user excluded.
func (q *Q) UserIDs(ctx context.Context, s Sort, p Page) ([]int64, error) {
	ob, err := orderBy(userSorts, s, "id")
	if err != nil {
		return nil, err
	}
	return q.pagedIDs(ctx, p, `SELECT id FROM users WHERE id <> 0`+ob)
}

// SearchUsers lists users whose field contains keyword, case-insensitively.
func (q *Q) SearchUsers(ctx context.Context, field, keyword string, s Sort, p Page) ([]int64, error) {
	col, ok := userSearchFields[field]
	if !ok {
		return nil, fmt.Errorf("search field %q: %w", field, ErrInvalid)
	}
	ob, err := orderBy(userSorts, s, "id")
	if err != nil {
		return nil, err
	}
	return q.searchIDs(ctx, p, `SELECT id FROM users WHERE id <> 0 AND fold(`+col+`) LIKE $1 ESCAPE '\'`+ob,
		likePattern(keyword))
}

// UpdateUser writes u's editable profile fields.
func (q *Q) UpdateUser(ctx context.Context, u *User) error {
	return q.execOne(ctx, `UPDATE users SET simple_name = $2, avatar_url = $3, user_name = $4, alias = $5,
		github = $6, bio = $7, dev_bio = $8 WHERE id = $1`,
		u.ID, u.SimpleName, u.AvatarURL, u.Name, u.Alias, u.Github, u.Bio, u.DevBio)
}

// ToggleUserEnabled flips enabled and returns the new state.
func (q *Q) ToggleUserEnabled(ctx context.Context, id int64) (bool, error) {
	var enabled bool
	err := q.db.QueryRowContext(ctx, `UPDATE users SET enabled = NOT enabled WHERE id = $1 AND id <> 0
		RETURNING enabled`, id).Scan(&enabled)
	return enabled, mapErr(err)
}

// SetOnline records the time the user was last seen.
func (q *Q) SetOnline(ctx context.Context, id, ms int64) error {
	return q.execOne(ctx, `UPDATE users SET online_at = $2 WHERE id = $1`, id, ms)
}

// DeleteUser removes the user, their credentials, follows, stars and notifications, and corrects every counter
// those rows fed. Apps, updates, comments and timeline rows stay with the dangling uid.
func (q *Q) DeleteUser(ctx context.Context, id int64) error {
	steps := []string{
		`UPDATE users SET followers_num = followers_num - 1
			WHERE id IN (SELECT followed_user FROM follow WHERE uid = $1)`,
		`UPDATE apps SET stars_num = stars_num - 1 WHERE id IN (SELECT app FROM stars WHERE uid = $1)`,
		`UPDATE comments SET stars_num = stars_num - 1
			WHERE id IN (SELECT comment FROM comment_stars WHERE uid = $1)`,
	}
	for _, st := range steps {
		if _, err := q.exec(ctx, st, id); err != nil {
			return fmt.Errorf("delete user %d: %w", id, err)
		}
	}
	if err := q.execOne(ctx, `DELETE FROM users WHERE id = $1 AND id <> 0`, id); err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return nil
}

// UserIDsBySimpleName maps the given simple names to the ids of existing, enabled users.
func (q *Q) UserIDsBySimpleName(ctx context.Context, names []string) ([]int64, error) {
	if len(names) == 0 {
		return nil, nil
	}
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	return queryRows(ctx, q.raw, scanID, `SELECT id FROM users WHERE id <> 0 AND simple_name IN (`+
		placeholders(1, len(names))+`) ORDER BY id`, args...)
}

// Security loads a user's credential hashes.
func (q *Q) Security(ctx context.Context, uid int64) (*Security, error) {
	var s Security
	err := q.db.QueryRowContext(ctx, `SELECT metapass, passhash FROM security WHERE uid = $1`, uid).
		Scan(&s.Metapass, &s.Passhash)
	if err != nil {
		return nil, fmt.Errorf("security of %d: %w", uid, mapErr(err))
	}
	return &s, nil
}

// SetMetapass replaces a user's metapass hash.
func (q *Q) SetMetapass(ctx context.Context, uid int64, hash string) error {
	return q.execOne(ctx, `UPDATE security SET metapass = $2 WHERE uid = $1`, uid, hash)
}

// SetPasshash replaces a user's passhash hash.
func (q *Q) SetPasshash(ctx context.Context, uid int64, hash string) error {
	return q.execOne(ctx, `UPDATE security SET passhash = $2 WHERE uid = $1`, uid, hash)
}
