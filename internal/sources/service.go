// Package sources keeps the store sources the admin registered (docs/stores.md §1): a URL of a store's archive
// (.tar.gz or .zip, as code forges serve a repository) or templates.json, fetched with conditional requests,
// unpacked safely, read with the catalog's importers and imported through the hub, on a schedule and on demand.
// Each version a source brings is recorded as its claim, so that a sync that no longer offers it, or removing the
// source, takes it out of the catalog again, except the versions installs use.
package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/store"
)

// Options tune the sources. Zero values take the defaults in brackets.
type Options struct {
	DataDir  string        // downloads are unpacked in <DataDir>/sources/, then removed
	Interval time.Duration // between scheduled rounds over every source; 0: no schedule, on demand only
	Delay    time.Duration // from Start to the first scheduled round, so a start is not slowed [1 min]
	Timeout  time.Duration // one download, connection to last byte [10 min]
	Limits   Limits
}

// Service is the store sources.
type Service struct {
	store  *store.Store
	hub    *hub.Service
	bus    *events.Bus
	log    *slog.Logger
	opt    Options
	client *http.Client
	now    func() time.Time

	busy    sync.Map   // source id → struct{}: a sync or removal of it is running
	catalog sync.Mutex // one sync or sweep changes the catalog at a time, so claims and imports never interleave
	bg      context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup // background syncs and the schedule
}

// New returns the sources service. Call Start to run the schedule and background syncs, and Close at the end.
func New(st *store.Store, h *hub.Service, bus *events.Bus, log *slog.Logger, opt Options) *Service {
	if opt.Delay <= 0 {
		opt.Delay = time.Minute
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Minute
	}
	opt.Limits.defaults()
	bg, stop := context.WithCancel(context.Background())
	return &Service{store: st, hub: h, bus: bus, log: log, opt: opt, client: newClient(opt.Timeout), now: time.Now,
		bg: bg, stop: stop}
}

// Start runs the schedule: every source, one at a time, opt.Delay after the start and then every opt.Interval.
func (s *Service) Start() {
	if s.opt.Interval <= 0 {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(s.opt.Delay)
		defer t.Stop()
		for {
			select {
			case <-s.bg.Done():
				return
			case <-t.C:
			}
			s.syncAll()
			t.Reset(s.opt.Interval)
		}
	}()
}

// Close stops the schedule and background syncs (a download in flight is cut off) and waits for them.
func (s *Service) Close() {
	s.stop()
	s.wg.Wait()
}

// syncAll syncs every source in turn; one already syncing (on demand) is left to that sync.
func (s *Service) syncAll() {
	list, err := s.store.Q().Sources(s.bg)
	if err != nil {
		s.log.Error("list sources", "err", err)
		return
	}
	for _, src := range list {
		if s.bg.Err() != nil {
			return
		}
		if _, err := s.syncLocked(src.ID); err != nil && !apperr.Is(err, apperr.Conflict) {
			s.log.Error("scheduled source sync", "source", src.ID, "err", err)
		}
	}
	if err := s.sweep(s.bg); err != nil && s.bg.Err() == nil {
		s.log.Error("sweep source versions", "err", err)
	}
}

var admin = auth.Actor{Admin: true, Enabled: true}

func requireAdmin(a auth.Actor) error {
	switch {
	case a.Admin:
		return nil
	case a.User:
		return apperr.New(apperr.Forbidden, "Only the admin may manage store sources")
	}
	return apperr.New(apperr.Unauthorized, "Unauthorized, the admin token is required")
}

// AddInput registers a source.
type AddInput struct {
	URL    string `json:"url" doc:"http or https address of a store's .tar.gz or .zip archive, or of a templates.json" minLength:"1"`
	Format string `json:"format,omitempty" doc:"the store's format; detected from the layout when empty"`
	Name   string `json:"name,omitempty" doc:"a name to show; the URL's host and path when empty"`
}

