package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/store"
)

// Actor is who makes a request: the admin, a user, or (zero value) an anonymous caller. Ask Can what it may do.
type Actor struct {
	UID     int64
	Admin   bool // the admin token itself (the GeekApk contract's admin)
	User    bool // UID is a signed-in user (not through an API token of the admin)
	Enabled bool
	Role    Role     // the role at the time of the request; RoleAdmin for the admin token; "" when anonymous
	TokenID string   // the public id of the API token the request presented; "" for none
	Scopes  ScopeSet // the token's own scopes (Can also caps them by Role)
	Addr    string   // the client address, for the audit log
	// NeedsSecondFactor: --require-2fa holds for the role and the user has none yet; Can refuses everything
	// until they set one up (their account page and /api/v1/account stay open).
	NeedsSecondFactor bool
}

// Credentials are what a request presented; the front door fills them from its own transport.
type Credentials struct {
	Token    string // the admin token, from whichever place the transport allows
	UID      string // geekapk_uid
	Passhash string // geekapk_passhash
	Session  string // the web UI's session cookie; used only when no other credential is given
	Client   string // the client address, for rate limiting
	Agent    string // the User-Agent, kept with a new session
}

// Service checks credentials.
type Service struct {
	store    *store.Store
	params   Params
	token    []byte
	adminKey string // adminKeyOf(token), computed once: the token never changes after NewService
	limiter  RateLimiter
	cacheMu  sync.Mutex
	cache    map[int64]cached // uid → keyed digest of a passhash verified recently
	cacheKy  []byte
	tokMu    sync.Mutex
	tokCache map[string]cached // token id → keyed digest of a secret verified recently
	recorder Recorder
	now      func() time.Time // the clock of token expiry and TOTP; nil is time.Now; tests move it
	// require2FA is --require-2fa (RequireSecondFactor).
	require2FA atomic.Bool
}

type cached struct {
	digest  []byte
	expires time.Time
}

// verifiedTTL bounds how long a verified passhash skips argon2id; every write still checks the user row.
const verifiedTTL = 10 * time.Minute

var passhashRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// NewService returns a Service with the admin token, the hashing costs and a limiter of failed checks.
func NewService(st *store.Store, adminToken string, params Params, limiter RateLimiter) *Service {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand never fails on Linux; a zero key would only weaken the in-memory cache
	return &Service{store: st, params: params, token: []byte(adminToken), adminKey: adminKeyOf(adminToken),
		limiter: limiter, cache: map[int64]cached{}, cacheKy: key,
		tokCache: map[string]cached{}, now: time.Now}
}

// Authenticate resolves credentials to an actor. No credentials at all is the anonymous actor; wrong or partial
// credentials are Unauthorized; too many failures are RateLimited.
func (s *Service) Authenticate(ctx context.Context, c Credentials) (Actor, error) {
	a, err := s.authenticate(ctx, c)
	a.Addr = c.Client
	if err == nil && s.require2FA.Load() && a.UID > 0 && (a.Role == RoleOperator || a.Role == RoleAdmin) {
		has, ferr := s.HasSecondFactor(ctx, a.UID)
		if ferr != nil {
			return Actor{}, ferr
		}
		a.NeedsSecondFactor = !has
	}
	return a, err
}

// RequireSecondFactor is --require-2fa: operators and admin users must set up a second factor (TOTP or a passkey)
// before they can do anything but that.
func (s *Service) RequireSecondFactor(on bool) { s.require2FA.Store(on) }

func (s *Service) authenticate(ctx context.Context, c Credentials) (Actor, error) {
	if strings.HasPrefix(c.Token, TokenPrefix) {
		return s.tokenActor(ctx, c)
	}
	if c.Token != "" {
		if err := s.checkLimit("addr:"+c.Client, "admin"); err != nil {
			return Actor{}, err
		}
		if subtle.ConstantTimeCompare([]byte(c.Token), s.token) == 1 {
			return System, nil
		}
		s.limiter.Fail("addr:" + c.Client)
		return Actor{}, apperr.New(apperr.Unauthorized, "Unauthorized, check the admin token")
	}
	if c.UID == "" && c.Passhash == "" {
		return s.sessionActor(ctx, c.Session)
	}
	uid, err := strconv.ParseInt(c.UID, 10, 64)
	if err != nil || uid <= 0 || c.Passhash == "" {
		return Actor{}, apperr.New(apperr.Unauthorized, "Unauthorized, check geekapk_uid/geekapk_passhash")
	}
	if err := s.CheckPasshash(ctx, uid, c.Passhash, c.Client); err != nil {
		return Actor{}, err
	}
	u, err := s.store.Q().User(ctx, uid)
	if err != nil {
		return Actor{}, unauthorizedOr(err)
	}
	return Actor{UID: uid, User: true, Enabled: u.Enabled, Role: Role(u.Role)}, nil
}

