package host

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/store"
)

// CheckResult is how one installable version fared in CheckCatalog.
type CheckResult struct {
	App     string `json:"app"`
	Version string `json:"version"`
	Store   string `json:"store,omitempty"` // the store the version came from
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// CheckCatalog renders every installable version of the given apps (all catalog apps when none) exactly as an
// install would, with stand-in ports (the settings' defaults, nothing booked) and generated secrets, and loads it
// as Compose; nothing is recorded or started, and each rendering is removed. Admin only.
func (s *Service) CheckCatalog(ctx context.Context, a auth.Actor, apps []string) ([]CheckResult, error) {
	if err := require(a, auth.HostRead); err != nil {
		return nil, err
	}
	if len(apps) == 0 {
		var err error
		if apps, err = s.catalogKeys(ctx); err != nil {
			return nil, err
		}
	}
	var out []CheckResult
	for _, app := range apps {
		rec, err := s.appByKeyOrID(ctx, app)
		if err != nil {
			return nil, err
		}
		ups, err := s.updates(ctx, rec.ID)
		if err != nil {
			return nil, err
		}
		for _, u := range ups {
			if u.Stack == nil {
				continue
			}
			r := CheckResult{App: *rec.Package, Version: u.Version, Store: u.Store, OK: true}
			if err := s.checkVersion(ctx, *rec.Package, u); err != nil {
				r.OK, r.Error = false, err.Error()
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// catalogKeys lists the package keys of every app that has one.
func (s *Service) catalogKeys(ctx context.Context) ([]string, error) {
	ids, err := s.store.Q().AppIDs(ctx, nil, store.Sort{Key: "id"}, store.Page{Limit: 1_000_000})
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	recs, err := s.store.Q().Apps(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	var keys []string
	for _, r := range recs {
		if r.Package != nil && *r.Package != "" {
			keys = append(keys, *r.Package)
		}
	}
	return keys, nil
}

// checkVersion validates one stored version again, renders it into a throw-away directory as an install would
// and loads it.
func (s *Service) checkVersion(ctx context.Context, key string, u store.Update) error {
	var st catalog.Stack
	if err := json.Unmarshal([]byte(*u.Stack), &st); err != nil {
		return fmt.Errorf("the stored stack does not decode: %w", err)
	}
	if err := catalog.Validate(&st, catalog.ValidateOptions{AllowHostAccess: true, MaxSize: catalog.MaxImportSize}); err != nil {
		return err
	}
	settings, err := st.Settings()
	if err != nil {
		return err
	}
	name := nameBase("check-" + key)
	var ports []store.PortBooking
	for _, set := range settings {
		if set.Port {
			p, _ := strconv.Atoi(set.Default)
			ports = append(ports, store.PortBooking{Port: p, Protocol: "tcp", Instance: name, Variable: set.Name})
		}
	}
	values, _, err := s.values(InstallRequest{App: key, Name: name}, u.Version, &st, ports, nil)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.cfg.DataDir, 0o750); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(s.cfg.DataDir, "check-")
	if err != nil {
		return fmt.Errorf("make a directory to render into: %w", err)
	}
	defer os.RemoveAll(dir)
	_, err = s.render(ctx, dir, s.Project(name), &st, values, nil)
	return err
}
