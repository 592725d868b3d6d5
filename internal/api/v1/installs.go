package v1

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/store"
)

// InstallInput asks for an install.
type InstallInput struct {
	Body struct {
		App      string            `json:"app" doc:"the catalog app's key (package), e.g. wordpress" minLength:"1"`
		Name     string            `json:"name,omitempty" doc:"instance name; default: the app key"`
		Version  string            `json:"version,omitempty" doc:"the version, or store:version; default: the newest version of the first store in the server's --store-order that has the app"`
		Store    string            `json:"store,omitempty" doc:"the store whose version to install (websoft9, casaos, ...); default: the first in --store-order that has the app"`
		Settings map[string]string `json:"settings,omitempty" doc:"the template's user settings"`
		Force    bool              `json:"force,omitempty" doc:"install even if the server lacks the template's resources"`
		Domain   string            `json:"domain,omitempty" doc:"a name to route to the app through the edge (public, https auto); checked before anything is created"`
		Node     string            `json:"node,omitempty" doc:"the node to run the app on (its hostname, see /nodes); with serve --engine swarm, every service is pinned there; default: any node"`
	}
}

// InstallOutput is an install that has started.
type InstallOutput struct {
	Status int
	Body   struct {
		Instance *host.Info `json:"instance"`
		Job      *store.Job `json:"job"`
	}
}

// InstanceOutput is one instance.
type InstanceOutput struct{ Body *host.Info }

// InstancesOutput lists instances.
type InstancesOutput struct{ Body []host.Info }

// NameInput names an instance.
type NameInput struct {
	Name string `path:"name" doc:"instance name"`
}

// ActionInput names an instance and an action.
type ActionInput struct {
	Name   string `path:"name"`
	Action string `path:"action" enum:"start,stop,restart"`
}

// JobOutput is a job.
type JobOutput struct {
	Status int
	Body   *store.Job
}

// DeleteInput uninstalls an instance.
type DeleteInput struct {
	Name  string `path:"name"`
	Purge bool   `query:"purge" doc:"also delete the app's volumes, files and upgrade snapshots"`
}

// CredentialsOutput reveals an instance's secrets.
type CredentialsOutput struct {
	Body map[string]string
}

// JobInput names a job.
type JobInput struct {
	ID int64 `path:"id"`
}

// JobWithEventsOutput is a job and its log.
type JobWithEventsOutput struct {
	Body struct {
		Job    *store.Job       `json:"job"`
		Events []store.JobEvent `json:"events"`
	}
}

// ServerOutput is the server's health.
type ServerOutput struct{ Body *host.ServerInfo }

// NodesOutput lists the nodes.
type NodesOutput struct{ Body []host.NodeInfo }

func (a *API) registerHost(api huma.API, mux *http.ServeMux) {
	tags := []string{"installs"}
	huma.Register(api, huma.Operation{OperationID: "install", Method: http.MethodPost, Path: Prefix + "/installs",
		Summary: "Install a catalog app (host:write)", Tags: tags, DefaultStatus: http.StatusAccepted}, a.install)
	huma.Register(api, huma.Operation{OperationID: "list-installs", Method: http.MethodGet, Path: Prefix + "/installs",
		Summary: "List installed apps with their status (host:read)", Tags: tags}, a.listInstalls)
	huma.Register(api, huma.Operation{OperationID: "get-install", Method: http.MethodGet, Path: Prefix + "/installs/{name}",
		Summary: "One installed app (host:read)", Tags: tags}, a.getInstall)
	huma.Register(api, huma.Operation{OperationID: "act-install", Method: http.MethodPost, Path: Prefix + "/installs/{name}/{action}",
		Summary: "Start, stop or restart an app (host:write)", Tags: tags, DefaultStatus: http.StatusAccepted}, a.actInstall)
	huma.Register(api, huma.Operation{OperationID: "uninstall", Method: http.MethodDelete, Path: Prefix + "/installs/{name}",
		Summary: "Uninstall an app; purge also deletes its data (host:write)", Tags: tags, DefaultStatus: http.StatusNoContent}, a.uninstall)
	huma.Register(api, huma.Operation{OperationID: "credentials", Method: http.MethodGet, Path: Prefix + "/installs/{name}/credentials",
		Summary: "Reveal an app's generated credentials (host:write)", Tags: tags}, a.credentials)
	huma.Register(api, huma.Operation{OperationID: "get-job", Method: http.MethodGet, Path: Prefix + "/jobs/{id}",
		Summary: "A job and its log (host:read)", Tags: []string{"jobs"}}, a.getJob)
	huma.Register(api, huma.Operation{OperationID: "server", Method: http.MethodGet, Path: Prefix + "/server",
		Summary: "Server metrics, engine and risks (host:read)", Tags: []string{"server"}}, a.server)
	huma.Register(api, huma.Operation{OperationID: "nodes", Method: http.MethodGet, Path: Prefix + "/nodes",
		Summary: "The nodes apps run on, with the apps on each: the Swarm's with --engine swarm, else this server (host:read)",
		Tags:    []string{"server"}}, a.nodes)
	a.registerCatalog(api)
	a.registerUpgrades(api)
	mux.HandleFunc("GET "+Prefix+"/jobs/{id}/events", a.jobEvents)
	mux.HandleFunc("GET "+Prefix+"/installs/{name}/logs", a.logs)
}

