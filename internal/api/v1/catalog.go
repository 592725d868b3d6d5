package v1

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/hub"
)

// ImportInput is one template to import.
type ImportInput struct {
	Body catalog.Template
}

// ImportOutput says what the import changed.
type ImportOutput struct {
	Body *hub.ImportResult
}

func (a *API) registerCatalog(api huma.API) {
	huma.Register(api, huma.Operation{OperationID: "import-template", Method: http.MethodPost,
		Path: Prefix + "/catalog/templates", Summary: "Import one template into the catalog (admin)",
		Tags: []string{"catalog"}}, a.importTemplate)
}

func (a *API) importTemplate(ctx context.Context, in *ImportInput) (*ImportOutput, error) {
	res, err := a.hub.ImportTemplate(ctx, actorOf(ctx), in.Body)
	if err != nil {
		return nil, fail(err)
	}
	return &ImportOutput{Body: res}, nil
}
