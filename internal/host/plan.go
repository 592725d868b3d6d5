package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/store"
)

// InstallPlan is what an install of one app would look like now: the choices an install form offers, filled
// with values that would be accepted. Computing it books and creates nothing.
type InstallPlan struct {
	AppID    int64    `json:"app_id"`
	App      string   `json:"app"`      // the template key (package)
	AppName  string   `json:"app_name"` // the catalog's display name
	Versions []string `json:"versions"` // installable versions, newest first (each once, whichever stores have it)
	Version  string   `json:"version"`  // the version this plan is for
	Store    string   `json:"store"`    // the store of that version ("" for a version a user published)
	// Choices are every installable version with its store, grouped by store in the admin's order, newest first.
	Choices []PlanChoice `json:"choices"`
	Choice  string       `json:"choice"` // the value of the choice this plan is for
	Name    string       `json:"name"`   // a free instance name: the key, else key-2, key-3…
	// Settings are the template's user settings with the values to propose; ports are free host ports now.
	Settings     []PlanSetting        `json:"settings"`
	Requirements catalog.Requirements `json:"requirements"`
	HostAccess   []string             `json:"host_access"` // why the app needs power over the host; empty: none
	// Shortfall says why the server's free resources fall short of the requirements; installing then needs force.
	Shortfall string `json:"shortfall,omitempty"`
	// Nodes are the hostnames of the cluster nodes an install may name (ready and active); empty on a single engine.
	Nodes []string `json:"nodes,omitempty"`
}

// PlanChoice is one installable version of one store.
type PlanChoice struct {
	Value   string `json:"value"` // as an install's version takes it: store:version, or the version when one store has them all
	Store   string `json:"store"`
	Version string `json:"version"`
}

// planChoices lists ups' installable versions by store in order, newest first.
func planChoices(ups []store.Update, order []string) []PlanChoice {
	var out []PlanChoice
	for _, u := range ups {
		if u.Stack != nil {
			out = append(out, PlanChoice{Value: VersionChoice(u), Store: u.Store, Version: u.Version})
		}
	}
	if !slices.ContainsFunc(out, func(c PlanChoice) bool { return c.Store != out[0].Store }) {
		for i := range out {
			out[i].Value = out[i].Version // one store: a version names the choice
		}
	}
	slices.SortStableFunc(out, func(a, b PlanChoice) int {
		switch {
		case a.Store == b.Store:
			return 0
		case storeBefore(a.Store, b.Store, order):
			return -1
		}
		return 1
	})
	return out
}

// PlanSetting is one user setting as an install form shows it.
type PlanSetting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Port  bool   `json:"port"`
	Hint  string `json:"hint,omitempty"` // what an empty value means
}

// Plan prepares an install form for an app given by key or catalog id, at version ("store:version", a version,
// or empty: the newest of the preferred store, as Install picks).
func (s *Service) Plan(ctx context.Context, a auth.Actor, app, version string) (*InstallPlan, error) {
	if err := require(a, auth.HostRead); err != nil {
		return nil, err
	}
	rec, err := s.appByKeyOrID(ctx, app)
	if err != nil {
		return nil, err
	}
	key := *rec.Package
	p := &InstallPlan{AppID: rec.ID, App: key, AppName: rec.Name}
	ups, err := s.updates(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	p.Versions, p.Choices = installable(ups), planChoices(ups, s.cfg.StoreOrder)
	up, stack, err := pickVersion(key, "", version, ups, s.cfg.StoreOrder)
	if err != nil {
		return nil, err
	}
	p.Version, p.Store = up.Version, up.Store
	for _, c := range p.Choices {
		if c.Store == up.Store && c.Version == up.Version {
			p.Choice = c.Value
		}
	}
	p.Requirements, p.HostAccess = stack.Requirements, stack.HostAccess
	if err := s.checkResources(ctx, key, "", stack.Requirements); err != nil {
		if apperr.As(err).Kind != apperr.Invalid {
			return nil, err
		}
		p.Shortfall = apperr.As(err).Message
	}
	if p.Nodes, err = s.installNodes(ctx); err != nil {
		return nil, err
	}
	if p.Name, err = s.freeName(ctx, key); err != nil {
		return nil, err
	}
	if p.Settings, err = s.planSettings(ctx, p.Name, stack); err != nil {
		return nil, err
	}
	return p, nil
}

// appByKeyOrID finds a catalog app by its package key, or by its numeric id; it must have a key to be installable.
func (s *Service) appByKeyOrID(ctx context.Context, app string) (*store.App, error) {
	q := s.store.Q()
	var rec *store.App
	var err error
	if id, perr := strconv.ParseInt(app, 10, 64); perr == nil {
		rec, err = q.App(ctx, id)
	} else {
		rec, err = q.AppByPackage(ctx, app)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.Field(apperr.NotFound, "appName", "%s is not in the catalog", app)
	}
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", app, err)
	}
	if rec.Package == nil || *rec.Package == "" {
		return nil, apperr.Field(apperr.Invalid, "appName", "%s has no package name, so it has no install template", rec.Name)
	}
	return rec, nil
}

// updates lists all of an app's versions with their stacks, newest first.
func (s *Service) updates(ctx context.Context, appID int64) ([]store.Update, error) {
	ups, err := s.store.Q().Updates(ctx, appID, true, store.Page{Limit: 100_000})
	if err != nil {
		return nil, fmt.Errorf("versions of app %d: %w", appID, err)
	}
	return ups, nil
}

