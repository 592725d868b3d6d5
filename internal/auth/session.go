package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/store"
)

// SessionTTL is how long a browser stays signed in.
const SessionTTL = 30 * 24 * time.Hour

// PasshashOf derives a user's passhash from a typed password the way GeekApk clients do (SHA-256, lowercase
// hex), so the web UI and the API clients share one credential.
func PasshashOf(password string) string {
	sum := sha256.Sum256([]byte(password))
	return hex.EncodeToString(sum[:])
}

// SignInUser checks a user's password, then takes the second step (secondStep): a session, or for a user with a
// second factor a pending sign-in. login is the user's id or simple name. The answer is the same for an unknown
// user and a wrong password.
func (s *Service) SignInUser(ctx context.Context, login, password string, from Credentials) (SignIn, error) {
	client := from.Client
	login = strings.TrimSpace(login)
	if login == "" {
		return SignIn{}, apperr.Field(apperr.Invalid, "login", "enter your user name or id")
	}
	if password == "" {
		return SignIn{}, apperr.Field(apperr.Invalid, "password", "enter your password")
	}
	uid, err := s.lookupLogin(ctx, login)
	if err != nil {
		return SignIn{}, err
	}
	if uid <= 0 {
		s.limiter.Fail("addr:" + client)
		return SignIn{}, apperr.Field(apperr.Unauthorized, "password", "wrong user name or password")
	}
	if err := s.CheckPasshash(ctx, uid, PasshashOf(password), client); err != nil {
		if apperr.Is(err, apperr.Unauthorized) {
			return SignIn{}, apperr.Field(apperr.Unauthorized, "password", "wrong user name or password")
		}
		return SignIn{}, err
	}
	u, err := s.store.Q().User(ctx, uid)
	if err != nil {
		return SignIn{}, fmt.Errorf("sign in %d: %w", uid, err)
	}
	if !u.Enabled {
		return SignIn{}, apperr.Field(apperr.Forbidden, "login", "this account is disabled; ask the admin")
	}
	return s.secondStep(ctx, uid, from)
}

// SignInAdmin checks the admin token and opens an admin session.
func (s *Service) SignInAdmin(ctx context.Context, token string, from Credentials) (string, error) {
	client := from.Client
	if strings.TrimSpace(token) == "" {
		return "", apperr.Field(apperr.Invalid, "token", "enter the admin token (printed at the first start, kept in <data-dir>/admin-token)")
	}
	if _, err := s.Authenticate(ctx, Credentials{Token: strings.TrimSpace(token), Client: client}); err != nil {
		if apperr.Is(err, apperr.Unauthorized) {
			return "", apperr.Field(apperr.Unauthorized, "token", "wrong admin token")
		}
		return "", err
	}
	return s.openSession(ctx, 0, s.adminKey, from)
}

// SignOut ends the session behind a cookie value; an unknown value is not an error.
func (s *Service) SignOut(ctx context.Context, session string) error {
	if session == "" {
		return nil
	}
	return s.store.Q().DeleteSession(ctx, sessionID(session))
}

// EndSessions signs a user out everywhere (after a password change or when the account is disabled).
func (s *Service) EndSessions(ctx context.Context, uid int64) error {
	return s.store.Q().DeleteUserSessions(ctx, uid)
}

// PruneSessions deletes expired sessions and pending sign-ins.
func (s *Service) PruneSessions(ctx context.Context) error {
	now := time.Now().UnixMilli()
	if err := s.store.Q().DeleteExpiredPending(ctx, now); err != nil {
		return err
	}
	return s.store.Q().DeleteExpiredSessions(ctx, now)
}

func (s *Service) openSession(ctx context.Context, uid int64, adminKey string, from Credentials) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	tok := hex.EncodeToString(b)
	now := time.Now()
	err := s.store.Q().CreateSession(ctx, store.Session{ID: sessionID(tok), UID: uid, AdminKey: adminKey,
		CreatedAt: now.UnixMilli(), ExpiresAt: now.Add(SessionTTL).UnixMilli(), Address: from.Client,
		UserAgent: truncate(from.Agent, 300)})
	if err != nil {
		return "", err
	}
	return tok, nil
}

