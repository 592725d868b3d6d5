// Package geekapk serves the GeekApk community contract at the server root. Handlers decode, call one hub
// method, and encode; the contract's error shape is written in exactly one place (writeError).
package geekapk

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/api/reqauth"
	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/sendtimeout"
	"github.com/stackhub/stackhub/internal/webhook"
)

// APIVersion is the contract version reported by /version.
const APIVersion = "1"

// Handler serves the contract.
type Handler struct {
	hub     *hub.Service
	auth    *auth.Service
	hooks   []webhook.Hook
	log     *slog.Logger
	version string
}

// New returns the GeekApk front door.
func New(h *hub.Service, a *auth.Service, hooks []webhook.Hook, log *slog.Logger, version string) *Handler {
	return &Handler{hub: h, auth: a, hooks: hooks, log: log, version: version}
}

// handlerFunc is a handler that returns its error for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (h *Handler) handle(mux *http.ServeMux, pattern string, fn handlerFunc) {
	mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	}))
}

// writeError encodes any error as {"status": code, "message": text}. Internal causes go to the log only.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := apperr.As(err)
	status := apperr.HTTPStatus(e.Kind)
	msg := e.Message
	if e.Kind == apperr.Internal {
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Internal server error"
	}
	if e.Kind == apperr.RateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(e.RetryAfter.Seconds(), 1)))))
	}
	writeJSON(w, status, map[string]any{"status": status, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func writeText(w http.ResponseWriter, status int, s string) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write([]byte(s))
	return err
}

// gone answers a successful DELETE.
func gone(w http.ResponseWriter) error {
	return writeJSON(w, http.StatusGone, map[string]any{"status": http.StatusGone, "message": "Gone"})
}

func (h *Handler) actor(r *http.Request) (auth.Actor, error) {
	return h.auth.Authenticate(r.Context(), reqauth.Credentials(r))
}

func clientAddr(r *http.Request) string { return reqauth.ClientAddr(r) }

// pathID parses a numeric path value.
func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, apperr.Field(apperr.Invalid, name, "%s must be a number, not %q", name, v)
	}
	return id, nil
}

func queryInt(q url.Values, name string) (*int, error) {
	if !q.Has(name) {
		return nil, nil
	}
	n, err := strconv.Atoi(q.Get(name))
	if err != nil {
		return nil, apperr.Field(apperr.Invalid, name, "%s must be a whole number", name)
	}
	return &n, nil
}

// query parses the query string; nil when there is none, which reads as empty without allocating a map (the hot
// reads mostly come without one, or parse it once for several parameters).
func query(r *http.Request) url.Values {
	if r.URL.RawQuery == "" {
		return nil
	}
	return r.URL.Query()
}

// page reads max and offset.
func page(r *http.Request) (hub.Page, error) {
	return pageOf(query(r))
}

// pageOf reads max and offset from a parsed query.
func pageOf(q url.Values) (hub.Page, error) {
	m, err := queryInt(q, "max")
	if err != nil {
		return hub.Page{}, err
	}
	o, err := queryInt(q, "offset")
	if err != nil {
		return hub.Page{}, err
	}
	return hub.PageOf(m, o)
}

// flag reads a presence flag such as ?short or ?recursive; "0" and "false" turn it off.
func flag(r *http.Request, name string) bool {
	q := query(r)
	if !q.Has(name) {
		return false
	}
	v := strings.ToLower(q.Get(name))
	return v != "0" && v != "false"
}

// maxBody bounds request bodies. The largest field is a version's stack (1 MiB, checked by the catalog with a
// clear message), so the body may be a little larger than that.
const maxBody = 4 << 20

// readToken reads a plain-text body holding one word (a token, an id, a name), without surrounding space.
func readToken(w http.ResponseWriter, r *http.Request) (string, error) {
	s, err := readText(w, r)
	return strings.TrimSpace(s), err
}

// readText reads a plain-text body (a keyword, a comment) as sent.
func readText(w http.ResponseWriter, r *http.Request) (string, error) {
	ct := mediaType(r)
	if ct == "application/json" || strings.HasPrefix(ct, "multipart/") {
		return "", apperr.New(apperr.Unsupported, "This endpoint takes a text/plain body, not %s", ct)
	}
	b, err := readBody(w, r)
	return string(b), err
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	r.Body = http.MaxBytesReader(sendtimeout.Innermost(w), r.Body, maxBody)
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, apperr.Field(apperr.TooLarge, "body", "Request content too large: the body must be under %d bytes", maxBody)
	}
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "I can't recognize your request")
	}
	return b, nil
}

func mediaType(r *http.Request) string {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(ct))
}

// readObject reads a JSON object body; a missing content type is accepted.
func readObject(w http.ResponseWriter, r *http.Request) (fields, error) {
	if ct := mediaType(r); ct != "" && ct != "application/json" {
		return nil, apperr.New(apperr.Unsupported, "This endpoint takes application/json, not %s", ct)
	}
	b, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	return parseObject(b)
}

func fieldErr(field, msg string) error {
	return apperr.Field(apperr.Invalid, field, "%s: %s", field, msg)
}
