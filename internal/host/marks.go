package host

import (
	"context"
	"fmt"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
)

// Mark is what the store page shows on an app this server runs.
type Mark struct {
	Instances       int    // instances of the app on this server
	UpdateAvailable bool   // one of them runs an older version than the newest installable one
	Latest          string // the newest installable version
}

// Marks tells, by app id, which apps this server runs and which of them have a newer version. It reads the
// instance rows and the apps' versions only, never Docker, so a store page stays quick however many instances
// run. Instances are admin data: the admin only.
func (s *Service) Marks(ctx context.Context, a auth.Actor) (map[int64]Mark, error) {
	if err := require(a, auth.HostRead); err != nil {
		return nil, err
	}
	insts, err := s.store.Q().Instances(ctx)
	if err != nil {
		return nil, fmt.Errorf("marks: %w", err)
	}
	out := map[int64]Mark{}
	type at struct{ app, rev int64 }
	newest := map[at]*store.Update{} // instances of one app at one version share its newer versions
	for i := range insts {
		inst := &insts[i]
		if inst.State == store.StateUninstalling {
			continue // on its way out: the app is no longer "installed"
		}
		u, known := newest[at{inst.App, inst.Reversion}]
		if !known {
			if u, _, err = s.newest(ctx, inst); err != nil {
				return nil, fmt.Errorf("marks: latest version of app %d: %w", inst.App, err)
			}
			newest[at{inst.App, inst.Reversion}] = u
		}
		latest, newer := compareLatest(u, inst)
		m := out[inst.App]
		m.Instances++
		m.UpdateAvailable = m.UpdateAvailable || newer
		m.Latest = latest
		out[inst.App] = m
	}
	return out, nil
}
