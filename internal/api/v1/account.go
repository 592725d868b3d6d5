package v1

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
)

// The signed-in user's second factors (docs/accounts.md §3): TOTP, recovery codes and passkeys. The account
// page's script and scripts call these; signing in with them is the web UI's (/ui/signin).
func (a *API) registerAccount(api huma.API) {
	tags := []string{"account"}
	op := func(id, method, path, summary string, status int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: Prefix + "/account" + path, Summary: summary,
			Tags: tags, DefaultStatus: status}
	}
	huma.Register(api, op("second-factors", http.MethodGet, "/second-factors",
		"Which second factors the caller has", 0), a.secondFactors)
	huma.Register(api, op("totp-enrol", http.MethodPost, "/totp",
		"Start enabling two-step sign-in: a new TOTP secret and its QR code (shown this once)", 0), a.totpEnrol)
	huma.Register(api, op("totp-confirm", http.MethodPost, "/totp/confirm",
		"Confirm the new TOTP secret with a code; answers the ten recovery codes (shown this once)", 0), a.totpConfirm)
	huma.Register(api, op("totp-disable", http.MethodPost, "/totp/disable",
		"Disable two-step sign-in with a current code or the password", http.StatusNoContent), a.totpDisable)
	huma.Register(api, op("recovery-codes", http.MethodPost, "/recovery-codes",
		"Replace the recovery codes, with a current code; answers the new ones (shown this once)", 0), a.recoveryCodes)
	huma.Register(api, op("passkey-options", http.MethodPost, "/passkeys/options",
		"Start registering a passkey: options for navigator.credentials.create", 0), a.passkeyOptions)
	huma.Register(api, op("passkey-add", http.MethodPost, "/passkeys",
		"Register a passkey with the browser's answer", http.StatusCreated), a.passkeyAdd)
	huma.Register(api, op("passkey-list", http.MethodGet, "/passkeys", "List the caller's passkeys", 0), a.passkeyList)
	huma.Register(api, op("passkey-delete", http.MethodDelete, "/passkeys/{id}",
		"Delete one of the caller's passkeys", http.StatusNoContent), a.passkeyDelete)
}

// reqInfo is what the second-factor operations need of the request beyond its body: the client address (for
// the rate limits) and the WebAuthn relying party (the host the request was sent to).
type reqInfo struct {
	client string
	rp     auth.RelyingParty
}

type reqKey struct{}

func rpOf(ctx context.Context) auth.RelyingParty {
	ri, _ := ctx.Value(reqKey{}).(reqInfo)
	return ri.rp
}

func clientOf(ctx context.Context) string {
	ri, _ := ctx.Value(reqKey{}).(reqInfo)
	return ri.client
}

// FactorsOutput is the caller's second factors.
type FactorsOutput struct{ Body auth.Factors }

func (a *API) secondFactors(ctx context.Context, _ *struct{}) (*FactorsOutput, error) {
	actor := actorOf(ctx)
	if !actor.User {
		return nil, fail(apperr.New(apperr.Unauthorized, "sign in as a user: second factors belong to a user's account"))
	}
	f, err := a.auth.FactorsOf(ctx, actor.UID)
	if err != nil {
		return nil, fail(err)
	}
	return &FactorsOutput{Body: f}, nil
}

// EnrolOutput is a new TOTP secret.
type EnrolOutput struct{ Body *auth.Enrolment }

func (a *API) totpEnrol(ctx context.Context, _ *struct{}) (*EnrolOutput, error) {
	e, err := a.auth.BeginTOTP(ctx, actorOf(ctx))
	if err != nil {
		return nil, fail(err)
	}
	return &EnrolOutput{Body: e}, nil
}

// CodeInput carries a TOTP code.
type CodeInput struct {
	Body struct {
		Code string `json:"code" maxLength:"64" doc:"the 6-digit code the authenticator app shows now"`
	}
}

// RecoveryCodesOutput lists fresh recovery codes: shown this once.
type RecoveryCodesOutput struct {
	Body struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
}

