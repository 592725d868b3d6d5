package auth

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/store"
)

// TOTP parameters: RFC 6238's defaults, the only ones every authenticator app reads from a QR code.
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	// totpSkew accepts the codes of the step before and after the current one: phones' clocks drift.
	totpSkew = 1
	// recoveryCount codes are issued at once; each works once.
	recoveryCount = 10
)

// TOTPCode is the RFC 6238 code of a base32 secret at time t (SHA-1, 30-second steps) with digits digits.
func TOTPCode(secret string, t time.Time, digits otp.Digits) (string, error) {
	return stepCode(secret, t.Unix()/totpPeriod, digits)
}

// stepCode is the code of a base32 secret for one time step: HOTP (RFC 4226) of the step number, SHA-1.
func stepCode(secret string, step int64, digits otp.Digits) (string, error) {
	return hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: digits, Algorithm: otp.AlgorithmSHA1})
}

// Enrolment is what a user needs to add StackHub to an authenticator app. It is shown once, while the secret
// is not confirmed; afterwards the secret never leaves the server.
type Enrolment struct {
	Secret string `json:"secret" doc:"the base32 secret, for typing into an app"`
	URI    string `json:"uri" doc:"the otpauth:// URI the QR code holds"`
	QR     string `json:"qr" doc:"the QR code as a PNG data URL"`
}

