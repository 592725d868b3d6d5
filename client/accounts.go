package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Token is an API token as lists show it; Token is set only in the answer that created it.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	Owner     int64      `json:"owner"`
	Created   time.Time  `json:"created"`
	ExpiresAt *time.Time `json:"expires_at"`
	LastUsed  *time.Time `json:"last_used"`
	Token     string     `json:"token,omitempty"`
}

// CreateToken creates an API token for the caller; expiresIn is a duration (720h), days (30d) or empty.
func (c *Client) CreateToken(ctx context.Context, name string, scopes []string, expiresIn string) (*Token, error) {
	var t Token
	body := map[string]any{"name": name, "scopes": scopes, "expires_in": expiresIn}
	return &t, c.do(ctx, http.MethodPost, "/api/v1/tokens", body, &t)
}

// Tokens lists the caller's API tokens.
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	var ts []Token
	return ts, c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, &ts)
}

// RevokeToken revokes an API token by id.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(id), nil, nil)
}

// SetRole sets the role of a user, named by id or simple name.
func (c *Client) SetRole(ctx context.Context, user, role string) error {
	return c.do(ctx, http.MethodPut, "/api/v1/users/"+url.PathEscape(user)+"/role", map[string]string{"role": role}, nil)
}

// ResetSecondFactors removes a user's second factors (TOTP, recovery codes, passkeys) and ends their sessions
// (admin).
func (c *Client) ResetSecondFactors(ctx context.Context, user string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/users/"+url.PathEscape(user)+"/second-factors", nil, nil)
}
