package v1

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/edge"
)

// DomainAddInput adds a route to an install.
type DomainAddInput struct {
	Name string `path:"name" doc:"instance name"`
	Body edge.RouteInput
}

// DomainChangeOutput is a route added or removed, and the job that renders the app's W9_URL again.
type DomainChangeOutput struct {
	Status int
	Body   *edge.RouteChange
}

// DomainsOutput lists an install's routes.
type DomainsOutput struct{ Body []edge.Route }

// DomainRemoveInput names a route to remove.
type DomainRemoveInput struct {
	Name   string `path:"name" doc:"instance name"`
	Domain string `path:"domain" doc:"the routed name"`
	Path   string `query:"path" doc:"the route's path prefix; default /"`
}

func (a *API) registerDomains(api huma.API) {
	tags := []string{"domains"}
	huma.Register(api, huma.Operation{OperationID: "add-domain", Method: http.MethodPost, Path: Prefix + "/installs/{name}/domains",
		Summary: "Route a domain (and path) to an installed app through the edge (admin)", Tags: tags,
		DefaultStatus: http.StatusCreated}, a.addDomain)
	huma.Register(api, huma.Operation{OperationID: "list-domains", Method: http.MethodGet, Path: Prefix + "/installs/{name}/domains",
		Summary: "An installed app's routes (admin)", Tags: tags}, a.listDomains)
	huma.Register(api, huma.Operation{OperationID: "remove-domain", Method: http.MethodDelete, Path: Prefix + "/installs/{name}/domains/{domain}",
		Summary: "Remove a route from an installed app (admin)", Tags: tags}, a.removeDomain)
}

func (a *API) edgeOrFail() (*edge.Edge, error) {
	if a.edge == nil {
		return nil, fail(apperr.New(apperr.Unavailable, "the edge is not running on this server"))
	}
	return a.edge, nil
}

func (a *API) addDomain(ctx context.Context, in *DomainAddInput) (*DomainChangeOutput, error) {
	e, err := a.edgeOrFail()
	if err != nil {
		return nil, err
	}
	ch, err := e.AddRoute(ctx, actorOf(ctx), in.Name, in.Body)
	if err != nil {
		return nil, fail(err)
	}
	return &DomainChangeOutput{Status: http.StatusCreated, Body: ch}, nil
}

func (a *API) listDomains(ctx context.Context, in *NameInput) (*DomainsOutput, error) {
	e, err := a.edgeOrFail()
	if err != nil {
		return nil, err
	}
	rs, err := e.Routes(ctx, actorOf(ctx), in.Name)
	if err != nil {
		return nil, fail(err)
	}
	return &DomainsOutput{Body: rs}, nil
}

func (a *API) removeDomain(ctx context.Context, in *DomainRemoveInput) (*DomainChangeOutput, error) {
	e, err := a.edgeOrFail()
	if err != nil {
		return nil, err
	}
	ch, err := e.RemoveRoute(ctx, actorOf(ctx), in.Name, in.Domain, in.Path)
	if err != nil {
		return nil, fail(err)
	}
	return &DomainChangeOutput{Status: http.StatusOK, Body: ch}, nil
}