// BeginTOTP makes a new TOTP secret for the signed-in user; it works once confirmed with a code
// (ConfirmTOTP). A user whose TOTP is on must disable it first.
func (s *Service) BeginTOTP(ctx context.Context, a Actor) (*Enrolment, error) {
	u, err := s.accountUser(ctx, a)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "StackHub", AccountName: u.SimpleName, Period: totpPeriod,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, SecretSize: 20})
	if err != nil {
		return nil, fmt.Errorf("totp secret: %w", err)
	}
	err = s.store.Q().PutTOTP(ctx, u.ID, key.Secret(), time.Now().UnixMilli())
	if errors.Is(err, store.ErrConflict) {
		return nil, apperr.New(apperr.Conflict, "two-step sign-in is already on; disable it first to set up a new authenticator")
	}
	if err != nil {
		return nil, err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, fmt.Errorf("totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp qr code: %w", err)
	}
	return &Enrolment{Secret: key.Secret(), URI: key.URL(),
		QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// ConfirmTOTP turns on the secret BeginTOTP made once code shows the app holds it, and returns the ten recovery
// codes, which are never shown again.
func (s *Service) ConfirmTOTP(ctx context.Context, a Actor, code, client string) ([]string, error) {
	u, err := s.accountUser(ctx, a)
	if err != nil {
		return nil, err
	}
	t, err := s.store.Q().TOTP(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.Confirmed) {
		return nil, apperr.New(apperr.Conflict, "there is no authenticator waiting for confirmation; enable two-step sign-in first")
	}
	if err != nil {
		return nil, err
	}
	return s.recoveryCodesFor(ctx, u.ID, t, code, client)
}

// DisableTOTP turns TOTP off (and drops the recovery codes) after a current code or the password.
func (s *Service) DisableTOTP(ctx context.Context, a Actor, code, password, client string) error {
	u, err := s.accountUser(ctx, a)
	if err != nil {
		return err
	}
	if err := s.proveTOTPOrPassword(ctx, u.ID, code, password, client); err != nil {
		return err
	}
	return s.store.Q().DeleteTOTP(ctx, u.ID)
}

// RegenerateRecoveryCodes replaces the user's recovery codes after a current TOTP code.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, a Actor, code, client string) ([]string, error) {
	u, err := s.accountUser(ctx, a)
	if err != nil {
		return nil, err
	}
	t, err := s.confirmedTOTP(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return s.recoveryCodesFor(ctx, u.ID, t, code, client)
}

// recoveryCodesFor accepts code and gives uid ten new recovery codes: the step is recorded (which confirms a new
// secret) and the codes replaced in one transaction, so TOTP is never on without its codes. The codes are hashed
// only once the code matched.
func (s *Service) recoveryCodesFor(ctx context.Context, uid int64, t *store.TOTP, code, client string) ([]string, error) {
	step, err := s.matchTOTP(uid, t, code, client)
	if err != nil {
		return nil, err
	}
	codes, hashes, err := s.newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	err = s.useStep(ctx, uid, step, client, func(q *store.Q) error { return q.SetRecoveryCodes(ctx, uid, hashes) })
	if err != nil {
		return nil, err
	}
	return codes, nil
}

func (s *Service) proveTOTPOrPassword(ctx context.Context, uid int64, code, password, client string) error {
	if strings.TrimSpace(code) == "" {
		if password == "" {
			return apperr.Field(apperr.Invalid, "code", "enter a current code from your authenticator app, or your password")
		}
		if err := s.CheckPasshash(ctx, uid, PasshashOf(password), client); err != nil {
			if apperr.Is(err, apperr.Unauthorized) {
				return apperr.Field(apperr.Unauthorized, "password", "wrong password")
			}
			return err
		}
		return nil
	}
	t, err := s.confirmedTOTP(ctx, uid)
	if err != nil {
		return err
	}
	return s.checkTOTP(ctx, uid, t, code, client)
}

func (s *Service) confirmedTOTP(ctx context.Context, uid int64) (*store.TOTP, error) {
	t, err := s.store.Q().TOTP(ctx, uid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !t.Confirmed) {
		return nil, apperr.New(apperr.Conflict, "two-step sign-in is off for this account")
	}
	return t, err
}

// checkTOTP accepts code if it is the code of the current step (or one step either side) and no code of that
// step or a later one was accepted before. Failures count against the user and the address.
func (s *Service) checkTOTP(ctx context.Context, uid int64, t *store.TOTP, code, client string) error {
	step, err := s.matchTOTP(uid, t, code, client)
	if err != nil {
		return err
	}
	return s.useStep(ctx, uid, step, client, nil)
}

// matchTOTP finds the step of code, refusing (and counting) a wrong code or one of a step already used.
func (s *Service) matchTOTP(uid int64, t *store.TOTP, code, client string) (int64, error) {
	keys := totpKeys(uid, client)
	if err := s.checkLimit(keys...); err != nil {
		return 0, err
	}
	step, ok := matchStep(t.Secret, strings.Join(strings.Fields(code), ""), s.clock())
	if !ok {
		s.limiter.Fail(keys...)
		return 0, apperr.Field(apperr.Unauthorized, "code", "wrong code; check your authenticator app's clock")
	}
	if step <= t.LastStep {
		s.limiter.Fail(keys...)
		return 0, errCodeUsed()
	}
	return step, nil
}

// useStep records step as uid's last used one, and runs also (if any) in the same transaction. Another request
// that used this step first wins: this one is refused.
func (s *Service) useStep(ctx context.Context, uid, step int64, client string, also func(*store.Q) error) error {
	fresh := false
	err := s.store.Tx(ctx, func(q *store.Q) error {
		var err error
		if fresh, err = q.UseTOTPStep(ctx, uid, step); err != nil || !fresh || also == nil {
			return err
		}
		return also(q)
	})
	if err != nil {
		return err
	}
	keys := totpKeys(uid, client)
	if !fresh {
		s.limiter.Fail(keys...)
		return errCodeUsed()
	}
	s.limiter.Reset(keys[1])
	return nil
}

// totpKeys are the limiter's keys of a second-factor check: the address and the user.
func totpKeys(uid int64, client string) []string {
	return []string{"addr:" + client, "2fa:" + strconv.FormatInt(uid, 10)}
}

func errCodeUsed() error {
	return apperr.Field(apperr.Unauthorized, "code", "this code was already used; wait for the next one")
}

// matchStep finds the step within the skew whose code is code, comparing in constant time.
func matchStep(secret, code string, now time.Time) (int64, bool) {
	if len(code) != int(totpDigits) {
		return 0, false
	}
	cur := now.Unix() / totpPeriod
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := stepCode(secret, step, totpDigits)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// recoveryAlphabet has no look-alikes (0/o, 1/l/i): the codes are read off paper.
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// newRecoveryCodes makes ten fresh recovery codes and their argon2id hashes (the project's, hash.go). Ten hashes
// are checked at most when one is used, which is rare; the codes carry 50 bits each, and a slow hash keeps a copy
// of the database from giving them away.
func (s *Service) newRecoveryCodes() (codes, hashes []string, err error) {
	codes = make([]string, recoveryCount)
	hashes = make([]string, recoveryCount)
	for i := range codes {
		c, err := RandomString(10, recoveryAlphabet)
		if err != nil {
			return nil, nil, err
		}
		codes[i] = c[:5] + "-" + c[5:]
		if hashes[i], err = s.Hash(c); err != nil {
			return nil, nil, err
		}
	}
	return codes, hashes, nil
}

// useRecoveryCode spends one of uid's recovery codes; false when code is none of the unused ones.
func (s *Service) useRecoveryCode(ctx context.Context, uid int64, code string) (bool, error) {
	code = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	if len(code) != 10 {
		return false, nil
	}
	codes, err := s.store.Q().UnusedRecoveryCodes(ctx, uid)
	if err != nil {
		return false, err
	}
	for _, c := range codes {
		ok, err := Verify(code, c.Hash)
		if err != nil {
			return false, fmt.Errorf("recovery code of %d: %w", uid, err)
		}
		if ok {
			return s.store.Q().UseRecoveryCode(ctx, uid, c.N, time.Now().UnixMilli())
		}
	}
	return false, nil
}

// accountUser is the signed-in user whose account a second-factor operation changes: the admin (token) has no
// account, and a disabled user may not change theirs.
func (s *Service) accountUser(ctx context.Context, a Actor) (*store.User, error) {
	if !a.User {
		return nil, apperr.New(apperr.Unauthorized, "sign in as a user: second factors belong to a user's account")
	}
	if !a.Enabled {
		return nil, apperr.New(apperr.Forbidden, "this account is disabled; ask the admin")
	}
	u, err := s.store.Q().User(ctx, a.UID)
	if err != nil {
		return nil, unauthorizedOr(err)
	}
	return u, nil
}
