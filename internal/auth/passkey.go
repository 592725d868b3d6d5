package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/store"
)

// RelyingParty is who passkeys are made for: the RP ID (a host name, never an IP address) and the origin the
// browser must report (scheme://host[:port]). The front door derives it from the request (see reqauth).
type RelyingParty struct {
	ID     string
	Origin string
}

// Kinds of WebAuthn ceremony kept in auth_pending between their two requests.
const (
	ceremonyRegister = "passkey-register"
	ceremonySignIn   = "passkey-signin" // a passkey alone, no password
	ceremonySecond   = "passkey-second" // a passkey after the password
)

// PasskeyInfo is a registered passkey as its owner sees it.
type PasskeyInfo struct {
	ID         string `json:"id" doc:"the credential id (base64url)"`
	Name       string `json:"name"`
	CreatedAt  int64  `json:"created_at" doc:"epoch milliseconds"`
	LastUsedAt int64  `json:"last_used_at" doc:"epoch milliseconds; 0 when never used to sign in"`
}

// Ceremony is the first half of a WebAuthn ceremony: the options for navigator.credentials.create or get (the
// publicKey member), and the id the second half sends back.
type Ceremony struct {
	ID      string          `json:"ceremony" doc:"send it back with the browser's answer"`
	Options json.RawMessage `json:"options" doc:"PublicKeyCredentialCreationOptions or PublicKeyCredentialRequestOptions (JSON, binary fields base64url)"`
}

// waUser is a user as go-webauthn sees them.
type waUser struct {
	uid    int64
	handle []byte
	name   string
	creds  []webauthn.Credential
}

func (u *waUser) WebAuthnID() []byte                         { return u.handle }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.name }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// relyingParty checks rp and returns go-webauthn configured for it. Passkeys require user verification (a PIN
// or a biometric) because one may replace both the password and the second factor.
func relyingParty(rp RelyingParty) (*webauthn.WebAuthn, error) {
	w, err := webauthn.New(&webauthn.Config{RPID: rp.ID, RPDisplayName: "StackHub", RPOrigins: []string{rp.Origin},
		AuthenticatorSelection: protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationRequired}})
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "passkeys need the server reached by a host name (not an IP address) over HTTPS or at localhost; %q is not usable as a relying party", rp.ID)
	}
	return w, nil
}

// BeginPasskeyRegistration starts adding a passkey to the signed-in user's account.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, a Actor, rp RelyingParty) (*Ceremony, error) {
	u, err := s.accountUser(ctx, a)
	if err != nil {
		return nil, err
	}
	w, err := relyingParty(rp)
	if err != nil {
		return nil, err
	}
	wu, err := s.waUser(ctx, u.ID, u.SimpleName, true)
	if err != nil {
		return nil, err
	}
	creation, sd, err := w.BeginRegistration(wu, webauthn.WithExclusions(webauthn.Credentials(wu.creds).CredentialDescriptors()),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	if err != nil {
		return nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	return s.ceremony(ctx, ceremonyRegister, u.ID, sd, creation.Response)
}

// FinishPasskeyRegistration checks the browser's answer to BeginPasskeyRegistration and stores the passkey
// under name.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, a Actor, rp RelyingParty, ceremony, name string, answer []byte) (*PasskeyInfo, error) {
	u, err := s.accountUser(ctx, a)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return nil, apperr.Field(apperr.Invalid, "name", "name the passkey (1 to 64 characters), e.g. the device it lives on")
	}
	sd, err := s.takeCeremony(ctx, ceremony, ceremonyRegister, u.ID)
	if err != nil {
		return nil, err
	}
	w, err := relyingParty(rp)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	if err != nil {
		return nil, refusedPasskey(err, "credential")
	}
	wu, err := s.waUser(ctx, u.ID, u.SimpleName, false)
	if err != nil {
		return nil, err
	}
	if wu.handle == nil { // the first passkey: the handle made when the ceremony began
		wu.handle = sd.UserID
	}
	cred, err := w.CreateCredential(wu, *sd, parsed)
	if err != nil {
		return nil, refusedPasskey(err, "credential")
	}
	transports := make([]string, len(cred.Transport))
	for i, t := range cred.Transport {
		transports[i] = string(t)
	}
	now := time.Now().UnixMilli()
	p := store.Passkey{ID: base64.RawURLEncoding.EncodeToString(cred.ID), UID: u.ID, Name: name,
		PublicKey: cred.PublicKey, SignCount: int64(cred.Authenticator.SignCount), Transports: strings.Join(transports, ","),
		UserHandle: wu.handle, AAGUID: cred.Authenticator.AAGUID, Flags: int64(cred.Flags.MsgpByte()),
		AttestationType: cred.AttestationType, CreatedAt: now}
	if p.AAGUID == nil {
		p.AAGUID = []byte{}
	}
	if err := s.store.Q().CreatePasskey(ctx, p); errors.Is(err, store.ErrConflict) {
		return nil, apperr.Field(apperr.Conflict, "credential", "this passkey is registered already")
	} else if err != nil {
		return nil, err
	}
	return &PasskeyInfo{ID: p.ID, Name: p.Name, CreatedAt: now}, nil
}

