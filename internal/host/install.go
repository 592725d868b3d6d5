package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/sysinfo"
)

// InstallRequest asks for one app on this server.
type InstallRequest struct {
	App      string            // the app's package name (the template key)
	Name     string            // the instance name; default App
	Version  string            // default: the newest version of the preferred store; "store:version" names the store too
	Store    string            // the store whose version to install; default: the first of StoreOrder that has the app
	Settings map[string]string // user settings (the template's *_SET variables and W9_URL)
	Force    bool              // install even when the server lacks the template's resources
	Domain   string            // a name to route to the app through the edge (docs/edge.md); optional
	Node     string            // the cluster node to run it on (--engine swarm); optional
}

// Installed is what Install answers at once; the job goes on in the background.
type Installed struct {
	Instance  string `json:"instance"`
	Container string `json:"containerName"`
	Port      string `json:"port"`
	DBPort    string `json:"db_port"`
	Job       int64  `json:"job"`
	Version   string `json:"version"`
	Store     string `json:"store,omitempty"`
}

// Install validates the request, books ports, renders the project and starts the install job. Whatever it
// refuses leaves nothing behind.
func (s *Service) Install(ctx context.Context, a auth.Actor, req InstallRequest) (res *Installed, err error) {
	defer func() { s.audit.Record(ctx, a, audit.Install, installTarget(req, res), err) }()
	if err := require(a, auth.HostWrite); err != nil {
		return nil, err
	}
	if req.Name == "" {
		req.Name = req.App
	}
	if strings.TrimSpace(req.App) == "" {
		return nil, apperr.Field(apperr.Invalid, "appName", "appName is required: the key of a catalog app, such as wordpress")
	}
	if err := CheckName(req.Name); err != nil {
		return nil, err
	}
	app, up, stack, err := s.resolve(ctx, req.App, req.Store, req.Version, "")
	if err != nil {
		return nil, err
	}
	settings, err := stack.Settings()
	if err != nil {
		return nil, fmt.Errorf("settings of %s: %w", req.App, err)
	}
	if err := checkSettings(settings, req.Settings); err != nil {
		return nil, err
	}
	if req.Node, err = s.checkNode(ctx, req.Node); err != nil {
		return nil, err
	}
	if !req.Force {
		if err := s.checkResources(ctx, req.App, req.Node, stack.Requirements); err != nil {
			return nil, err
		}
	}
	route, err := s.domainRoute(ctx, req)
	if err != nil {
		return nil, err
	}
	if !s.lock(req.Name) {
		return nil, apperr.New(apperr.Conflict, "%s already exists", req.Name)
	}
	inst, job, err := s.prepare(ctx, app, up, stack, settings, req, route)
	if err != nil {
		s.unlock(req.Name)
		return nil, err
	}
	bookings, err := s.store.Q().PortBookings(ctx, inst.Name)
	if err != nil {
		s.unlock(req.Name)
		return nil, err
	}
	if route != nil {
		s.domains.Changed(ctx)
	}
	port, dbPort := mainPorts(bookings)
	s.hold(job.ID)
	s.jobs.Add(1)
	go s.runInstall(inst, job)
	return &Installed{Instance: inst.Name, Container: inst.Project, Port: port, DBPort: dbPort, Job: job.ID,
		Version: inst.Version, Store: up.Store}, nil
}

