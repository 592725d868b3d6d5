package auth

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/store"
)

// An API token is TokenPrefix, a public id of tokenIDLen characters (the lookup key, shown in lists and the audit
// log) and a secret of tokenSecretLen characters, all from crypto/rand. Only the argon2id hash of the secret is
// stored.
const (
	TokenPrefix    = "shk_"
	tokenIDLen     = 12
	tokenSecretLen = 32
)

// MaxTokenLife bounds expires_in.
const MaxTokenLife = 5 * 365 * 24 * time.Hour

// TokenView is a token as lists show it: never the token itself.
type TokenView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []Scope    `json:"scopes"`
	Owner     int64      `json:"owner"` // the user; 0 for the admin
	Created   time.Time  `json:"created"`
	ExpiresAt *time.Time `json:"expires_at"` // null: never
	LastUsed  *time.Time `json:"last_used"`  // null: never
}

// NewToken is a token just created: the only time Token is shown.
type NewToken struct {
	TokenView
	Token string `json:"token"`
}

// CreateToken makes a token for a with the given scopes, living for life (0: until revoked). A token never
// holds more than its creator may use: each scope must be in a's role (and, when a is itself a token, in its
// scopes). The admin token's tokens belong to the admin (owner 0).
func (s *Service) CreateToken(ctx context.Context, a Actor, name string, scopes []string, life time.Duration) (nt *NewToken, err error) {
	defer func() {
		target := "token for " + strings.TrimSpace(name)
		if nt != nil {
			target = "token " + nt.ID + " (" + nt.Name + ") scopes " + strings.Join(scopeStrings(nt.Scopes), ",")
		}
		s.record(ctx, a, "token_create", target, err)
	}()
	if roleOf(a) == "" {
		return nil, apperr.New(apperr.Unauthorized, "Unauthorized: sign in, or send the admin token or an API token")
	}
	if !a.Enabled {
		return nil, apperr.New(apperr.Forbidden, "User %d is disabled", a.UID)
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return nil, apperr.Field(apperr.Invalid, "name", "name the token (1 to 100 characters), e.g. the script that uses it")
	}
	sc, err := ParseScopes(scopes)
	if err != nil {
		return nil, err
	}
	for _, x := range sc {
		if err := Can(a, x); err != nil {
			return nil, apperr.Field(apperr.Forbidden, "scopes", "you cannot give a token scope %s: %s", x, apperr.As(err).Message)
		}
	}
	if life < 0 || life > MaxTokenLife {
		return nil, apperr.Field(apperr.Invalid, "expires_in", "expires_in must be between 1m and %v (e.g. 720h), or empty for no expiry", MaxTokenLife)
	}
	id, err := RandomString(tokenIDLen, Alphanumeric)
	if err != nil {
		return nil, err
	}
	secret, err := RandomString(tokenSecretLen, Alphanumeric)
	if err != nil {
		return nil, err
	}
	hash, err := s.Hash(secret)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	t := &store.APIToken{ID: id, UID: a.UID, Name: name, Scopes: scopeStrings(sc), Hash: hash, CreatedAt: now.UnixMilli()}
	if life > 0 {
		t.ExpiresAt = now.Add(life).UnixMilli()
	}
	if err := s.store.Q().CreateToken(ctx, t); err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	return &NewToken{TokenView: viewToken(*t), Token: TokenPrefix + id + secret}, nil
}

// Tokens lists a's own tokens (the admin token's: those of owner 0).
func (s *Service) Tokens(ctx context.Context, a Actor) ([]TokenView, error) {
	if roleOf(a) == "" {
		return nil, apperr.New(apperr.Unauthorized, "Unauthorized: sign in, or send the admin token or an API token")
	}
	ts, err := s.store.Q().Tokens(ctx, a.UID)
	if err != nil {
		return nil, err
	}
	out := make([]TokenView, len(ts))
	for i, t := range ts {
		out[i] = viewToken(t)
	}
	return out, nil
}