// Passkeys lists the signed-in user's passkeys.
func (s *Service) Passkeys(ctx context.Context, a Actor) ([]PasskeyInfo, error) {
	u, err := s.accountUser(ctx, a)
	if err != nil {
		return nil, err
	}
	keys, err := s.store.Q().Passkeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out := make([]PasskeyInfo, len(keys))
	for i, k := range keys {
		out[i] = PasskeyInfo{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt}
	}
	return out, nil
}

// DeletePasskey removes one of the signed-in user's passkeys.
func (s *Service) DeletePasskey(ctx context.Context, a Actor, id string) error {
	u, err := s.accountUser(ctx, a)
	if err != nil {
		return err
	}
	if err := s.store.Q().DeletePasskey(ctx, u.ID, id); errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.NotFound, "Resource was not found: no passkey %q on your account", id)
	} else if err != nil {
		return fmt.Errorf("delete passkey: %w", err)
	}
	return nil
}

// BeginPasskeySignIn starts a sign-in with a passkey: alone (pending empty: any discoverable passkey of this
// site, the browser lets the person pick), or as the second factor of a pending sign-in. Anyone may start one
// and each is a row until it expires, so the starts of a client address count in the credential limiter (under
// a key of their own: they do not lock out its passwords); a passkey sign-in that succeeds clears them.
func (s *Service) BeginPasskeySignIn(ctx context.Context, rp RelyingParty, pending, client string) (*Ceremony, error) {
	w, err := relyingParty(rp)
	if err != nil {
		return nil, err
	}
	key := ceremonyKey(client)
	if err := s.checkLimit(key); err != nil {
		return nil, err
	}
	s.limiter.Fail(key)
	if pending == "" {
		assertion, sd, err := w.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			return nil, fmt.Errorf("begin passkey sign-in: %w", err)
		}
		return s.ceremony(ctx, ceremonySignIn, 0, sd, assertion.Response)
	}
	p, err := s.pending(ctx, pending, pendingSignIn)
	if err != nil {
		return nil, err
	}
	wu, err := s.waUser(ctx, p.UID, "", false)
	if err != nil {
		return nil, err
	}
	if len(wu.creds) == 0 {
		return nil, apperr.New(apperr.Conflict, "this account has no passkey; use a code")
	}
	assertion, sd, err := w.BeginLogin(wu, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin passkey second factor: %w", err)
	}
	return s.ceremony(ctx, ceremonySecond, p.UID, sd, assertion.Response)
}

// ceremonyKey is the limiter's key for the passkey sign-ins a client address starts.
func ceremonyKey(client string) string { return "ceremony:" + client }