// sessionActor resolves a session cookie. An unknown or expired session is the anonymous actor: the browser
// simply is not signed in any more.
func (s *Service) sessionActor(ctx context.Context, session string) (Actor, error) {
	if len(session) != 64 {
		return Actor{}, nil
	}
	now := time.Now().UnixMilli()
	ss, err := s.store.Q().SessionUser(ctx, sessionID(session), now)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, nil
	}
	if err != nil {
		return Actor{}, err
	}
	if ss.AdminKey != "" {
		if subtle.ConstantTimeCompare([]byte(ss.AdminKey), []byte(s.adminKey)) != 1 {
			return Actor{}, nil // opened with an admin token that has since changed
		}
		return System, nil
	}
	if !ss.UserExists {
		return Actor{}, nil
	}
	if now-ss.LastSeenAt > touchEvery.Milliseconds() {
		if err := s.store.Q().TouchSession(ctx, sessionID(session), now); err != nil {
			return Actor{}, err
		}
	}
	return Actor{UID: ss.UID, User: true, Enabled: ss.UserEnabled, Role: Role(ss.UserRole)}, nil
}

func (s *Service) lookupLogin(ctx context.Context, login string) (int64, error) {
	if uid, err := strconv.ParseInt(login, 10, 64); err == nil {
		return uid, nil
	}
	ids, err := s.store.Q().UserIDsBySimpleName(ctx, []string{login})
	if err != nil {
		return 0, fmt.Errorf("look up %q: %w", login, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[0], nil
}

// adminKeyOf is a digest of the admin token, so that sessions die with the token they were opened with.
func adminKeyOf(token string) string {
	sum := sha256.Sum256([]byte("stackhub-admin-session:" + token))
	return hex.EncodeToString(sum[:])
}

func sessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// touchEvery is how stale a session's or token's last-seen time may get: one write a minute at most, not one
// per request.
const touchEvery = time.Minute

// SessionView is one of a user's sessions as GET /api/v1/sessions shows it.
type SessionView struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	Expires   time.Time `json:"expires"`
	Address   string    `json:"address"`
	UserAgent string    `json:"user_agent"`
	Current   bool      `json:"current"`
}

// Sessions lists a's sessions; current is the cookie of the request, to mark its session.
func (s *Service) Sessions(ctx context.Context, a Actor, current string) ([]SessionView, error) {
	if err := requireSignedUser(a); err != nil {
		return nil, err
	}
	ss, err := s.store.Q().UserSessions(ctx, a.UID, time.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	cur := ""
	if current != "" {
		cur = sessionID(current)
	}
	out := make([]SessionView, len(ss))
	for i, x := range ss {
		out[i] = SessionView{ID: x.ID, Created: time.UnixMilli(x.CreatedAt).UTC(),
			LastSeen: time.UnixMilli(x.LastSeenAt).UTC(), Expires: time.UnixMilli(x.ExpiresAt).UTC(),
			Address: x.Address, UserAgent: x.UserAgent, Current: x.ID == cur}
	}
	return out, nil
}

// EndSession ends one of a's sessions by the id Sessions shows.
func (s *Service) EndSession(ctx context.Context, a Actor, id string) error {
	if err := requireSignedUser(a); err != nil {
		return err
	}
	err := s.store.Q().DeleteUserSession(ctx, a.UID, id)
	if errors.Is(err, store.ErrNotFound) {
		return apperr.Field(apperr.NotFound, "id", "you have no session %q", id)
	}
	return err
}

// EndOtherSessions signs a out everywhere but the session of the current cookie.
func (s *Service) EndOtherSessions(ctx context.Context, a Actor, current string) error {
	if err := requireSignedUser(a); err != nil {
		return err
	}
	keep := ""
	if current != "" {
		keep = sessionID(current)
	}
	return s.store.Q().DeleteOtherSessions(ctx, a.UID, keep)
}

// requireSignedUser lets through a user acting for themselves (a session, the GeekApk cookies or their token).
func requireSignedUser(a Actor) error {
	if !a.User {
		if a.Role == "" {
			return apperr.New(apperr.Unauthorized, "Unauthorized: sign in as a user")
		}
		return apperr.New(apperr.Forbidden, "Only a user has sessions: sign in as a user")
	}
	a.NeedsSecondFactor = false // one's own sessions stay open while one sets up a second factor
	return Can(a, HubRead)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