// CheckPasshash verifies a user's passhash.
func (s *Service) CheckPasshash(ctx context.Context, uid int64, passhash, client string) error {
	passhash = strings.ToLower(passhash)
	if s.cacheHit(uid, passhash) {
		return nil
	}
	return s.check(ctx, uid, client, func(sec *store.Security) (bool, error) {
		if sec.Passhash == nil || !passhashRe.MatchString(passhash) {
			return false, nil
		}
		ok, err := Verify(passhash, *sec.Passhash)
		if ok {
			s.remember(uid, passhash)
		}
		return ok, err
	}, "Unauthorized, check geekapk_uid/geekapk_passhash")
}

// CheckMetapass verifies a user's metapass.
func (s *Service) CheckMetapass(ctx context.Context, uid int64, metapass, client string) error {
	return s.check(ctx, uid, client, func(sec *store.Security) (bool, error) {
		return Verify(metapass, sec.Metapass)
	}, "Unauthorized, wrong metapass")
}

// check runs one rate-limited credential comparison against the user's stored hashes.
func (s *Service) check(ctx context.Context, uid int64, client string, match func(*store.Security) (bool, error), msg string) error {
	keys := []string{"addr:" + client, "uid:" + strconv.FormatInt(uid, 10)}
	if err := s.checkLimit(keys...); err != nil {
		return err
	}
	sec, err := s.store.Q().Security(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		s.limiter.Fail(keys...)
		return apperr.New(apperr.Unauthorized, "%s", msg)
	}
	if err != nil {
		return fmt.Errorf("load credentials: %w", err)
	}
	ok, err := match(sec)
	if err != nil {
		return fmt.Errorf("verify credentials of %d: %w", uid, err)
	}
	if !ok {
		s.limiter.Fail(keys...)
		return apperr.New(apperr.Unauthorized, "%s", msg)
	}
	s.limiter.Reset(keys[1])
	return nil
}

func (s *Service) checkLimit(keys ...string) error {
	if blocked, wait := s.limiter.Blocked(keys...); blocked {
		return &apperr.Error{Kind: apperr.RateLimited, Message: "Too many failed attempts, try again later",
			RetryAfter: wait}
	}
	return nil
}

// SetPasshash sets a user's password credential after checking their metapass.
func (s *Service) SetPasshash(ctx context.Context, uid int64, metapass, passhash, client string) error {
	passhash = strings.ToLower(strings.TrimSpace(passhash))
	if !passhashRe.MatchString(passhash) {
		return apperr.Field(apperr.Invalid, "passhash", "passhash must be the lowercase hex SHA-256 of the password (64 characters)")
	}
	if ok, err := s.store.Q().UserExists(ctx, uid); err != nil {
		return fmt.Errorf("set passhash: %w", err)
	} else if !ok {
		return apperr.New(apperr.NotFound, "Resource was not found: user %d", uid)
	}
	if err := s.CheckMetapass(ctx, uid, metapass, client); err != nil {
		return err
	}
	hash, err := s.Hash(passhash)
	if err != nil {
		return err
	}
	if err := s.store.Q().SetPasshash(ctx, uid, hash); err != nil {
		return fmt.Errorf("set passhash of %d: %w", uid, err)
	}
	s.Forget(uid)
	if err := s.EndSessions(ctx, uid); err != nil {
		return fmt.Errorf("set passhash of %d: %w", uid, err)
	}
	return nil
}

// Hash hashes a credential with the service's costs.
func (s *Service) Hash(secret string) (string, error) { return s.params.Hash(secret) }

// Forget drops a user's cached verification, after their credentials change or they are deleted.
func (s *Service) Forget(uid int64) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	delete(s.cache, uid)
}

func (s *Service) digest(passhash string) []byte {
	m := hmac.New(sha256.New, s.cacheKy)
	m.Write([]byte(passhash))
	return m.Sum(nil)
}

func (s *Service) cacheHit(uid int64, passhash string) bool {
	d := s.digest(passhash)
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	c, ok := s.cache[uid]
	return ok && time.Now().Before(c.expires) && hmac.Equal(c.digest, d)
}

func (s *Service) remember(uid int64, passhash string) {
	d := s.digest(passhash)
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.cache[uid] = cached{digest: d, expires: time.Now().Add(verifiedTTL)}
}

func unauthorizedOr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.Unauthorized, "Unauthorized, check geekapk_uid/geekapk_passhash")
	}
	return err
}

// LoadOrCreateAdminToken returns the admin token stored in dataDir, creating a random one on first start.
// created tells the caller to print it once.
func LoadOrCreateAdminToken(dataDir string) (token string, created bool, err error) {
	path := filepath.Join(dataDir, "admin-token")
	b, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, false, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("read admin token: %w", err)
	}
	token, err = RandomString(32, Alphanumeric)
	if err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", false, fmt.Errorf("create data dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("write admin token: %w", err)
	}
	return token, true, nil
}
