// Package v1 serves the modern JSON API under /api/v1, described by OpenAPI at /api/v1/openapi.json.
package v1

import (
	"bytes"
	"context"
	"github.com/stackhub/stackhub/internal/edge"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/stackhub/stackhub/internal/api/reqauth"
	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/certs"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/realtime"
	"github.com/stackhub/stackhub/internal/sources"
	"github.com/stackhub/stackhub/internal/webhook"
)

// Prefix is where this API lives.
const Prefix = "/api/v1"

// Problem is the v1 error body: {"error": {"code", "message", "field"}}.
type Problem struct {
	status int
	Err    ProblemBody `json:"error"`
}

// ProblemBody is the inside of a Problem.
type ProblemBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (p *Problem) Error() string  { return p.Err.Message }
func (p *Problem) GetStatus() int { return p.status }

var codeOf = map[apperr.Kind]string{
	apperr.Internal: "internal", apperr.Invalid: "invalid", apperr.Unauthorized: "unauthorized",
	apperr.Forbidden: "forbidden", apperr.NotFound: "not_found", apperr.Conflict: "conflict",
	apperr.TooLarge: "too_large", apperr.Unsupported: "unsupported_media_type",
	apperr.RateLimited: "rate_limited", apperr.Unavailable: "unavailable",
}

// API is the v1 front door.
type API struct {
	hub       *hub.Service
	host      *host.Service
	auth      *auth.Service
	version   string
	weakToken bool
	feed      *realtime.Feed
	hooks     *webhook.Service
	sources   *sources.Service
	edge      *edge.Edge
	certMgr   *certs.Manager
	audit     *audit.Log
}

// Deps are the services behind /api/v1.
type Deps struct {
	Hub       *hub.Service
	Host      *host.Service
	Auth      *auth.Service
	Version   string
	WeakToken bool
	Feed      *realtime.Feed   // serves GET /api/v1/events; nil answers 503
	Webhooks  *webhook.Service // serves /api/v1/webhooks; nil answers 503
	Sources   *sources.Service // serves /api/v1/sources; nil answers 503
	Edge      *edge.Edge       // serves /api/v1/installs/{name}/domains; nil answers 503
	Certs     *certs.Manager   // serves /api/v1/certificates and /api/v1/ca.pem; nil answers 503
	Audit     *audit.Log       // serves /api/v1/audit
	NotFound  http.Handler     // answers a path under /api/v1 that is not the API's; nil: net/http's 404
}

type actorKey struct{}

// The library's documented hook for a custom error shape is a package variable: set once, before any server (a
// test process runs several at once) registers or serves.
func init() { huma.NewError = newProblem }

// Register mounts /api/v1 on mux, through a mux of its own so that requests for the OpenAPI document can be
// serialized: huma marshals it on its first request into a variable with no lock. The document is made into a
// buffer under the lock and sent after, so that a client that does not read holds nobody else up.
func Register(mux *http.ServeMux, d Deps) {
	inner := http.NewServeMux()
	register(inner, d)
	if d.NotFound != nil {
		inner.Handle("/", d.NotFound)
	}
	var specMu sync.Mutex
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, specPath) {
			inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		func() {
			specMu.Lock()
			defer specMu.Unlock() // a panic, which the server recovers from, must not leave it locked
			inner.ServeHTTP(rec, r)
		}()
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = rec.Body.WriteTo(w)
	})
	mux.Handle(Prefix+"/", api)
	mux.Handle(Prefix, api)
}

// specPath is where the OpenAPI document is served, as JSON and YAML, 3.1 and 3.0.
const specPath = Prefix + "/openapi"

