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
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/sysinfo"
)

// InstallRequest asks for one app on this server.
type InstallRequest struct {
	App      string            // the app's package name (the template key)
	Name     string            // the instance name; default App
	Version  string            // default: the app's default version
	Settings map[string]string // user settings (the template's *_SET variables and W9_URL)
	Force    bool              // install even when the server lacks the template's resources
}

// Installed is what Install answers at once; the job goes on in the background.
type Installed struct {
	Instance  string `json:"instance"`
	Container string `json:"containerName"`
	Port      string `json:"port"`
	DBPort    string `json:"db_port"`
	Job       int64  `json:"job"`
	Version   string `json:"version"`
}

// Install validates the request, books ports, renders the project and starts the install job. Whatever it
// refuses leaves nothing behind.
func (s *Service) Install(ctx context.Context, a auth.Actor, req InstallRequest) (*Installed, error) {
	if err := requireAdmin(a); err != nil {
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
	app, up, stack, err := s.resolve(ctx, req.App, req.Version)
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
	if !req.Force {
		if err := s.checkResources(ctx, req.App, stack.Requirements); err != nil {
			return nil, err
		}
	}
	if !s.lock(req.Name) {
		return nil, apperr.New(apperr.Conflict, "%s already exists", req.Name)
	}
	inst, job, err := s.prepare(ctx, app, up, stack, settings, req)
	if err != nil {
		s.unlock(req.Name)
		return nil, err
	}
	bookings, err := s.store.Q().PortBookings(ctx, inst.Name)
	if err != nil {
		s.unlock(req.Name)
		return nil, err
	}
	port, dbPort := mainPorts(bookings)
	s.hold(job.ID)
	s.jobs.Add(1)
	go s.runInstall(inst, job)
	return &Installed{Instance: inst.Name, Container: inst.Project, Port: port, DBPort: dbPort, Job: job.ID,
		Version: inst.Version}, nil
}

// resolve finds the app by key and the version's stack; no version means the newest installable one.
func (s *Service) resolve(ctx context.Context, key, version string) (*store.App, *store.Update, *catalog.Stack, error) {
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
	up, st, err := pickVersion(key, version, ups)
	if err != nil {
		return nil, nil, nil, err
	}
	return app, up, st, nil
}

// pickVersion finds in ups (newest first, as the store lists them) the installable update of version, or with
// no version the newest installable one, and decodes its stack. key names the app in errors.
func pickVersion(key, version string, ups []store.Update) (*store.Update, *catalog.Stack, error) {
	for i := range ups {
		u := &ups[i]
		if u.Stack == nil || (version != "" && u.Version != version) {
			continue
		}
		var st catalog.Stack
		if err := json.Unmarshal([]byte(*u.Stack), &st); err != nil {
			return nil, nil, fmt.Errorf("stack of %s %s: %w", key, u.Version, err)
		}
		return u, &st, nil
	}
	known := installable(ups)
	if len(known) == 0 {
		return nil, nil, apperr.Field(apperr.Invalid, "appName", "%s has no installable version", key)
	}
	return nil, nil, apperr.Field(apperr.Invalid, "version", "%s has no version %q; choose one of %s", key,
		version, strings.Join(known, ", "))
}

// installable lists the versions of ups that carry a stack, in the order of ups.
func installable(ups []store.Update) []string {
	var out []string
	for _, u := range ups {
		if u.Stack != nil {
			out = append(out, u.Version)
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

// checkResources compares the template's requirements with what the server has free now.
func (s *Service) checkResources(ctx context.Context, app string, r catalog.Requirements) error {
	snap, err := sysinfo.Capacity(ctx, s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("read server resources: %w", err)
	}
	const gb = 1 << 30
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
