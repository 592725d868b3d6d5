package v1

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/store"
)

// UpgradeInput asks for an upgrade.
type UpgradeInput struct {
	Name string `path:"name"`
	Body struct {
		Version string `json:"version" minLength:"1" doc:"the version to move to"`
	}
}

// BackupsOutput lists snapshots.
type BackupsOutput struct{ Body []host.Backup }

// UpgradesOutput lists upgrade records.
type UpgradesOutput struct{ Body []store.Upgrade }

// PublishInput publishes a version of an app, optionally with a stack.
type PublishInput struct {
	AID  int64 `path:"aid"`
	Body struct {
		Version    string         `json:"ver" doc:"version name, e.g. 1.2.0"`
		Reversion  int64          `json:"rev,omitempty" doc:"default: the next one"`
		Changelog  string         `json:"updates,omitempty"`
		InstallURL string         `json:"install_url,omitempty"`
		Stack      *catalog.Stack `json:"stack,omitempty" doc:"the Compose template that makes this version installable"`
	}
}

// VersionOutput is a published version.
type VersionOutput struct {
	Status int
	Body   *hub.Version
}

func (a *API) registerUpgrades(api huma.API) {
	tags := []string{"installs"}
	huma.Register(api, huma.Operation{OperationID: "upgrade", Method: http.MethodPost, Path: Prefix + "/installs/{name}/upgrade",
		Summary: "Upgrade an app to another version, with a snapshot and automatic rollback (host:write)", Tags: tags,
		DefaultStatus: http.StatusAccepted}, a.upgrade)
	huma.Register(api, huma.Operation{OperationID: "rollback", Method: http.MethodPost, Path: Prefix + "/installs/{name}/rollback",
		Summary: "Return an app to the version before its last upgrade, with its snapshot (host:write)", Tags: tags,
		DefaultStatus: http.StatusAccepted}, a.rollback)
	huma.Register(api, huma.Operation{OperationID: "backups", Method: http.MethodGet, Path: Prefix + "/installs/{name}/backups",
		Summary: "An app's snapshots, newest first (host:read)", Tags: tags}, a.backups)
	huma.Register(api, huma.Operation{OperationID: "upgrades", Method: http.MethodGet, Path: Prefix + "/installs/{name}/upgrades",
		Summary: "An app's upgrade history: from, to, result and snapshot (host:read)", Tags: tags}, a.upgrades)
	huma.Register(api, huma.Operation{OperationID: "publish-version", Method: http.MethodPost, Path: Prefix + "/apps/{aid}/versions",
		Summary: "Publish a version of your app, optionally installable with a stack (owner)", Tags: []string{"catalog"},
		DefaultStatus: http.StatusCreated, MaxBodyBytes: maxStackBody}, a.publish)
}

func (a *API) upgrade(ctx context.Context, in *UpgradeInput) (*JobOutput, error) {
	job, err := a.host.Upgrade(ctx, actorOf(ctx), in.Name, in.Body.Version)
	if err != nil {
		return nil, fail(err)
	}
	return &JobOutput{Status: http.StatusAccepted, Body: job}, nil
}

func (a *API) rollback(ctx context.Context, in *NameInput) (*JobOutput, error) {
	job, err := a.host.Rollback(ctx, actorOf(ctx), in.Name)
	if err != nil {
		return nil, fail(err)
	}
	return &JobOutput{Status: http.StatusAccepted, Body: job}, nil
}

func (a *API) backups(ctx context.Context, in *NameInput) (*BackupsOutput, error) {
	b, err := a.host.Backups(ctx, actorOf(ctx), in.Name)
	if err != nil {
		return nil, fail(err)
	}
	return &BackupsOutput{Body: b}, nil
}

func (a *API) upgrades(ctx context.Context, in *NameInput) (*UpgradesOutput, error) {
	u, err := a.host.Upgrades(ctx, actorOf(ctx), in.Name)
	if err != nil {
		return nil, fail(err)
	}
	return &UpgradesOutput{Body: u}, nil
}

func (a *API) publish(ctx context.Context, in *PublishInput) (*VersionOutput, error) {
	b := in.Body
	req := hub.UpdateInput{Version: hub.Some(b.Version), Updates: hub.Some(b.Changelog), InstallURL: hub.Some(b.InstallURL)}
	if b.Reversion != 0 {
		req.Reversion = hub.Some(b.Reversion)
	}
	if b.Stack != nil {
		req.Stack = hub.Some(b.Stack)
	}
	v, err := a.hub.PublishUpdate(ctx, actorOf(ctx), in.AID, req)
	if err != nil {
		return nil, fail(err)
	}
	return &VersionOutput{Status: http.StatusCreated, Body: v}, nil
}