func (a *API) install(ctx context.Context, in *InstallInput) (*InstallOutput, error) {
	actor := actorOf(ctx)
	res, err := a.host.Install(ctx, actor, host.InstallRequest{App: in.Body.App, Name: in.Body.Name,
		Version: in.Body.Version, Store: in.Body.Store, Settings: in.Body.Settings, Force: in.Body.Force, Domain: in.Body.Domain,
		Node: in.Body.Node})
	if err != nil {
		return nil, fail(err)
	}
	info, err := a.host.Instance(ctx, actor, res.Instance)
	if err != nil {
		return nil, fail(err)
	}
	job, _, err := a.host.Job(ctx, actor, res.Job)
	if err != nil {
		return nil, fail(err)
	}
	out := &InstallOutput{Status: http.StatusAccepted}
	out.Body.Instance, out.Body.Job = info, job
	return out, nil
}

func (a *API) listInstalls(ctx context.Context, _ *struct{}) (*InstancesOutput, error) {
	ins, err := a.host.Instances(ctx, actorOf(ctx))
	if err != nil {
		return nil, fail(err)
	}
	return &InstancesOutput{Body: ins}, nil
}

func (a *API) getInstall(ctx context.Context, in *NameInput) (*InstanceOutput, error) {
	info, err := a.host.Instance(ctx, actorOf(ctx), in.Name)
	if err != nil {
		return nil, fail(err)
	}
	return &InstanceOutput{Body: info}, nil
}

func (a *API) actInstall(ctx context.Context, in *ActionInput) (*JobOutput, error) {
	job, err := a.host.Operate(ctx, actorOf(ctx), in.Name, in.Action)
	if err != nil {
		return nil, fail(err)
	}
	return &JobOutput{Status: http.StatusAccepted, Body: job}, nil
}

func (a *API) uninstall(ctx context.Context, in *DeleteInput) (*struct{}, error) {
	if err := a.host.Uninstall(ctx, actorOf(ctx), in.Name, in.Purge); err != nil {
		return nil, fail(err)
	}
	return nil, nil
}

func (a *API) credentials(ctx context.Context, in *NameInput) (*CredentialsOutput, error) {
	c, err := a.host.Credentials(ctx, actorOf(ctx), in.Name)
	if err != nil {
		return nil, fail(err)
	}
	return &CredentialsOutput{Body: c}, nil
}

func (a *API) getJob(ctx context.Context, in *JobInput) (*JobWithEventsOutput, error) {
	j, evs, err := a.host.Job(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, fail(err)
	}
	out := &JobWithEventsOutput{}
	out.Body.Job, out.Body.Events = j, evs
	return out, nil
}

func (a *API) server(ctx context.Context, _ *struct{}) (*ServerOutput, error) {
	s, err := a.host.Server(ctx, actorOf(ctx), a.weakToken)
	if err != nil {
		return nil, fail(err)
	}
	return &ServerOutput{Body: s}, nil
}

func (a *API) nodes(ctx context.Context, _ *struct{}) (*NodesOutput, error) {
	ns, err := a.host.Nodes(ctx, actorOf(ctx))
	if err != nil {
		return nil, fail(err)
	}
	return &NodesOutput{Body: ns}, nil
}
