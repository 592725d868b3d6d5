// Package web is the HTML face of StackHub: server-rendered pages over the same services as the APIs, with a
// little hand-written JavaScript for what must be live. Templates and static files are embedded.
package web

import (
	"embed"
	"errors"
	"fmt"
	"github.com/stackhub/stackhub/internal/edge"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/sources"
	"github.com/stackhub/stackhub/internal/sysinfo"
	"github.com/stackhub/stackhub/internal/webhook"
)

//go:embed all:templates static
var files embed.FS

// Deps are the services the pages call.
type Deps struct {
	Hub       *hub.Service
	Host      *host.Service
	Auth      *auth.Service
	Webhooks  *webhook.Service
	Sources   *sources.Service // the admin's store sources page; nil: the page says they are not running
	Metrics   *sysinfo.History // the server page's last hour; nil: the page samples on demand only
	Log       *slog.Logger
	Version   string
	WeakToken bool
	Edge      *edge.Edge // the routes of the app pages' Domains section; nil hides it
	Audit     *audit.Log // the admin's audit page
}

// UI serves the pages.
type UI struct {
	d      Deps
	pages  map[string]*page
	static http.Handler
	boot   string // cache-busting suffix of static URLs
}

// New finds the pages; each is parsed when first shown (TestEveryPageParses parses them all).
func New(d Deps) (*UI, error) {
	if d.Hub == nil || d.Host == nil || d.Auth == nil || d.Webhooks == nil {
		return nil, errors.New("web: the hub, host, auth and webhook services are all required")
	}
	pages, err := pageFiles()
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(files, "static")
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	u := &UI{d: d, pages: pages, boot: fmt.Sprintf("%x", time.Now().Unix())}
	u.static = http.StripPrefix("/static/", cacheStatic(http.FileServerFS(sub)))
	return u, nil
}

// Register mounts the UI: "/" (the store) and everything under /ui/ and /static/.
func (u *UI) Register(mux *http.ServeMux) {
	mux.Handle("GET /static/", u.static)
	u.registerSession(mux)
	u.registerStore(mux)
	u.registerApp(mux)
	u.registerHost(mux)
	u.registerPeople(mux)
	u.registerAdmin(mux)
	u.registerSources(mux)
	u.registerAccounts(mux)
}

// cacheStatic lets browsers keep the assets: their URLs change with every start of the server.
func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}