func (a *API) totpConfirm(ctx context.Context, in *CodeInput) (*RecoveryCodesOutput, error) {
	codes, err := a.auth.ConfirmTOTP(ctx, actorOf(ctx), in.Body.Code, clientOf(ctx))
	if err != nil {
		return nil, fail(err)
	}
	out := &RecoveryCodesOutput{}
	out.Body.RecoveryCodes = codes
	return out, nil
}

func (a *API) recoveryCodes(ctx context.Context, in *CodeInput) (*RecoveryCodesOutput, error) {
	codes, err := a.auth.RegenerateRecoveryCodes(ctx, actorOf(ctx), in.Body.Code, clientOf(ctx))
	if err != nil {
		return nil, fail(err)
	}
	out := &RecoveryCodesOutput{}
	out.Body.RecoveryCodes = codes
	return out, nil
}

// DisableInput proves the caller with a current code or the password.
type DisableInput struct {
	Body struct {
		Code     string `json:"code,omitempty" maxLength:"64" doc:"a current code; or give the password"`
		Password string `json:"password,omitempty" maxLength:"1024"`
	}
}

func (a *API) totpDisable(ctx context.Context, in *DisableInput) (*struct{}, error) {
	if err := a.auth.DisableTOTP(ctx, actorOf(ctx), in.Body.Code, in.Body.Password, clientOf(ctx)); err != nil {
		return nil, fail(err)
	}
	return nil, nil
}

// CeremonyOutput is the first half of a WebAuthn ceremony.
type CeremonyOutput struct{ Body *auth.Ceremony }

func (a *API) passkeyOptions(ctx context.Context, _ *struct{}) (*CeremonyOutput, error) {
	c, err := a.auth.BeginPasskeyRegistration(ctx, actorOf(ctx), rpOf(ctx))
	if err != nil {
		return nil, fail(err)
	}
	return &CeremonyOutput{Body: c}, nil
}

// PasskeyAddInput is the browser's answer to passkey-options.
type PasskeyAddInput struct {
	Body struct {
		Ceremony   string `json:"ceremony" maxLength:"128"`
		Name       string `json:"name" maxLength:"256" doc:"what the owner calls this passkey"`
		Credential any    `json:"credential" doc:"the PublicKeyCredential from navigator.credentials.create, as JSON (binary fields base64url)"`
	}
}

// PasskeyOutput is one passkey.
type PasskeyOutput struct{ Body *auth.PasskeyInfo }

func (a *API) passkeyAdd(ctx context.Context, in *PasskeyAddInput) (*PasskeyOutput, error) {
	answer, err := json.Marshal(in.Body.Credential)
	if err != nil {
		return nil, fail(apperr.Wrap(apperr.Invalid, err, "credential is not JSON"))
	}
	p, err := a.auth.FinishPasskeyRegistration(ctx, actorOf(ctx), rpOf(ctx), in.Body.Ceremony, in.Body.Name, answer)
	if err != nil {
		return nil, fail(err)
	}
	return &PasskeyOutput{Body: p}, nil
}

// PasskeysOutput lists passkeys.
type PasskeysOutput struct{ Body []auth.PasskeyInfo }

func (a *API) passkeyList(ctx context.Context, _ *struct{}) (*PasskeysOutput, error) {
	keys, err := a.auth.Passkeys(ctx, actorOf(ctx))
	if err != nil {
		return nil, fail(err)
	}
	return &PasskeysOutput{Body: keys}, nil
}

// PasskeyIDInput names a passkey.
type PasskeyIDInput struct {
	ID string `path:"id" maxLength:"1400" doc:"the credential id (base64url)"`
}

func (a *API) passkeyDelete(ctx context.Context, in *PasskeyIDInput) (*struct{}, error) {
	if err := a.auth.DeletePasskey(ctx, actorOf(ctx), in.ID); err != nil {
		return nil, fail(err)
	}
	return nil, nil
}