// versions lists an app's installable versions (those with a stack), newest first.
func (s *Service) versions(ctx context.Context, appID int64) ([]string, error) {
	ups, err := s.updates(ctx, appID)
	if err != nil {
		return nil, err
	}
	return installable(ups), nil
}

// freeName is the first of key, key-2, key-3… that no instance and no Docker project uses; key is first made a
// valid instance name.
func (s *Service) freeName(ctx context.Context, key string) (string, error) {
	base := nameBase(key)
	for i := 1; i <= 100; i++ {
		name := base
		if i > 1 {
			suffix := "-" + strconv.Itoa(i)
			name = base[:min(len(base), 31-len(suffix))] + suffix
		}
		if _, err := s.store.Q().Instance(ctx, name); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("instance %s: %w", name, err)
		}
		taken, err := s.engine.Exists(ctx, s.Project(name), s.Project(name))
		if err != nil {
			return "", apperr.Wrap(apperr.Unavailable, err, "Docker Engine does not answer; is dockerd running?")
		}
		if !taken {
			return name, nil
		}
	}
	return "", nil // a hundred copies: let the admin choose
}

// nameBase turns an app key into a valid instance name: lowercase, other characters as "-", a letter first.
func nameBase(key string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(key) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		name = "app-" + name
	}
	if len(name) < 2 {
		name += "-1"
	}
	return strings.TrimRight(name[:min(len(name), 31)], "-")
}

// planSettings proposes every setting's value: the template's default, a port free now for port settings, and
// nothing for W9_URL (the engine derives it from the web port).
func (s *Service) planSettings(ctx context.Context, name string, stack *catalog.Stack) ([]PlanSetting, error) {
	settings, err := stack.Settings()
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	// bookPorts only computes; holding bookMu keeps an install from booking between its reads.
	s.bookMu.Lock()
	ports, err := s.bookPorts(ctx, name, stack.Compose, settings, nil)
	s.bookMu.Unlock()
	if err != nil {
		return nil, err
	}
	free := map[string]int{}
	for _, b := range ports {
		free[b.Variable] = b.Port
	}
	out := make([]PlanSetting, 0, len(settings))
	for _, st := range settings {
		ps := PlanSetting{Name: st.Name, Value: st.Default, Port: st.Port}
		switch {
		case st.Port:
			ps.Value = strconv.Itoa(free[st.Name])
			ps.Hint = "free now; leave it empty to take the first free port from " + st.Default
		case st.Name == catalog.VarURL:
			ps.Value = ""
			ps.Hint = "empty: " + s.URLFor("<web port>")
		}
		out = append(out, ps)
	}
	return out, nil
}

// URLFor is the address an app on port is reached at: the configured public address (default scheme http),
// or "" when none is configured, so a page uses the host it was reached by.
func (s *Service) URLFor(port string) string {
	addr := strings.TrimRight(s.cfg.PublicAddress, "/")
	if addr == "" || port == "" {
		return ""
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return addr + ":" + port
}

// Authorize refuses anybody without host:read; for streams that read host data kept outside this service.
func (s *Service) Authorize(a auth.Actor) error { return require(a, auth.HostRead) }

// Overview is one instance as its page shows it: its status, the versions it may move to, its upgrade history
// and backups, and whether a rollback is possible.
type Overview struct {
	Info        *Info           `json:"instance"`
	Versions    []string        `json:"versions"` // installable versions, newest first
	Upgrades    []store.Upgrade `json:"upgrades"`
	Backups     []Backup        `json:"backups"`
	CanRollback bool            `json:"can_rollback"`
}

// Overview reports an instance with its history.
func (s *Service) Overview(ctx context.Context, a auth.Actor, name string) (*Overview, error) {
	inst, err := s.installed(ctx, a, auth.HostRead, name)
	if err != nil {
		return nil, err
	}
	info, err := s.info(ctx, inst)
	if err != nil {
		return nil, err
	}
	o := &Overview{Info: info}
	if o.Versions, err = s.versions(ctx, info.AppID); err != nil {
		return nil, err
	}
	if o.Upgrades, err = s.store.Q().Upgrades(ctx, name); err != nil {
		return nil, fmt.Errorf("upgrades of %s: %w", name, err)
	}
	if o.Backups, err = s.readBackups(name); err != nil {
		return nil, fmt.Errorf("backups of %s: %w", name, err)
	}
	// Rollback also needs the target's snapshot to still be there.
	if u := rollbackTarget(o.Upgrades, inst.Reversion); u != nil {
		o.CanRollback = slices.ContainsFunc(o.Backups, func(b Backup) bool { return b.Path == u.Snapshot })
	}
	return o, nil
}

// JobReport is a job, its log, and its instance while that still exists.
type JobReport struct {
	Job      *store.Job       `json:"job"`
	Events   []store.JobEvent `json:"events"`
	Instance *Info            `json:"instance,omitempty"`
}

// JobReport returns a job with its log and instance.
func (s *Service) JobReport(ctx context.Context, a auth.Actor, id int64) (*JobReport, error) {
	j, evs, err := s.Job(ctx, a, id)
	if err != nil {
		return nil, err
	}
	rep := &JobReport{Job: j, Events: evs}
	if inst, err := s.store.Q().Instance(ctx, j.Instance); err == nil {
		if rep.Instance, err = s.info(ctx, inst); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("instance of job %d: %w", id, err)
	}
	return rep, nil
}