// FinishPasskeySignIn checks the browser's answer to BeginPasskeySignIn (with the same pending sign-in, if any)
// and opens the session.
func (s *Service) FinishPasskeySignIn(ctx context.Context, rp RelyingParty, ceremony, pending string, answer []byte, client string) (SignIn, error) {
	if err := s.checkLimit("addr:" + client); err != nil {
		return SignIn{}, err
	}
	w, err := relyingParty(rp)
	if err != nil {
		return SignIn{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		return SignIn{}, refusedPasskey(err, "credential")
	}
	kind, uid := ceremonySignIn, int64(0)
	if pending != "" {
		p, err := s.pending(ctx, pending, pendingSignIn)
		if err != nil {
			return SignIn{}, err
		}
		kind, uid = ceremonySecond, p.UID
	}
	sd, err := s.takeCeremony(ctx, ceremony, kind, uid)
	if err != nil {
		return SignIn{}, err
	}
	var cred *webauthn.Credential
	var wu *waUser
	if kind == ceremonySecond {
		if wu, err = s.waUser(ctx, uid, "", false); err == nil {
			cred, err = w.ValidateLogin(wu, *sd, parsed)
		}
	} else {
		var user webauthn.User
		user, cred, err = w.ValidatePasskeyLogin(s.discoverable(ctx), *sd, parsed)
		wu, _ = user.(*waUser)
	}
	if err == nil && cred.Authenticator.CloneWarning {
		err = errors.New("the signature counter went backwards: the passkey may have been copied")
	}
	if err != nil || wu == nil {
		s.limiter.Fail("addr:" + client)
		return SignIn{}, refusedPasskey(err, "credential")
	}
	err = s.store.Q().UsePasskey(ctx, base64.RawURLEncoding.EncodeToString(cred.ID), int64(cred.Authenticator.SignCount),
		int64(cred.Flags.MsgpByte()), time.Now().UnixMilli())
	if err != nil {
		return SignIn{}, fmt.Errorf("record passkey use: %w", err)
	}
	s.limiter.Reset(ceremonyKey(client))
	if kind == ceremonySecond {
		return s.finishPending(ctx, pending, Credentials{Client: client})
	}
	u, err := s.store.Q().User(ctx, wu.uid)
	if err != nil {
		return SignIn{}, unauthorizedOr(err)
	}
	if !u.Enabled {
		return SignIn{}, apperr.Field(apperr.Forbidden, "login", "this account is disabled; ask the admin")
	}
	return s.signedIn(ctx, wu.uid, Credentials{Client: client})
}

// discoverable finds the user of a passkey the browser chose: by its credential id, and only if the user handle
// the authenticator returned is the one stored with it.
func (s *Service) discoverable(ctx context.Context) webauthn.DiscoverableUserHandler {
	return func(rawID, userHandle []byte) (webauthn.User, error) {
		p, err := s.store.Q().PasskeyByID(ctx, base64.RawURLEncoding.EncodeToString(rawID))
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p.UserHandle, userHandle) {
			return nil, errors.New("the passkey's user handle is not its owner's")
		}
		wu, err := s.waUser(ctx, p.UID, "", false)
		if err != nil {
			return nil, err
		}
		wu.handle = p.UserHandle // two first passkeys registered at once may carry different handles
		return wu, nil
	}
}

// waUser loads uid's passkeys as go-webauthn credentials. create makes a user handle (random, 32 bytes) for a
// user who has no passkey yet.
func (s *Service) waUser(ctx context.Context, uid int64, name string, create bool) (*waUser, error) {
	keys, err := s.store.Q().Passkeys(ctx, uid)
	if err != nil {
		return nil, err
	}
	wu := &waUser{uid: uid, name: name}
	for _, k := range keys {
		wu.handle = k.UserHandle
		id, err := base64.RawURLEncoding.DecodeString(k.ID)
		if err != nil {
			return nil, fmt.Errorf("passkey id %q: %w", k.ID, err)
		}
		var transports []protocol.AuthenticatorTransport
		for t := range strings.SplitSeq(k.Transports, ",") {
			if t != "" {
				transports = append(transports, protocol.AuthenticatorTransport(t))
			}
		}
		wu.creds = append(wu.creds, webauthn.Credential{ID: id, PublicKey: k.PublicKey, AttestationType: k.AttestationType,
			Transport: transports, Flags: webauthn.CredentialFlagsFromMsgpByte(byte(k.Flags)),
			Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: uint32(k.SignCount)}})
	}
	if wu.handle == nil && create {
		wu.handle = make([]byte, 32)
		if _, err := rand.Read(wu.handle); err != nil {
			return nil, fmt.Errorf("user handle: %w", err)
		}
	}
	return wu, nil
}

// ceremony keeps sd server-side for the second half of a ceremony and returns its first half.
func (s *Service) ceremony(ctx context.Context, kind string, uid int64, sd *webauthn.SessionData, options any) (*Ceremony, error) {
	data, err := json.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("ceremony state: %w", err)
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("ceremony options: %w", err)
	}
	tok, err := s.newPending(ctx, kind, uid, string(data))
	if err != nil {
		return nil, err
	}
	return &Ceremony{ID: tok, Options: opts}, nil
}

// takeCeremony consumes a ceremony of kind begun for uid: each works once.
func (s *Service) takeCeremony(ctx context.Context, tok, kind string, uid int64) (*webauthn.SessionData, error) {
	gone := apperr.Field(apperr.Invalid, "ceremony", "this passkey request expired or was used; start again")
	if len(tok) != 64 {
		return nil, gone
	}
	p, err := s.store.Q().TakePending(ctx, sessionID(tok), kind, time.Now().UnixMilli())
	if errors.Is(err, store.ErrNotFound) || (err == nil && p.UID != uid) {
		return nil, gone
	}
	if err != nil {
		return nil, err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal([]byte(p.Data), &sd); err != nil {
		return nil, fmt.Errorf("ceremony state: %w", err)
	}
	return &sd, nil
}

// refusedPasskey is the client's error for an answer go-webauthn refused; its reason stays in the chain.
func refusedPasskey(err error, field string) error {
	msg := "the passkey was refused"
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		msg += ": " + pe.Details
	}
	return &apperr.Error{Kind: apperr.Unauthorized, Message: msg, Field: field, Err: err}
}