// resolve finds the app by key and the version's stack (pickVersion); prefer is a store to try before the
// admin's order (an upgrade stays in its instance's store).
func (s *Service) resolve(ctx context.Context, key, storeName, version, prefer string) (*store.App, *store.Update, *catalog.Stack, error) {
	q := s.store.Q()
	app, err := q.AppByPackage(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil, apperr.Field(apperr.NotFound, "appName", "%s is not in the catalog", key)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	ups, err := q.Updates(ctx, app.ID, true, store.Page{Limit: 100_000})
	if err != nil {
		return nil, nil, nil, err
	}
	up, st, err := pickVersion(key, storeName, version, ups, s.storeOrder(prefer))
	if err != nil {
		return nil, nil, nil, err
	}
	return app, up, st, nil
}

// storeOrder is the admin's order of stores, with prefer (when set) first.
func (s *Service) storeOrder(prefer string) []string {
	if prefer == "" {
		return s.cfg.StoreOrder
	}
	return append([]string{prefer}, s.cfg.StoreOrder...)
}

// SplitVersion reads a version choice: "store:version" names the store and the version (no tag and no store name
// holds a colon), anything else is a version of storeName.
func SplitVersion(storeName, version string) (string, string) {
	if st, v, ok := strings.Cut(version, ":"); ok && (storeName == "" || storeName == st) {
		return st, v
	}
	return storeName, version
}

// VersionChoice is how a version is named where several stores may have the same one: "store:version" when
// the update came from a store, else the version.
func VersionChoice(u store.Update) string {
	if u.Store == "" {
		return u.Version
	}
	return u.Store + ":" + u.Version
}

// storeBefore reports whether store a comes before store b in order: listed stores in their order, then the
// others by name.
func storeBefore(a, b string, order []string) bool {
	ia, ib := slices.Index(order, a), slices.Index(order, b)
	if ia < 0 {
		ia = len(order)
	}
	if ib < 0 {
		ib = len(order)
	}
	if ia != ib {
		return ia < ib
	}
	return ia == len(order) && a < b
}

// pickVersion finds in ups (newest first, as the store lists them) the installable update of storeName and
// version, and decodes its stack. No store: the first store in order that has that version (or any version);
// no version: that store's newest one. key names the app in errors.
func pickVersion(key, storeName, version string, ups []store.Update, order []string) (*store.Update, *catalog.Stack, error) {
	storeName, version = SplitVersion(storeName, version)
	var best *store.Update
	for i := range ups {
		u := &ups[i]
		if u.Stack == nil || (version != "" && u.Version != version) || (storeName != "" && u.Store != storeName) {
			continue
		}
		if best == nil || storeBefore(u.Store, best.Store, order) {
			best = u
		}
	}
	if best != nil {
		var st catalog.Stack
		if err := json.Unmarshal([]byte(*best.Stack), &st); err != nil {
			return nil, nil, fmt.Errorf("stack of %s %s: %w", key, VersionChoice(*best), err)
		}
		return best, &st, nil
	}
	known := choices(ups)
	if len(known) == 0 {
		return nil, nil, apperr.Field(apperr.Invalid, "appName", "%s has no installable version", key)
	}
	if storeName != "" && version == "" {
		return nil, nil, apperr.Field(apperr.Invalid, "store", "%s has no version from store %q; choose one of %s", key,
			storeName, strings.Join(known, ", "))
	}
	return nil, nil, apperr.Field(apperr.Invalid, "version", "%s has no version %q; choose one of %s", key,
		VersionChoice(store.Update{Store: storeName, Version: version}), strings.Join(known, ", "))
}

// installable lists the versions of ups that carry a stack, in the order of ups, each once.
func installable(ups []store.Update) []string {
	var out []string
	for _, u := range ups {
		if u.Stack != nil && !slices.Contains(out, u.Version) {
			out = append(out, u.Version)
		}
	}
	return out
}

// choices lists the installable versions of ups as VersionChoice names them, in the order of ups.
func choices(ups []store.Update) []string {
	var out []string
	for _, u := range ups {
		if u.Stack != nil {
			out = append(out, VersionChoice(u))
		}
	}
	return out
}

// checkSettings refuses settings the template does not offer, and port values that are not ports.
func checkSettings(offered []catalog.Setting, given map[string]string) error {
	var names []string
	byName := map[string]catalog.Setting{}
	for _, st := range offered {
		names = append(names, st.Name)
		byName[st.Name] = st
	}
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := given[k]
		st, ok := byName[k]
		if !ok {
			return apperr.Field(apperr.Invalid, "settings", "setting %s is not offered by this template; it offers %s",
				k, strings.Join(names, ", "))
		}
		if strings.ContainsAny(v, "\n\r\x00") || len(v) > 500 {
			return apperr.Field(apperr.Invalid, "settings", "setting %s must be one line of under 500 characters", k)
		}
		if st.Port {
			if p, err := strconv.Atoi(v); err != nil || p < 1 || p > 65535 {
				return apperr.Field(apperr.Invalid, "settings", "setting %s must be a port number from 1 to 65535", k)
			}
		}
	}
	return nil
}

// checkResources compares the template's requirements with what the server has free now; on a cluster, CPU and
// memory with the named node (or the nodes that take apps), disk with this server, where the app's files live.
func (s *Service) checkResources(ctx context.Context, app, node string, r catalog.Requirements) error {
	snap, err := sysinfo.Capacity(ctx, s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("read server resources: %w", err)
	}
	const gb = 1 << 30
	if s.cluster != nil {
		if err := s.checkNodeResources(ctx, app, node, r); err != nil {
			return err
		}
		r.CPU, r.Memory = 0, 0
	}
	switch {
	case r.CPU > float64(snap.CPUCores):
		return apperr.New(apperr.Invalid, "%s needs %g CPU cores; this server has %d. Pass force to install anyway",
			app, r.CPU, snap.CPUCores)
	case r.Memory*gb > float64(snap.MemFree):
		return apperr.New(apperr.Invalid, "%s needs %g GB of free memory; this server has %.1f GB available. Pass force to install anyway",
			app, r.Memory, float64(snap.MemFree)/gb)
	case r.Disk*gb > float64(snap.DiskFree):
		return apperr.New(apperr.Invalid, "%s needs %g GB of free disk; this server has %.1f GB free. Pass force to install anyway",
			app, r.Disk, float64(snap.DiskFree)/gb)
	}
	return nil
}

// mainPorts picks the web port (W9_HTTP_PORT_SET, else the first booked) and the database port.
func mainPorts(bs []store.PortBooking) (port, dbPort string) {
	for _, b := range bs {
		switch {
		case b.Variable == "W9_HTTP_PORT_SET":
			port = strconv.Itoa(b.Port)
		case b.Variable == "W9_DB_PORT_SET":
			dbPort = strconv.Itoa(b.Port)
		}
	}
	if port == "" {
		for _, b := range bs {
			if b.Variable != "W9_DB_PORT_SET" {
				return strconv.Itoa(b.Port), dbPort
			}
		}
	}
	return port, dbPort
}

// domainRoute checks the install's domain, if it asks for one, before anything is created.
func (s *Service) domainRoute(ctx context.Context, req InstallRequest) (*store.Route, error) {
	if strings.TrimSpace(req.Domain) == "" {
		return nil, nil
	}
	if s.domains == nil {
		return nil, apperr.Field(apperr.Invalid, "domain", "this server routes no domains; install without one")
	}
	return s.domains.NewRoute(ctx, req.Name, req.Domain)
}

// installTarget names an install in the audit log: the app, and the instance once it has one.
func installTarget(req InstallRequest, res *Installed) string {
	if res != nil {
		return req.App + " as " + res.Instance
	}
	if req.Name != "" {
		return req.App + " as " + req.Name
	}
	return req.App
}
