// Package server assembles the front doors on one mux behind the middleware chain.
package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"github.com/stackhub/stackhub/internal/edge"
	"log/slog"
	"net/http"
	"time"

	"github.com/stackhub/stackhub/internal/api/geekapk"
	"github.com/stackhub/stackhub/internal/api/stackhub"
	v1 "github.com/stackhub/stackhub/internal/api/v1"
	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/certs"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/idle"
	"github.com/stackhub/stackhub/internal/logx"
	"github.com/stackhub/stackhub/internal/realtime"
	"github.com/stackhub/stackhub/internal/sendtimeout"
	"github.com/stackhub/stackhub/internal/sources"
	"github.com/stackhub/stackhub/internal/web"
	"github.com/stackhub/stackhub/internal/webhook"
)

// Deps are the services the front doors call.
type Deps struct {
	Hub       *hub.Service
	Host      *host.Service
	Auth      *auth.Service
	Log       *slog.Logger
	Version   string
	WeakToken bool             // the admin token is weak: searchServer reports it
	Feed      *realtime.Feed   // the event stream behind GET /api/v1/events
	Webhooks  *webhook.Service // the delivery queue behind /api/v1/webhooks
	Sources   *sources.Service // the store sources behind /api/v1/sources
	Certs     *certs.Manager   // the edge's certificates behind /api/v1/certificates and /api/v1/ca.pem
	UI        *web.UI          // the web UI at / and /ui/; nil serves the APIs only
	Idle      *idle.Releaser   // told of every request, to free memory when they stop; nil for none
	Edge      *edge.Edge       // the routes behind /api/v1/installs/{name}/domains and the edge's sign-in; nil for none
	Audit     *audit.Log       // the audit log behind GET /api/v1/audit
}

// Handler returns the whole HTTP surface: the GeekApk paths at the root, /api/v1 and the web UI. Every write
// from another origin is refused (http.CrossOriginProtection): browsers send cookies, and the APIs accept them. A
// client that stops reading an answer is given up after a minute without progress (sendtimeout).
func Handler(d Deps) http.Handler {
	mux := http.NewServeMux()
	var hooks []webhook.Hook // the GeekApk API lists the configured ones
	if d.Webhooks != nil {
		hooks = d.Webhooks.Configured()
	}
	geekapk.New(d.Hub, d.Auth, hooks, d.Log, d.Version).Register(mux)
	installer := stackhub.New(d.Host, d.Auth, d.Log, d.WeakToken)
	installer.Register(mux)
	v1.Register(mux, v1.Deps{Hub: d.Hub, Host: d.Host, Auth: d.Auth, Version: d.Version, WeakToken: d.WeakToken,
		Feed: d.Feed, Webhooks: d.Webhooks, Sources: d.Sources, Edge: d.Edge, Certs: d.Certs, Audit: d.Audit,
		NotFound: http.HandlerFunc(notFound)})
	if d.Edge != nil {
		mux.HandleFunc("GET "+edge.AuthorizePath, d.Edge.Authorize)
	}
	if d.UI != nil {
		d.UI.Register(mux)
	}
	mux.HandleFunc("/", notFound)
	return recoverer(d.Log, sendtimeout.Handler(logRequests(d.Log, d.Idle, sameOrigin(mux, installer))))
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": 404, "message": "Resource was not found"})
}

// sameOrigin refuses writes from another origin (http.CrossOriginProtection); the installer endpoints refuse in
// their envelope, everything else in plain text.
func sameOrigin(next http.Handler, installer *stackhub.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := cop.Check(r)
		switch {
		case err == nil:
			next.ServeHTTP(w, r)
		case stackhub.Serves(r.URL.Path):
			installer.Refuse(w, r, apperr.Wrap(apperr.Forbidden, err,
				"Refused: %v. Call the installer from this server's own pages, or from a script without browser cookies", err))
		default:
			http.Error(w, err.Error(), http.StatusForbidden)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets streaming handlers reach the connection's Flush and Hijack through http.ResponseController.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs each request with an id, and marks it as work for rel. The query string is never logged: it
// may hold the admin token.
func logRequests(log *slog.Logger, rel *idle.Releaser, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rel.Touch()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(logx.WithRequestID(r.Context(), id))
		// The log line is at debug level: when it is off, neither the status wrapper, the clock nor the boxed
		// arguments are paid for on every request.
		if !log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r)
		log.DebugContext(r.Context(), "request", "id", id, "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"dur", time.Since(start))
	})
}

func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				http.Error(w, `{"status":500,"message":"Internal server error"}`, http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
