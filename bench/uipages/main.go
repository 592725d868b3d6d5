// Command uipages measures how long the web UI's pages take on the server, on the hub benchmark's data set
// (10,000 users, 10,000 apps, 100,000 comments; seed it first with `go run ./bench/hubload -seed-only`).
//
// Each page is requested -n times, one at a time, straight into the real handler chain (middleware, session
// lookup, services, store, templates) with no network in between, so the figure is the server's own time.
// The baseline is the same chain answering GET /api/v1/health, the cheapest request it serves.
//
// Run it from the module root: go run ./bench/uipages -database /tmp/b.db
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stackhub/stackhub/bench/internal/dsn"
	"github.com/stackhub/stackhub/bench/internal/stats"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/engine/docker"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/server"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/sysinfo"
	"github.com/stackhub/stackhub/internal/web"
	"github.com/stackhub/stackhub/internal/webhook"
)

const token = "bench-admin-token-0123456789"

func main() {
	database := flag.String("database", "", "a database seeded by bench/hubload (-seed-only)")
	n := flag.Int("n", 200, "requests per page")
	out := flag.String("out", "", "also write the markdown report to this file")
	flag.Parse()
	if *database == "" {
		fmt.Fprintln(os.Stderr, "uipages: -database is required")
		os.Exit(2)
	}
	if err := run(*database, *n, *out); err != nil {
		fmt.Fprintln(os.Stderr, "uipages:", err)
		os.Exit(1)
	}
}

type target struct {
	name, path string
	cookie     string
}

func run(database string, n int, out string) error {
	ctx := context.Background()
	st, err := store.Open(ctx, database)
	if err != nil {
		return err
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	au := auth.NewService(st, token, auth.DefaultParams(), auth.NewLimiter(1000, time.Minute))
	bus := events.NewBus()
	h := hub.New(st, au, bus, log)
	eng, err := docker.New()
	if err != nil {
		return err
	}
	defer eng.Close()
	dataDir, err := os.MkdirTemp("", "uipages")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	hs := host.New(st, eng, bus, log, host.Config{DataDir: dataDir, Prefix: "uibench", PublicAddress: "127.0.0.1"})
	defer hs.Close()
	metrics := sysinfo.NewHistory(dataDir, time.Second, time.Hour)
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	go metrics.Run(mctx)
	wh, err := webhook.New(ctx, st, nil, log, webhook.Options{}) // pages only: never started, delivers nothing
	if err != nil {
		return err
	}
	ui, err := web.New(web.Deps{Hub: h, Host: hs, Auth: au, Webhooks: wh, Metrics: metrics, Log: log, Version: "bench"})
	if err != nil {
		return err
	}
	handler := server.Handler(server.Deps{Hub: h, Host: hs, Auth: au, Log: log, Version: "bench", UI: ui})

	admin, err := au.SignInAdmin(ctx, token, auth.Credentials{Client: "bench"})
	if err != nil {
		return err
	}
	user, uid, err := benchUser(ctx, h, au)
	if err != nil {
		return err
	}
	hot, err := h.Browse(ctx, hub.BrowseQuery{Sort: "comments", Page: hub.Page{Limit: 1}})
	if err != nil || len(hot) == 0 {
		return fmt.Errorf("find the most commented app: %v", err)
	}
	cats, err := h.Categories(ctx)
	if err != nil || len(cats) == 0 {
		return fmt.Errorf("categories: %v", err)
	}
	time.Sleep(1500 * time.Millisecond) // one metrics sample for the server page
	a := strconv.FormatInt(hot[0].ID, 10)
	targets := []target{
		{"baseline: GET /api/v1/health", "/api/v1/health", ""},
		{"store, first page (anonymous)", "/", ""},
		{"store, first page (admin: installed marks)", "/", admin},
		{"store, sorted by stars", "/?sort=stars", ""},
		{"store, page 100", "/?page=100", ""},
		{"store, search (name, package, description)", "/?q=cloud", ""},
		{"store, one category tree", "/?category=" + strconv.FormatInt(cats[0].ID, 10), ""},
		{"app page, most commented app (" + strconv.FormatInt(hot[0].CommentsNum, 10) + " comments)", "/ui/apps/" + a, user},
		{"app page, app 5000", "/ui/apps/5000", ""},
		{"profile of the app's author", "/ui/users/" + strconv.FormatInt(hot[0].Author, 10), ""},
		{"profile of the bench user (40 stars, 10 comments)", "/ui/users/" + strconv.FormatInt(uid, 10), ""},
		{"site timeline", "/ui/timeline", ""},
		{"notifications", "/ui/notifications", user},
		{"my apps (admin)", "/ui/my-apps", admin},
		{"server (admin)", "/ui/server", admin},
		{"admin: users", "/ui/admin/users", admin},
		{"admin: webhooks and deliveries", "/ui/admin/webhooks", admin},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Web UI server-side page times\n\n%s, %d requests per page, one at a time, in-process "+
		"(handler chain only, no network). Database: %s (%s).\n\n", time.Now().UTC().Format(time.RFC3339), n,
		st.Dialect(), dsn.Redact(database))
	b.WriteString("| page | status | bytes | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|\n")
	for _, t := range targets {
		durs, status, size := measure(handler, t, n)
		fmt.Fprintf(&b, "| %s | %d | %d | %.2f | %.2f | %.2f | %.2f |\n", t.name, status, size,
			ms(stats.Percentile(durs, 50)), ms(stats.Percentile(durs, 95)), ms(stats.Percentile(durs, 99)),
			ms(stats.Percentile(durs, 100)))
	}
	fmt.Print(b.String())
	if out != "" {
		return os.WriteFile(out, []byte(b.String()), 0o644)
	}
	return nil
}

// benchUser makes a user with a password and signs it in. It stars 40 apps and comments on 10, so the site
// timeline and the user's profile have a page of entries (the hub seed writes no timeline).
func benchUser(ctx context.Context, h *hub.Service, au *auth.Service) (string, int64, error) {
	adm := auth.System
	name := "uibench" + strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	uid, metapass, err := h.CreateUser(ctx, adm, hub.UserInput{SimpleName: hub.Some(name)})
	if err != nil {
		return "", 0, fmt.Errorf("bench user: %w", err)
	}
	if err := au.SetPasshash(ctx, uid, metapass, auth.PasshashOf("bench password"), "bench"); err != nil {
		return "", 0, err
	}
	in, err := au.SignInUser(ctx, name, "bench password", auth.Credentials{Client: "bench"})
	if err != nil {
		return "", 0, err
	}
	sess, a := in.Session, in.Actor
	for aid := int64(1); aid <= 40; aid++ {
		if _, err := h.ToggleStar(ctx, a, aid); err != nil {
			return "", 0, err
		}
		if aid <= 10 {
			if _, err := h.CreateComment(ctx, a, aid, hub.CommentInput{Content: hub.Some("Works well here.")}); err != nil {
				return "", 0, err
			}
		}
	}
	return sess, uid, nil
}

func measure(h http.Handler, t target, n int) ([]time.Duration, int, int) {
	durs := make([]time.Duration, 0, n)
	status, size := 0, 0
	for i := range n + 10 {
		req := httptest.NewRequest("GET", t.path, nil)
		if t.cookie != "" {
			req.AddCookie(&http.Cookie{Name: "stackhub_session", Value: t.cookie})
		}
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(start)
		if i >= 10 { // the first requests warm the statement caches
			durs = append(durs, d)
		}
		status, size = rec.Code, rec.Body.Len()
	}
	slices.Sort(durs)
	return durs, status, size
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
