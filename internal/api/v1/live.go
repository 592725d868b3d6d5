package v1

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/stackhub/stackhub/internal/api/reqauth"
	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/webhook"
)

// WebhooksOutput lists the webhooks: those from WEBHOOKS and those the admin added.
type WebhooksOutput struct {
	Body struct {
		Configured []webhook.Hook  `json:"configured" doc:"from the WEBHOOKS setting; POST the new object's id as text"`
		Custom     []store.Webhook `json:"custom" doc:"added through this API; POST the event as JSON"`
	}
}

// AddWebhookInput adds a JSON webhook.
type AddWebhookInput struct {
	Body struct {
		Event string `json:"event" doc:"an event type (comment.created), a prefix (comment.*) or *" minLength:"1"`
		URL   string `json:"url" doc:"http or https address to POST to" minLength:"1"`
	}
}

// WebhookOutput is one added webhook.
type WebhookOutput struct {
	Status int
	Body   *store.Webhook
}

// WebhookIDInput names an added webhook.
type WebhookIDInput struct {
	ID int64 `path:"id"`
}

// DeliveriesInput filters the delivery list.
type DeliveriesInput struct {
	State  string `query:"state" doc:"only deliveries in this state: pending, delivered or failed"`
	Max    int    `query:"max" default:"100" minimum:"0" maximum:"1000" doc:"rows"`
	Offset int    `query:"offset" minimum:"0" doc:"rows to skip"`
}

// DeliveriesOutput lists deliveries, newest first.
type DeliveriesOutput struct {
	Body []store.WebhookDelivery
}

func (a *API) registerLive(api huma.API, mux *http.ServeMux) {
	tags := []string{"webhooks"}
	huma.Register(api, huma.Operation{OperationID: "list-webhooks", Method: http.MethodGet, Path: Prefix + "/webhooks",
		Summary: "List the webhooks (admin)", Tags: tags}, a.listWebhooks)
	huma.Register(api, huma.Operation{OperationID: "add-webhook", Method: http.MethodPost, Path: Prefix + "/webhooks",
		Summary: "Add a JSON webhook for an event type (admin)", Tags: tags, DefaultStatus: http.StatusCreated},
		a.addWebhook)
	huma.Register(api, huma.Operation{OperationID: "delete-webhook", Method: http.MethodDelete,
		Path: Prefix + "/webhooks/{id}", Summary: "Remove an added webhook and cancel its pending deliveries (admin)",
		Tags: tags, DefaultStatus: http.StatusNoContent}, a.deleteWebhook)
	huma.Register(api, huma.Operation{OperationID: "list-webhook-deliveries", Method: http.MethodGet,
		Path: Prefix + "/webhooks/deliveries", Summary: "Recent webhook deliveries and their results (admin)",
		Tags: tags}, a.listDeliveries)
	mux.HandleFunc("GET "+Prefix+"/events", a.events)
}

// events streams live events over WebSocket or Server-Sent Events. Browsers cannot set headers on either, so the
// doge_token and geekapk_* cookies and ?token= work as everywhere else.
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	actor, err := a.auth.Authenticate(r.Context(), reqauth.Credentials(r))
	if err != nil {
		writeProblem(w, err)
		return
	}
	if a.feed == nil {
		writeProblem(w, apperr.New(apperr.Unavailable, "The event stream is not running"))
		return
	}
	if err := a.feed.Serve(w, r, actor); err != nil {
		writeProblem(w, err)
	}
}

func (a *API) webhooks() (*webhook.Service, error) {
	if a.hooks == nil {
		return nil, fail(apperr.New(apperr.Unavailable, "Webhooks are not running"))
	}
	return a.hooks, nil
}

func (a *API) listWebhooks(ctx context.Context, _ *struct{}) (*WebhooksOutput, error) {
	wh, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	configured, custom, err := wh.Hooks(ctx, actorOf(ctx))
	if err != nil {
		return nil, fail(err)
	}
	out := &WebhooksOutput{}
	out.Body.Configured, out.Body.Custom = configured, custom
	if out.Body.Configured == nil {
		out.Body.Configured = []webhook.Hook{}
	}
	return out, nil
}

func (a *API) addWebhook(ctx context.Context, in *AddWebhookInput) (*WebhookOutput, error) {
	wh, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	h, err := wh.AddHook(ctx, actorOf(ctx), in.Body.Event, in.Body.URL)
	if err != nil {
		return nil, fail(err)
	}
	return &WebhookOutput{Status: http.StatusCreated, Body: h}, nil
}

func (a *API) deleteWebhook(ctx context.Context, in *WebhookIDInput) (*struct{}, error) {
	wh, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	if err := wh.DeleteHook(ctx, actorOf(ctx), in.ID); err != nil {
		return nil, fail(err)
	}
	return nil, nil
}

func (a *API) listDeliveries(ctx context.Context, in *DeliveriesInput) (*DeliveriesOutput, error) {
	wh, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	p, err := hub.PageOf(&in.Max, &in.Offset)
	if err != nil {
		return nil, fail(err)
	}
	ds, err := wh.Deliveries(ctx, actorOf(ctx), in.State, p)
	if err != nil {
		return nil, fail(err)
	}
	return &DeliveriesOutput{Body: ds}, nil
}
