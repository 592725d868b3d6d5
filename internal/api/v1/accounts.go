package v1

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
)

// RoleInput sets a user's role.
type RoleInput struct {
	User string `path:"uid" doc:"the user's id or simple name"`
	Body struct {
		Role string `json:"role" enum:"member,operator,admin" doc:"member (the community), operator (also the host) or admin"`
	}
}

// RoleOutput is a user's role after a change.
type RoleOutput struct {
	Body struct {
		UID  int64     `json:"uid"`
		Role auth.Role `json:"role"`
	}
}

// CreateTokenInput creates an API token for the caller.
type CreateTokenInput struct {
	Body struct {
		Name      string   `json:"name" minLength:"1" maxLength:"100" doc:"what the token is for"`
		Scopes    []string `json:"scopes" minItems:"1" doc:"hub:read, hub:write, host:read, host:write, admin; within the caller's role"`
		ExpiresIn string   `json:"expires_in,omitempty" doc:"a duration (720h) or days (30d); empty never expires"`
	}
}

// CreateTokenOutput carries the token: the only answer that ever holds it.
type CreateTokenOutput struct {
	Status int
	Body   *auth.NewToken
}

// TokensOutput lists the caller's tokens, never the tokens themselves.
type TokensOutput struct {
	Body []auth.TokenView
}

// TokenIDInput names a token.
type TokenIDInput struct {
	ID string `path:"id"`
}

// SessionsInput carries the caller's session cookie, to mark or keep the current session.
type SessionsInput struct {
	Session string `cookie:"stackhub_session" doc:"the web UI's session cookie"`
}

// SessionsOutput lists the caller's sessions.
type SessionsOutput struct {
	Body []auth.SessionView
}

// SessionIDInput names a session.
type SessionIDInput struct {
	ID string `path:"id"`
}

// AuditInput filters the audit log.
type AuditInput struct {
	Actor  string `query:"actor" doc:"user, token, admin, a uid or a token id"`
	Action string `query:"action" doc:"an action (install, role_set...) or a prefix ending in *"`
	Since  string `query:"since" doc:"RFC 3339 time; only records from then on"`
}

// AuditOutput lists audit records, newest first (at most 500).
type AuditOutput struct {
	Body []store.AuditRecord
}

func (a *API) registerAccounts(api huma.API) {
	huma.Register(api, huma.Operation{OperationID: "set-role", Method: http.MethodPut, Path: Prefix + "/users/{uid}/role",
		Summary: "Set a user's role (admin); their sessions end", Tags: []string{"accounts"}}, a.setRole)
	huma.Register(api, huma.Operation{OperationID: "reset-second-factors", Method: http.MethodDelete,
		Path:    Prefix + "/users/{uid}/second-factors",
		Summary: "Remove a user's second factors (TOTP, recovery codes, passkeys) when they lost them (admin); their sessions end",
		Tags:    []string{"accounts"}, DefaultStatus: http.StatusNoContent}, a.resetSecondFactors)
	tags := []string{"tokens"}
	huma.Register(api, huma.Operation{OperationID: "create-token", Method: http.MethodPost, Path: Prefix + "/tokens",
		Summary: "Create an API token for the caller; the answer is the only time the token is shown",
		Tags:    tags, DefaultStatus: http.StatusCreated}, a.createToken)
	huma.Register(api, huma.Operation{OperationID: "list-tokens", Method: http.MethodGet, Path: Prefix + "/tokens",
		Summary: "List the caller's API tokens (never the tokens)", Tags: tags}, a.listTokens)
	huma.Register(api, huma.Operation{OperationID: "revoke-token", Method: http.MethodDelete,
		Path: Prefix + "/tokens/{id}", Summary: "Revoke an API token (the admin: anybody's); it stops working at once",
		Tags: tags, DefaultStatus: http.StatusNoContent}, a.revokeToken)
	tags = []string{"sessions"}
	huma.Register(api, huma.Operation{OperationID: "list-sessions", Method: http.MethodGet, Path: Prefix + "/sessions",
		Summary: "List the caller's web sessions", Tags: tags}, a.listSessions)
	huma.Register(api, huma.Operation{OperationID: "end-session", Method: http.MethodDelete,
		Path: Prefix + "/sessions/{id}", Summary: "End one of the caller's sessions", Tags: tags,
		DefaultStatus: http.StatusNoContent}, a.endSession)
	huma.Register(api, huma.Operation{OperationID: "end-other-sessions", Method: http.MethodDelete,
		Path: Prefix + "/sessions", Summary: "Sign out everywhere but this session", Tags: tags,
		DefaultStatus: http.StatusNoContent}, a.endOtherSessions)
	huma.Register(api, huma.Operation{OperationID: "audit", Method: http.MethodGet, Path: Prefix + "/audit",
		Summary: "The audit log, newest first (admin)", Tags: []string{"accounts"}}, a.auditLog)
}