// RevokeToken deletes a token of a's; an admin may revoke anybody's. It stops working at once.
func (s *Service) RevokeToken(ctx context.Context, a Actor, id string) (owner int64, err error) {
	defer func() { s.record(ctx, a, "token_revoke", "token "+id, err) }()
	if roleOf(a) == "" {
		return 0, apperr.New(apperr.Unauthorized, "Unauthorized: sign in, or send the admin token or an API token")
	}
	t, err := s.store.Q().TokenWithOwner(ctx, id)
	if err == nil && t.UID != a.UID {
		if IsAdmin(a) {
			err = nil
		} else {
			err = store.ErrNotFound // somebody else's token is, to this caller, no token
		}
	}
	if err == nil {
		err = s.store.Q().DeleteToken(ctx, t.UID, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return 0, apperr.Field(apperr.NotFound, "id", "you have no token %q", id)
	}
	if err != nil {
		return 0, fmt.Errorf("revoke token %s: %w", id, err)
	}
	s.tokMu.Lock()
	delete(s.tokCache, id)
	s.tokMu.Unlock()
	return t.UID, nil
}

// tokenActor resolves an API token. The row is read on every request, so a revoked or expired token, or an owner
// disabled or demoted, takes effect at once; only the argon2id check of the secret is cached.
func (s *Service) tokenActor(ctx context.Context, c Credentials) (Actor, error) {
	bad := apperr.New(apperr.Unauthorized, "Unauthorized: the API token is not valid (revoked, mistyped or never issued)")
	if err := s.checkLimit("addr:" + c.Client); err != nil {
		return Actor{}, err
	}
	rest := strings.TrimPrefix(c.Token, TokenPrefix)
	if len(rest) != tokenIDLen+tokenSecretLen {
		s.limiter.Fail("addr:" + c.Client)
		return Actor{}, bad
	}
	id, secret := rest[:tokenIDLen], rest[tokenIDLen:]
	t, err := s.store.Q().TokenWithOwner(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		s.limiter.Fail("addr:" + c.Client)
		return Actor{}, bad
	}
	if err != nil {
		return Actor{}, err
	}
	if !s.tokenVerified(id, secret) {
		ok, err := Verify(secret, t.Hash)
		if err != nil {
			return Actor{}, fmt.Errorf("verify token %s: %w", id, err)
		}
		if !ok {
			s.limiter.Fail("addr:" + c.Client)
			return Actor{}, bad
		}
		s.rememberToken(id, secret)
	}
	now := s.clock().UnixMilli()
	if t.ExpiresAt != 0 && now >= t.ExpiresAt {
		return Actor{}, apperr.New(apperr.Unauthorized, "Unauthorized: the API token expired; create a new one")
	}
	a := Actor{UID: t.UID, TokenID: id, Scopes: SetOf(toScopes(t.Scopes)...), Enabled: true, Role: RoleAdmin}
	if t.UID != 0 {
		if !t.OwnerExists {
			return Actor{}, bad
		}
		a.User, a.Enabled, a.Role = true, t.OwnerEnabled, Role(t.OwnerRole)
	}
	if now-t.LastUsedAt > touchEvery.Milliseconds() {
		if err := s.store.Q().TouchToken(ctx, id, now); err != nil {
			return Actor{}, err
		}
	}
	return a, nil
}

func (s *Service) tokenVerified(id, secret string) bool {
	d := s.digest(secret)
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	c, ok := s.tokCache[id]
	return ok && time.Now().Before(c.expires) && hmac.Equal(c.digest, d)
}

func (s *Service) rememberToken(id, secret string) {
	d := s.digest(secret)
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	s.tokCache[id] = cached{digest: d, expires: time.Now().Add(verifiedTTL)}
}

func viewToken(t store.APIToken) TokenView {
	v := TokenView{ID: t.ID, Name: t.Name, Scopes: toScopes(t.Scopes), Owner: t.UID,
		Created: time.UnixMilli(t.CreatedAt).UTC()}
	if t.ExpiresAt != 0 {
		e := time.UnixMilli(t.ExpiresAt).UTC()
		v.ExpiresAt = &e
	}
	if t.LastUsedAt != 0 {
		u := time.UnixMilli(t.LastUsedAt).UTC()
		v.LastUsed = &u
	}
	return v
}

func toScopes(ss []string) []Scope {
	out := make([]Scope, len(ss))
	for i, s := range ss {
		out[i] = Scope(s)
	}
	return out
}

func scopeStrings(sc []Scope) []string {
	out := make([]string, len(sc))
	for i, s := range sc {
		out[i] = string(s)
	}
	return out
}

// ParseLife reads a token's lifetime: a Go duration (720h) or a number of days (30d); empty is no expiry.
func ParseLife(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err = fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days {
			d = time.Duration(n) * 24 * time.Hour
		} else {
			err = errors.New("bad days")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < time.Minute || d > MaxTokenLife {
		return 0, apperr.Field(apperr.Invalid, "expires_in", "%q is not a lifetime: use a duration such as 720h or 30d, from 1m to 5 years", s)
	}
	return d, nil
}

// Recorder is the audit log's Record, which this package cannot import.
type Recorder func(ctx context.Context, a Actor, action, target string, err error)

// SetRecorder makes token creation and revocation go to the audit log.
func (s *Service) SetRecorder(r Recorder) { s.recorder = r }

func (s *Service) record(ctx context.Context, a Actor, action, target string, err error) {
	if s.recorder != nil {
		s.recorder(ctx, a, action, target, err)
	}
}
