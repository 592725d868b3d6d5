// Package stackhub serves the StackHub/Websoft9 installer contract: installApp and its five siblings, by GET with
// query parameters or POST with JSON or form fields, every answer in the {code, message, data} envelope.
package stackhub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/api/reqauth"
	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/sendtimeout"
)

// Handler serves the contract.
type Handler struct {
	host      *host.Service
	auth      *auth.Service
	log       *slog.Logger
	weakToken bool
}

// New returns the StackHub front door. weakToken tells searchServer to report the admin token as a risk.
func New(h *host.Service, a *auth.Service, log *slog.Logger, weakToken bool) *Handler {
	return &Handler{host: h, auth: a, log: log, weakToken: weakToken}
}

// envelope is every answer's shape.
type envelope struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

type handlerFunc func(r *http.Request, a auth.Actor, p params) (msg string, data any, err error)

// Register mounts the six endpoints, each for GET and POST; any other method is refused in the envelope.
func (h *Handler) Register(mux *http.ServeMux) {
	type endpoint struct {
		fn    handlerFunc
		scope auth.Scope // what the caller needs (docs/accounts.md): operators and tokens with it are let in
	}
	for path, ep := range map[string]endpoint{
		"/installApp": {h.install, auth.HostWrite}, "/uninstallApp": {h.uninstall, auth.HostWrite},
		"/getAppInfo": {h.appInfo, auth.HostRead}, "/getAllAppInfo": {h.allAppInfo, auth.HostRead},
		"/uninstallAllApp": {h.uninstallAll, auth.HostWrite}, "/searchServer": {h.searchServer, auth.HostRead},
	} {
		mux.Handle("GET "+path, h.wrap(ep.fn, ep.scope))
		mux.Handle("POST "+path, h.wrap(ep.fn, ep.scope))
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "GET, HEAD, POST")
			h.write(w, r, "", nil, errMethod)
		})
	}
}

// errMethod is a request with a method other than GET or POST.
var errMethod = apperr.New(apperr.Unsupported, "Send GET with query parameters or POST with a JSON body or form fields")

// Serves reports whether path is one of the six endpoints.
func Serves(path string) bool {
	switch path {
	case "/installApp", "/uninstallApp", "/getAppInfo", "/getAllAppInfo", "/uninstallAllApp", "/searchServer":
		return true
	}
	return false
}

// Refuse answers err in the envelope, for a refusal decided before the endpoint (the cross-origin check).
func (h *Handler) Refuse(w http.ResponseWriter, r *http.Request, err error) {
	h.write(w, r, "", nil, err)
}

// wrap checks the caller holds scope before reading any parameter, then runs fn.
func (h *Handler) wrap(fn handlerFunc, scope auth.Scope) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := h.auth.Authenticate(r.Context(), reqauth.Credentials(r))
		if err == nil {
			err = auth.Can(a, scope)
		}
		var p params
		if err == nil {
			p, err = readParams(w, r)
		}
		var msg string
		var data any
		if err == nil {
			msg, data, err = fn(r, a, p)
		}
		h.write(w, r, msg, data, err)
	})
}

// write encodes the envelope: HTTP 200 always, except 401, 403 and 429 for credentials and 405 for a wrong method.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, msg string, data any, err error) {
	status, env := http.StatusOK, envelope{Code: "1", Message: msg, Data: data}
	if pe, ok := err.(*partial); ok {
		env = envelope{Code: "0", Message: pe.Error(), Data: pe.results}
		err = nil
	}
	if err != nil {
		e := apperr.As(err)
		env = envelope{Code: "0", Message: e.Message, Data: map[string]any{}}
		switch e.Kind {
		case apperr.Unauthorized:
			status = http.StatusUnauthorized
		case apperr.Forbidden:
			status = http.StatusForbidden
		case apperr.RateLimited:
			status = http.StatusTooManyRequests
			retry := max(int(e.RetryAfter.Seconds()), 1)
			w.Header().Set("Retry-After", strconv.Itoa(retry))
			env.Message = fmt.Sprintf("%s (in %d s)", e.Message, retry)
		case apperr.Unsupported:
			if e == errMethod {
				status = http.StatusMethodNotAllowed
			}
		case apperr.Internal:
			h.log.ErrorContext(r.Context(), "stackhub request failed", "path", r.URL.Path, "err", err)
			env.Message = "Internal error; see the server log"
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(env)
}

// params are a request's parameters from the query, a JSON body or form fields.
type params map[string]any

func readParams(w http.ResponseWriter, r *http.Request) (params, error) {
	p := params{}
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	if r.Method != http.MethodPost {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	r.Body = http.MaxBytesReader(sendtimeout.Innermost(w), r.Body, 1<<20)
	switch ct {
	case "application/json", "":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyErr(err)
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			return p, nil
		}
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			return nil, apperr.New(apperr.Invalid, "The body is not a JSON object: send {\"appName\": \"...\"}")
		}
		for k, v := range body {
			p[k] = v
		}
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
			return nil, bodyErr(err)
		}
		for k, v := range r.PostForm {
			p[k] = v[0]
		}
	default:
		return nil, apperr.New(apperr.Unsupported, "Send JSON or form fields, not %s", ct)
	}
	return p, nil
}

// bodyErr says why a body could not be read; over the limit is the usual cause.
func bodyErr(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return apperr.New(apperr.TooLarge, "The body is over the 1 MiB limit: send less")
	}
	return apperr.New(apperr.Invalid, "The request body could not be read: %v", err)
}

// str reads a text parameter.
func (p params) str(name string) (string, error) {
	switch v := p[name].(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	return "", apperr.Field(apperr.Invalid, name, "%s must be text", name)
}

// flag reads a boolean parameter: true, 1, yes or on.
func (p params) flag(name string) bool {
	switch v := p[name].(type) {
	case bool:
		return v
	case string:
		v = strings.ToLower(strings.TrimSpace(v))
		return v == "true" || v == "1" || v == "yes" || v == "on"
	case float64:
		return v != 0
	}
	return false
}

// settings reads the settings object: JSON in a body, or a JSON string in a query or form.
func (p params) settings() (map[string]string, error) {
	raw := p["settings"]
	if s, ok := raw.(string); ok {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, apperr.Field(apperr.Invalid, "settings", `settings must be a JSON object such as {"W9_HTTP_PORT_SET": "9001"}`)
		}
		raw = m
	}
	if raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, apperr.Field(apperr.Invalid, "settings", `settings must be an object such as {"W9_HTTP_PORT_SET": "9001"}`)
	}
	out := map[string]string{}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(v)
		default:
			return nil, apperr.Field(apperr.Invalid, "settings", "setting %s must be text or a number", k)
		}
	}
	return out, nil
}

func (p params) required(name, example string) (string, error) {
	v, err := p.str(name)
	if err == nil && v == "" {
		err = apperr.Field(apperr.Invalid, name, "%s is required, for example %s=%s", name, name, example)
	}
	return v, err
}

func pct(v float64) string { return fmt.Sprintf("%.0f%%", v) }
