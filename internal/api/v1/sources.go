package v1

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/sources"
	"github.com/stackhub/stackhub/internal/store"
)

// AddSourceInput registers a store source.
type AddSourceInput struct {
	Body sources.AddInput
}

// SourceOutput is one source.
type SourceOutput struct {
	Status int
	Body   *store.Source
}

// SourcesOutput lists the sources.
type SourcesOutput struct {
	Body []store.Source
}

// SourceIDInput names a source.
type SourceIDInput struct {
	ID int64 `path:"id"`
}

func (a *API) registerSources(api huma.API) {
	tags := []string{"sources"}
	huma.Register(api, huma.Operation{OperationID: "list-sources", Method: http.MethodGet, Path: Prefix + "/sources",
		Summary: "List the store sources with their last sync: time, counts, error, ETag/Last-Modified (admin)",
		Tags:    tags}, a.listSources)
	huma.Register(api, huma.Operation{OperationID: "add-source", Method: http.MethodPost, Path: Prefix + "/sources",
		Summary: "Register a store by the URL of its .tar.gz/.zip archive or templates.json; its first sync starts in the background (admin)",
		Tags:    tags, DefaultStatus: http.StatusCreated}, a.addSource)
	huma.Register(api, huma.Operation{OperationID: "sync-source", Method: http.MethodPost,
		Path: Prefix + "/sources/{id}/sync", Summary: "Sync a store source now and answer its result (admin)",
		Tags: tags}, a.syncSource)
	huma.Register(api, huma.Operation{OperationID: "delete-source", Method: http.MethodDelete,
		Path:    Prefix + "/sources/{id}",
		Summary: "Remove a store source: its apps leave the catalog, except the versions installs use (admin)",
		Tags:    tags, DefaultStatus: http.StatusNoContent}, a.deleteSource)
}

func (a *API) sourcesService() (*sources.Service, error) {
	if a.sources == nil {
		return nil, fail(apperr.New(apperr.Unavailable, "Store sources are not running"))
	}
	return a.sources, nil
}

func (a *API) listSources(ctx context.Context, _ *struct{}) (*SourcesOutput, error) {
	ss, err := a.sourcesService()
	if err != nil {
		return nil, err
	}
	list, err := ss.List(ctx, actorOf(ctx))
	if err != nil {
		return nil, fail(err)
	}
	return &SourcesOutput{Body: list}, nil
}

func (a *API) addSource(ctx context.Context, in *AddSourceInput) (*SourceOutput, error) {
	ss, err := a.sourcesService()
	if err != nil {
		return nil, err
	}
	src, err := ss.Add(ctx, actorOf(ctx), in.Body)
	if err != nil {
		return nil, fail(err)
	}
	return &SourceOutput{Status: http.StatusCreated, Body: src}, nil
}

func (a *API) syncSource(ctx context.Context, in *SourceIDInput) (*SourceOutput, error) {
	ss, err := a.sourcesService()
	if err != nil {
		return nil, err
	}
	src, err := ss.Sync(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, fail(err)
	}
	return &SourceOutput{Status: http.StatusOK, Body: src}, nil
}

func (a *API) deleteSource(ctx context.Context, in *SourceIDInput) (*struct{}, error) {
	ss, err := a.sourcesService()
	if err != nil {
		return nil, err
	}
	if err := ss.Remove(ctx, actorOf(ctx), in.ID); err != nil {
		return nil, fail(err)
	}
	return nil, nil
}
