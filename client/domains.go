package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/stackhub/stackhub/internal/edge"
)

// RouteInput, Route and RouteChange are the edge's shapes.
type (
	RouteInput  = edge.RouteInput
	Route       = edge.Route
	RouteChange = edge.RouteChange
	BasicUser   = edge.BasicUser
)

// AddDomain routes a domain to an installed app.
func (c *Client) AddDomain(ctx context.Context, name string, in RouteInput) (*RouteChange, error) {
	var out RouteChange
	return &out, c.do(ctx, http.MethodPost, "/api/v1/installs/"+url.PathEscape(name)+"/domains", in, &out)
}

// Domains lists an installed app's routes.
func (c *Client) Domains(ctx context.Context, name string) ([]Route, error) {
	var out []Route
	return out, c.do(ctx, http.MethodGet, "/api/v1/installs/"+url.PathEscape(name)+"/domains", nil, &out)
}

// RemoveDomain removes an app's route of domain and path ("" for /).
func (c *Client) RemoveDomain(ctx context.Context, name, domain, path string) (*RouteChange, error) {
	var out RouteChange
	q := ""
	if path != "" {
		q = "?path=" + url.QueryEscape(path)
	}
	return &out, c.do(ctx, http.MethodDelete, "/api/v1/installs/"+url.PathEscape(name)+"/domains/"+url.PathEscape(domain)+q, nil, &out)
}