func register(mux *http.ServeMux, d Deps) {
	h, version := d.Hub, d.Version
	cfg := huma.DefaultConfig("StackHub API", version)
	cfg.OpenAPIPath = specPath
	cfg.DocsPath = Prefix + "/docs"
	cfg.SchemasPath = Prefix + "/schemas"
	cfg.Servers = nil
	api := humago.New(mux, cfg)
	a := &API{hub: h, host: d.Host, auth: d.Auth, version: version, weakToken: d.WeakToken, feed: d.Feed,
		hooks: d.Webhooks, sources: d.Sources, edge: d.Edge, certMgr: d.Certs, audit: d.Audit}
	api.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
		r, _ := humago.Unwrap(ctx)
		actor, err := a.auth.Authenticate(r.Context(), reqauth.Credentials(r))
		if err != nil {
			p := fail(err).(*Problem)
			_ = huma.WriteErr(api, ctx, p.status, p.Err.Message)
			return
		}
		if err := a.boundStackBody(ctx, r, actor); err != nil {
			p := fail(err).(*Problem)
			_ = huma.WriteErr(api, ctx, p.status, p.Err.Message)
			return
		}
		ctx = huma.WithValue(ctx, actorKey{}, actor)
		next(huma.WithValue(ctx, reqKey{}, reqInfo{client: reqauth.ClientAddr(r), rp: reqauth.RelyingParty(r)}))
	})
	a.registerHost(api, mux)
	a.registerLive(api, mux)
	a.registerSources(api)
	a.registerAccount(api)
	a.registerDomains(api)
	a.registerCerts(api, mux)
	a.registerAccounts(api)
	huma.Register(api, huma.Operation{
		OperationID: "health", Method: http.MethodGet, Path: Prefix + "/health",
		Summary: "Is the server up and its database reachable", Tags: []string{"server"},
	}, a.health)
}

func newProblem(status int, msg string, errs ...error) huma.StatusError {
	p := &Problem{status: status, Err: ProblemBody{Code: http.StatusText(status), Message: msg}}
	for _, e := range errs {
		if d, ok := e.(huma.ErrorDetailer); ok && d.ErrorDetail() != nil {
			p.Err.Message += ": " + d.ErrorDetail().Message
			p.Err.Field = d.ErrorDetail().Location
			break
		}
	}
	return p
}

// fail converts a service error into a Problem; internal causes stay in the log.
func fail(err error) error {
	e := apperr.As(err)
	st := apperr.HTTPStatus(e.Kind)
	msg := e.Message
	if e.Kind == apperr.Internal {
		msg = "internal error"
	}
	return &Problem{status: st, Err: ProblemBody{Code: codeOf[e.Kind], Message: msg, Field: e.Field}}
}

func actorOf(ctx context.Context) auth.Actor {
	a, _ := ctx.Value(actorKey{}).(auth.Actor)
	return a
}

// HealthOutput is the health report.
type HealthOutput struct {
	Body struct {
		Status   string `json:"status" example:"ok"`
		Database string `json:"database" example:"sqlite"`
		Version  string `json:"version"`
	}
}

func (a *API) health(ctx context.Context, _ *struct{}) (*HealthOutput, error) {
	if err := a.hub.Ping(ctx); err != nil {
		return nil, fail(err)
	}
	out := &HealthOutput{}
	out.Body.Status, out.Body.Database, out.Body.Version = "ok", a.hub.Engine(), a.version
	return out, nil
}

// boundStackBody reads the body of a stack-carrying operation up front when its caller may send less than the
// operation's ceiling (which is the admin's): an ordinary user's upload is refused past their own limit instead
// of being read whole into memory first.
func (a *API) boundStackBody(ctx huma.Context, r *http.Request, actor auth.Actor) error {
	op := ctx.Operation()
	if op == nil || op.MaxBodyBytes != maxStackBody {
		return nil
	}
	limit := a.hub.StackBodyLimit(actor)
	if limit >= maxStackBody {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	_ = r.Body.Close()
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "the request body could not be read: %v", err)
	}
	if int64(len(body)) > limit {
		return apperr.New(apperr.TooLarge, "the request body is over %d bytes, twice the limit of %d bytes for a stack a user publishes; the administrator sets that limit with stackhub serve --max-stack-size",
			limit, limit/2).WithField("body")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}
