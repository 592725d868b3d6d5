package v1

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/host"
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

// maxStackBody bounds the body of a request carrying a stack: the largest the catalog takes (an admin's import,
// catalog.MaxImportSize), with room for JSON escapes and binary files in base64; the catalog then checks the size
// the stack may have for whoever sends it.
const maxStackBody = 2 * catalog.MaxImportSize

func (a *API) registerCatalog(api huma.API) {
	huma.Register(api, huma.Operation{OperationID: "import-template", Method: http.MethodPost,
		Path: Prefix + "/catalog/templates", Summary: "Import one template into the catalog (admin)",
		Tags: []string{"catalog"}, MaxBodyBytes: maxStackBody}, a.importTemplate)
	huma.Register(api, huma.Operation{OperationID: "get-app", Method: http.MethodGet,
		Path: Prefix + "/apps/{app}", Summary: "A catalog app with its categories, stores and versions, each marked with its store",
		Tags: []string{"catalog"}}, a.getApp)
	huma.Register(api, huma.Operation{OperationID: "check-catalog", Method: http.MethodGet,
		Path: Prefix + "/catalog/check", Summary: "Render and load every installable version, as an install would, starting nothing (host:read)",
		Tags: []string{"catalog"}}, a.checkCatalog)
}

func (a *API) importTemplate(ctx context.Context, in *ImportInput) (*ImportOutput, error) {
	res, err := a.hub.ImportTemplate(ctx, actorOf(ctx), in.Body)
	if err != nil {
		return nil, fail(err)
	}
	return &ImportOutput{Body: res}, nil
}

// CheckInput names the apps to check; none: every catalog app.
type CheckInput struct {
	App []string `query:"app,explode" doc:"app keys or ids to check (app=a&app=b); none: every app with a package name"`
}

// CheckOutput is one line per installable version.
type CheckOutput struct {
	Body []host.CheckResult
}

func (a *API) checkCatalog(ctx context.Context, in *CheckInput) (*CheckOutput, error) {
	res, err := a.host.CheckCatalog(ctx, actorOf(ctx), in.App)
	if err != nil {
		return nil, fail(err)
	}
	if res == nil {
		res = []host.CheckResult{}
	}
	return &CheckOutput{Body: res}, nil
}

// AppInput names an app.
type AppInput struct {
	App string `path:"app" doc:"the app's key (package) or id"`
}

// AppOutput is one app with what its stores say.
type AppOutput struct {
	Body *hub.AppDetails
}

func (a *API) getApp(ctx context.Context, in *AppInput) (*AppOutput, error) {
	d, err := a.hub.AppDetails(ctx, in.App)
	if err != nil {
		return nil, fail(err)
	}
	return &AppOutput{Body: d}, nil
}
