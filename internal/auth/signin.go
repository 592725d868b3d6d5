package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/store"
)

// PendingTTL is how long a sign-in whose password was right waits for its second factor.
const PendingTTL = 5 * time.Minute

// pendingSignIn is the auth_pending kind of a sign-in waiting for its second factor.
const pendingSignIn = "signin"

// SignIn is where a sign-in step left the browser: signed in (Session, the session cookie's value), or waiting
// for a second factor (Pending, the pending sign-in cookie's value, for CompleteSignIn or a passkey).
type SignIn struct {
	Session string
	Pending string
	Actor   Actor
}

// Factors are the second factors a user has, for the pages that ask for or manage them.
type Factors struct {
	TOTP          bool `json:"totp" doc:"an authenticator app's codes are on"`
	RecoveryCodes int  `json:"recovery_codes" doc:"unused recovery codes"`
	Passkeys      int  `json:"passkeys" doc:"registered passkeys"`
}

// SetClock replaces the clock of TOTP codes and token expiry (tests; nil restores the real one).
func (s *Service) SetClock(now func() time.Time) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.now = now
}

func (s *Service) clock() time.Time {
	s.cacheMu.Lock()
	now := s.now
	s.cacheMu.Unlock()
	if now == nil {
		return time.Now()
	}
	return now()
}

// HasSecondFactor tells whether uid has TOTP on or at least one passkey.
func (s *Service) HasSecondFactor(ctx context.Context, uid int64) (bool, error) {
	return s.store.Q().HasSecondFactor(ctx, uid)
}

// FactorsOf lists the second factors of uid.
func (s *Service) FactorsOf(ctx context.Context, uid int64) (Factors, error) {
	var f Factors
	t, err := s.store.Q().TOTP(ctx, uid)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return f, err
	}
	f.TOTP = err == nil && t.Confirmed
	if f.TOTP {
		codes, err := s.store.Q().UnusedRecoveryCodes(ctx, uid)
		if err != nil {
			return f, err
		}
		f.RecoveryCodes = len(codes)
	}
	keys, err := s.store.Q().Passkeys(ctx, uid)
	if err != nil {
		return f, err
	}
	f.Passkeys = len(keys)
	return f, nil
}

// secondStep is the one place where a sign-in whose first factor is proven (uid's password) becomes a session:
// at once for a user without a second factor; for a user with one, a pending sign-in that CompleteSignIn (a TOTP
// or recovery code) or FinishPasskeySignIn (a passkey) turns into the session.
func (s *Service) secondStep(ctx context.Context, uid int64, from Credentials) (SignIn, error) {
	need, err := s.HasSecondFactor(ctx, uid)
	if err != nil {
		return SignIn{}, fmt.Errorf("sign in %d: %w", uid, err)
	}
	if need {
		tok, err := s.newPending(ctx, pendingSignIn, uid, "")
		return SignIn{Pending: tok}, err
	}
	return s.signedIn(ctx, uid, from)
}

// signedIn opens the session of a user whose sign-in is complete; from is the request that completed it (its
// address and user agent are the session's).
func (s *Service) signedIn(ctx context.Context, uid int64, from Credentials) (SignIn, error) {
	u, err := s.store.Q().User(ctx, uid)
	if err != nil {
		return SignIn{}, unauthorizedOr(err)
	}
	tok, err := s.openSession(ctx, uid, "", from)
	if err != nil {
		return SignIn{}, err
	}
	return SignIn{Session: tok, Actor: Actor{UID: uid, User: true, Enabled: true, Role: Role(u.Role), Addr: from.Client}}, nil
}

// PendingFactors is the second factors the user of a pending sign-in may use; Unauthorized when it expired.
func (s *Service) PendingFactors(ctx context.Context, pending string) (Factors, error) {
	p, err := s.pending(ctx, pending, pendingSignIn)
	if err != nil {
		return Factors{}, err
	}
	return s.FactorsOf(ctx, p.UID)
}

// CompleteSignIn finishes a pending sign-in with a TOTP code or a recovery code. Wrong codes count against the
// user and the address; a code works once.
func (s *Service) CompleteSignIn(ctx context.Context, pending, code, client string) (SignIn, error) {
	p, err := s.pending(ctx, pending, pendingSignIn)
	if err != nil {
		return SignIn{}, err
	}
	code = strings.TrimSpace(code)
	if code == "" {
		return SignIn{}, apperr.Field(apperr.Invalid, "code", "enter the code from your authenticator app, or a recovery code")
	}
	if isDigits(code) {
		t, err := s.confirmedTOTP(ctx, p.UID)
		if err != nil {
			return SignIn{}, err
		}
		if err := s.checkTOTP(ctx, p.UID, t, code, client); err != nil {
			return SignIn{}, err
		}
	} else if err := s.checkRecoveryCode(ctx, p.UID, code, client); err != nil {
		return SignIn{}, err
	}
	return s.finishPending(ctx, pending, Credentials{Client: client})
}

// finishPending consumes a pending sign-in and opens its session; a second request with the same pending
// sign-in finds it gone.
func (s *Service) finishPending(ctx context.Context, pending string, from Credentials) (SignIn, error) {
	p, err := s.store.Q().TakePending(ctx, sessionID(pending), pendingSignIn, time.Now().UnixMilli())
	if errors.Is(err, store.ErrNotFound) {
		return SignIn{}, errPendingGone()
	}
	if err != nil {
		return SignIn{}, err
	}
	u, err := s.store.Q().User(ctx, p.UID)
	if err != nil {
		return SignIn{}, unauthorizedOr(err)
	}
	if !u.Enabled {
		return SignIn{}, apperr.Field(apperr.Forbidden, "login", "this account is disabled; ask the admin")
	}
	return s.signedIn(ctx, p.UID, from)
}

func (s *Service) checkRecoveryCode(ctx context.Context, uid int64, code, client string) error {
	keys := totpKeys(uid, client)
	if err := s.checkLimit(keys...); err != nil {
		return err
	}
	ok, err := s.useRecoveryCode(ctx, uid, code)
	if err != nil {
		return err
	}
	if !ok {
		s.limiter.Fail(keys...)
		return apperr.Field(apperr.Unauthorized, "code", "wrong or already used recovery code")
	}
	s.limiter.Reset(keys[1])
	return nil
}

func errPendingGone() error {
	return apperr.New(apperr.Unauthorized, "this sign-in expired; sign in again with your password")
}

// newPending stores short-lived state of kind for uid and returns the random value the browser keeps.
func (s *Service) newPending(ctx context.Context, kind string, uid int64, data string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("pending token: %w", err)
	}
	tok := hex.EncodeToString(b)
	err := s.store.Q().CreatePending(ctx, store.Pending{ID: sessionID(tok), Kind: kind, UID: uid, Data: data,
		ExpiresAt: time.Now().Add(PendingTTL).UnixMilli()})
	return tok, err
}

func (s *Service) pending(ctx context.Context, tok, kind string) (*store.Pending, error) {
	if len(tok) != 64 {
		return nil, errPendingGone()
	}
	p, err := s.store.Q().PendingOf(ctx, sessionID(tok), kind, time.Now().UnixMilli())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errPendingGone()
	}
	return p, err
}

func isDigits(s string) bool {
	s = strings.Join(strings.Fields(s), "")
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