// Add registers a source and starts its first sync in the background (source.synced or source.failed tell how
// it went). Admin only.
func (s *Service) Add(ctx context.Context, a auth.Actor, in AddInput) (*store.Source, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	src, err := checkInput(in)
	if err != nil {
		return nil, err
	}
	src.CreatedAt = s.now().UnixMilli()
	err = s.store.Tx(ctx, func(q *store.Q) error { return q.CreateSource(ctx, src) })
	if errors.Is(err, store.ErrConflict) {
		return nil, apperr.Field(apperr.Conflict, "url", "%s is already a source", src.URL)
	}
	if err != nil {
		return nil, err
	}
	src.Refusals = []string{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if _, err := s.syncLocked(src.ID); err != nil && !apperr.Is(err, apperr.Conflict) {
			s.log.Error("first source sync", "source", src.ID, "err", err)
		}
	}()
	return src, nil
}

func checkInput(in AddInput) (*store.Source, error) {
	raw := strings.TrimSpace(in.URL)
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(raw) > 2000:
		return nil, apperr.Field(apperr.Invalid, "url", "url must be an http or https address of a .tar.gz or .zip archive or a templates.json")
	case u.User != nil:
		return nil, apperr.Field(apperr.Invalid, "url", "url may not hold a user name or password: they would be shown in the list of sources")
	}
	format := strings.TrimSpace(in.Format)
	if format != "" && !slices.Contains(catalog.Formats(), format) {
		return nil, apperr.Field(apperr.Invalid, "format", "format must be one of %s, or empty to detect it",
			strings.Join(catalog.Formats(), ", "))
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = u.Host + u.Path
	}
	if len(name) > 200 {
		return nil, apperr.Field(apperr.Invalid, "name", "name may hold at most 200 bytes")
	}
	return &store.Source{URL: raw, Name: name, Format: format}, nil
}

// List lists the sources with their last sync. Admin only.
func (s *Service) List(ctx context.Context, a auth.Actor) ([]store.Source, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	return s.store.Q().Sources(ctx)
}

// Sync syncs a source now and returns it with the result. A sync of it already running is a conflict. Admin only.
func (s *Service) Sync(ctx context.Context, a auth.Actor, id int64) (*store.Source, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	if _, err := s.source(ctx, id); err != nil {
		return nil, err
	}
	return s.syncLocked(id)
}

// Remove removes a source: the versions it brought leave the catalog, except those an install uses, which leave
// once it is uninstalled (at a later sync). Admin only.
func (s *Service) Remove(ctx context.Context, a auth.Actor, id int64) error {
	if err := requireAdmin(a); err != nil {
		return err
	}
	if !s.lock(id) {
		return busyError(id)
	}
	defer s.unlock(id)
	err := s.store.Tx(ctx, func(q *store.Q) error { return q.MarkSourceRemoved(ctx, id, s.now().UnixMilli()) })
	if errors.Is(err, store.ErrNotFound) {
		return apperr.Wrap(apperr.NotFound, err, "Resource was not found: source %d", id)
	}
	if err != nil {
		return err
	}
	// Once marked, the removal is durable: what the sweep does not finish now, the next one does.
	return s.sweep(context.WithoutCancel(ctx))
}

func (s *Service) source(ctx context.Context, id int64) (*store.Source, error) {
	src, err := s.store.Q().Source(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.Wrap(apperr.NotFound, err, "Resource was not found: source %d", id)
	}
	return src, err
}

func (s *Service) lock(id int64) bool {
	_, running := s.busy.LoadOrStore(id, struct{}{})
	return !running
}

func (s *Service) unlock(id int64) { s.busy.Delete(id) }

func busyError(id int64) error {
	return apperr.New(apperr.Conflict, "source %d is syncing now; try again when it has finished", id)
}

// tempDir is a fresh folder for one sync under the data dir (not /tmp, which may be small or in memory).
func (s *Service) tempDir() (string, error) {
	base := filepath.Join(s.opt.DataDir, "sources")
	if err := os.MkdirAll(base, 0o750); err != nil {
		return "", fmt.Errorf("sources folder: %w", err)
	}
	return os.MkdirTemp(base, "sync-")
}
