// Package host installs catalog apps onto this server as Compose projects: it validates requests, books ports,
// renders the project, and runs durable jobs through the engine, rolling back what a failed job created.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// Config are the host settings.
type Config struct {
	DataDir       string        // projects live in DataDir/apps/<name>
	Prefix        string        // project and main container names are <Prefix>-<name>
	PublicAddress string        // the server address used in W9_URL
	PublishIP     string        // where new installs publish their ports: "" every interface, "127.0.0.1" loopback
	HealthTimeout time.Duration // how long an install waits for health
	// StoreOrder is the admin's preferred order of stores (--store-order): an install that names no store takes
	// the newest version of the first of them that has the app; stores not listed come after, by name.
	StoreOrder []string
	Leases     JobLeases // replicas on PostgreSQL share the jobs through it; nil: one process
}

const (
	portMax         = 65535 // booking steps up from a template's default port to at most this
	backupRetention = 3     // how many snapshots to keep per instance
)

// Service is the host.
type Service struct {
	store  *store.Store
	engine engine.Engine
	// cluster is engine when it runs apps on several nodes (--engine swarm): installs may name a node, statuses
	// watch the nodes, and the edge reaches apps at their node's address. nil on a single engine.
	cluster engine.Cluster
	bus     *events.Bus
	log     *slog.Logger
	cfg     Config
	now     func() time.Time

	bookMu  sync.Mutex // serialises port booking, so two installs never pick the same free port
	jobs    sync.WaitGroup
	ctx     context.Context // jobs run under it; cancelled by Close
	cancel  context.CancelFunc
	busy    sync.Map // instance name → *claim: one job per instance at a time
	probe   *http.Client
	domains Domains    // the edge's routes, for installs with a domain; nil refuses them
	audit   *audit.Log // nil records nothing
}

// SetAudit makes the service record its changes in l (docs/accounts.md).
func (s *Service) SetAudit(l *audit.Log) { s.audit = l }

// New returns the host service. Call Reconcile once at start, and Close at shutdown.
func New(st *store.Store, eng engine.Engine, bus *events.Bus, log *slog.Logger, cfg Config) *Service {
	if cfg.Prefix == "" {
		cfg.Prefix = "stackhub"
	}
	if cfg.HealthTimeout == 0 {
		cfg.HealthTimeout = 5 * time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	probe := &http.Client{Timeout: 2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cl, _ := eng.(engine.Cluster)
	return &Service{store: st, engine: eng, cluster: cl, bus: bus, log: log, cfg: cfg, now: time.Now, ctx: ctx,
		cancel: cancel, probe: probe}
}

// Close stops running jobs where they are (Reconcile finishes them on the next start) and waits for them.
func (s *Service) Close() {
	s.cancel()
	s.jobs.Wait()
}

func (s *Service) ms() int64 { return s.now().UnixMilli() }

// nameRe is the instance name rule: it becomes a path, a Compose project and container names.
var nameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}$`)

// CheckName refuses a name that is not a safe instance name.
func CheckName(name string) error {
	if !nameRe.MatchString(name) {
		return apperr.Field(apperr.Invalid, "appId",
			"%q is not a valid instance name: use 2 to 31 lowercase letters, digits or -, starting with a letter", name)
	}
	return nil
}

// Project is the Compose project name of an instance.
func (s *Service) Project(name string) string { return s.cfg.Prefix + "-" + name }

// require is the host's one permission check: host:read to look, host:write to change (docs/accounts.md).
func require(a auth.Actor, s auth.Scope) error { return auth.Can(a, s) }

func notInstalled(err error, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.Wrap(apperr.NotFound, err, "%s is not installed", name)
	}
	return fmt.Errorf("instance %s: %w", name, err)
}

// installed reads an instance for a caller with scope sc: anybody else is refused before anything is read, and
// a name not installed is NotFound.
func (s *Service) installed(ctx context.Context, a auth.Actor, sc auth.Scope, name string) (*store.Instance, error) {
	if err := require(a, sc); err != nil {
		return nil, err
	}
	inst, err := s.store.Q().Instance(ctx, name)
	if err != nil {
		return nil, notInstalled(err, name)
	}
	return inst, nil
}

// CheckInstance refuses what Instance would refuse (no host:read, not installed) without asking Docker for the
// status, so a stream can answer its error before it starts.
func (s *Service) CheckInstance(ctx context.Context, a auth.Actor, name string) error {
	_, err := s.installed(ctx, a, auth.HostRead, name)
	return err
}

// claim is a job's hold on an instance.
type claim struct {
	finishing atomic.Bool   // the job's work is done and its end about to be visible; only its records remain
	released  chan struct{} // closed by unlock
}

// finishWait bounds the wait for a finishing job's last writes (milliseconds, unless the database hangs).
const finishWait = 30 * time.Second

// lock claims the instance for one job; false means another job holds it. A job that is finishing is waited
// for: a client that saw its end (the instance's status "1" or "2", a stopped app) may start the next job at
// once, and must not be told the instance is busy because the job's log is still being written.
func (s *Service) lock(name string) bool {
	for {
		held, busy := s.busy.LoadOrStore(name, &claim{released: make(chan struct{})})
		if !busy {
			return true
		}
		c := held.(*claim)
		if !c.finishing.Load() {
			return false
		}
		select {
		case <-c.released:
		case <-time.After(finishWait):
			return false
		}
	}
}

func (s *Service) unlock(name string) {
	if held, ok := s.busy.LoadAndDelete(name); ok {
		close(held.(*claim).released)
	}
}

// finishing marks the job holding name as finishing (see lock).
func (s *Service) finishing(name string) {
	if held, ok := s.busy.Load(name); ok {
		held.(*claim).finishing.Store(true)
	}
}

// publish sends a host event; only the admin may see it.
func (s *Service) publish(typ string, payload any) {
	s.bus.Publish(events.Event{Type: typ, AdminOnly: true, Scope: string(auth.HostRead), Payload: payload})
}