func (a *API) setRole(ctx context.Context, in *RoleInput) (*RoleOutput, error) {
	uid, err := a.hub.SetRoleOf(ctx, actorOf(ctx), in.User, in.Body.Role)
	if err != nil {
		return nil, fail(err)
	}
	out := &RoleOutput{}
	out.Body.UID, out.Body.Role = uid, auth.Role(in.Body.Role)
	return out, nil
}

// UserInput names a user.
type UserInput struct {
	User string `path:"uid" doc:"the user's id or simple name"`
}

func (a *API) resetSecondFactors(ctx context.Context, in *UserInput) (*struct{}, error) {
	if _, err := a.hub.ResetSecondFactorsOf(ctx, actorOf(ctx), in.User); err != nil {
		return nil, fail(err)
	}
	return nil, nil
}

func (a *API) createToken(ctx context.Context, in *CreateTokenInput) (*CreateTokenOutput, error) {
	life, err := auth.ParseLife(in.Body.ExpiresIn)
	if err != nil {
		return nil, fail(err)
	}
	t, err := a.auth.CreateToken(ctx, actorOf(ctx), in.Body.Name, in.Body.Scopes, life)
	if err != nil {
		return nil, fail(err)
	}
	return &CreateTokenOutput{Status: http.StatusCreated, Body: t}, nil
}

func (a *API) listTokens(ctx context.Context, _ *struct{}) (*TokensOutput, error) {
	ts, err := a.auth.Tokens(ctx, actorOf(ctx))
	if err != nil {
		return nil, fail(err)
	}
	return &TokensOutput{Body: ts}, nil
}

func (a *API) revokeToken(ctx context.Context, in *TokenIDInput) (*struct{}, error) {
	if _, err := a.auth.RevokeToken(ctx, actorOf(ctx), in.ID); err != nil {
		return nil, fail(err)
	}
	return nil, nil
}

func (a *API) listSessions(ctx context.Context, in *SessionsInput) (*SessionsOutput, error) {
	ss, err := a.auth.Sessions(ctx, actorOf(ctx), in.Session)
	if err != nil {
		return nil, fail(err)
	}
	return &SessionsOutput{Body: ss}, nil
}

func (a *API) endSession(ctx context.Context, in *SessionIDInput) (*struct{}, error) {
	if err := a.auth.EndSession(ctx, actorOf(ctx), in.ID); err != nil {
		return nil, fail(err)
	}
	return nil, nil
}

func (a *API) endOtherSessions(ctx context.Context, in *SessionsInput) (*struct{}, error) {
	if err := a.auth.EndOtherSessions(ctx, actorOf(ctx), in.Session); err != nil {
		return nil, fail(err)
	}
	return nil, nil
}

func (a *API) auditLog(ctx context.Context, in *AuditInput) (*AuditOutput, error) {
	var since time.Time
	if in.Since != "" {
		var err error
		if since, err = time.Parse(time.RFC3339, in.Since); err != nil {
			return nil, fail(apperr.Field(apperr.Invalid, "since", "since must be an RFC 3339 time, such as 2026-01-02T15:04:05Z"))
		}
	}
	rs, err := a.audit.Query(ctx, actorOf(ctx), in.Actor, in.Action, since)
	if err != nil {
		return nil, fail(err)
	}
	return &AuditOutput{Body: rs}, nil
}
