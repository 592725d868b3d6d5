package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// UpgradeEvent is the payload of an install.upgrade event.
type UpgradeEvent struct {
	Instance string        `json:"instance"`
	Upgrade  store.Upgrade `json:"upgrade"`
}

// Upgrade moves an instance to another version as a job: pull the new images while the old version runs, snapshot
// the volumes and files, render the new version with the same ports, secrets and settings, recreate the services
// that changed, and wait for health; if health does not come, restore the snapshot and the old version.
func (s *Service) Upgrade(ctx context.Context, a auth.Actor, name, version string) (_ *store.Job, err error) {
	defer func() { s.audit.Record(ctx, a, audit.Upgrade, name, err) }()
	inst, err := s.installed(ctx, a, auth.HostWrite, name)
	if err != nil {
		return nil, err
	}
	if inst.State != store.StateInstalled {
		return nil, apperr.New(apperr.Conflict, "%s is %s; only an installed app can be upgraded", name, inst.State)
	}
	if strings.TrimSpace(version) == "" {
		return nil, apperr.Field(apperr.Invalid, "version", "version is required: the version to upgrade %s to", name)
	}
	current, err := s.store.Q().Update(ctx, inst.App, inst.Reversion)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("version %s of %s: %w", inst.Version, name, err)
	}
	prefer := ""
	if current != nil {
		prefer = current.Store // a version that several stores have: the one of the store it runs now
	}
	_, up, stack, err := s.resolve(ctx, inst.AppKey, "", version, prefer)
	if err != nil {
		return nil, err
	}
	if up.Reversion == inst.Reversion {
		return nil, apperr.Field(apperr.Conflict, "version", "%s already runs %s", name, version)
	}
	var rec *store.Upgrade
	return s.startJob(name, func() (job *store.Job, err error) {
		job, rec, err = s.startRecord(ctx, inst, "upgrade", up.Version, up.Reversion)
		return job, err
	}, func(r *run) { s.runUpgrade(r, inst, rec, up, stack) })
}

func (s *Service) startRecord(ctx context.Context, inst *store.Instance, kind, toVersion string, toRev int64) (*store.Job, *store.Upgrade, error) {
	now := s.ms()
	job := &store.Job{Instance: inst.Name, Kind: kind, Stage: "queued", State: store.JobRunning, CreatedAt: now, UpdatedAt: now}
	rec := &store.Upgrade{Instance: inst.Name, Kind: kind, FromVersion: inst.Version, FromReversion: inst.Reversion,
		ToVersion: toVersion, ToReversion: toRev, Result: store.UpgradeRunning, CreatedAt: now}
	err := s.store.Tx(ctx, func(q *store.Q) error {
		if err := q.CreateJob(ctx, job); err != nil {
			return err
		}
		rec.Job = job.ID
		return q.CreateUpgrade(ctx, rec)
	})
	return job, rec, err
}

func (s *Service) runUpgrade(r *run, inst *store.Instance, rec *store.Upgrade, up *store.Update, stack *catalog.Stack) {
	ctx := context.WithoutCancel(s.ctx)
	r.note("queued", fmt.Sprintf("upgrading %s from %s to %s", inst.Name, inst.Version, up.Version), -1)
	// Ports the new version books are its own: an upgrade that does not succeed gives them back.
	before, err := s.store.Q().PortBookings(ctx, inst.Name)
	if err != nil {
		s.endUpgrade(ctx, r, rec, store.UpgradeFailed, err.Error(), "")
		return
	}
	end := func(result, cause, backup string) {
		if result != store.UpgradeSucceeded {
			s.releaseBookedSince(ctx, inst.Name, before)
		}
		s.endUpgrade(ctx, r, rec, result, cause, backup)
	}
	values, secrets, err := s.upgradeValues(ctx, inst, up, stack)
	if err != nil {
		end(store.UpgradeFailed, err.Error(), "")
		return
	}
	// Render into a staging directory first: a runtime, device or GPU this host lacks, a fixed host port taken, or
	// a missing image fails the upgrade before anything is stopped.
	staging := filepath.Join(s.cfg.DataDir, "apps", fmt.Sprintf(".upgrade-%s-%d", inst.Name, r.job.ID))
	r.note("pulling", "pulling the images of "+up.Version, -1)
	err = s.pullStaged(ctx, r, staging, inst, stack, values)
	_ = os.RemoveAll(staging)
	if err != nil {
		end(store.UpgradeFailed, fmt.Sprintf("%v; nothing was changed, %s still runs %s", err, inst.Name, inst.Version), "")
		return
	}
	r.note("snapshot", "snapshotting volumes and files", -1)
	backup, err := s.takeSnapshot(ctx, inst)
	if err != nil {
		end(store.UpgradeFailed, fmt.Sprintf("snapshot: %v; nothing was changed", err), "")
		return
	}
	r.note("snapshot", fmt.Sprintf("snapshot of %d bytes in %s", backup.Size, backup.Path), -1)
	out, err := s.switchTo(ctx, r, inst, stack, values, backup)
	var services []string
	if err == nil {
		services = out.services
		next := *inst
		next.Services, next.Version = strings.Join(services, ","), up.Version
		r.note("waiting", fmt.Sprintf("waiting up to %s for %s to be healthy", s.cfg.HealthTimeout, up.Version), -1)
		err = s.waitHealthy(ctx, &next)
	}
	if err == nil {
		err = s.store.Tx(ctx, func(q *store.Q) error {
			if err := q.SetInstanceVersion(ctx, inst.Name, up.Version, up.Reversion, s.ms()); err != nil {
				return err
			}
			if err := q.SetInstanceRendered(ctx, inst.Name, out.hashes.encode()); err != nil {
				return err
			}
			if err := q.SetInstanceSecrets(ctx, inst.Name, secrets); err != nil {
				return err
			}
			return q.SetInstanceServices(ctx, inst.Name, strings.Join(services, ","))
		})
	}
	if err == nil {
		rec.Kept, rec.Replaced = out.kept, out.replaced // the record lists them only when they stay so
		end(store.UpgradeSucceeded, "", backup.Path)
		return
	}
	cause := err.Error()
	if out != nil && len(out.kept) > 0 { // an edit the new version does not accept may be why
		cause += fmt.Sprintf(" (it had kept %s as edited here)", strings.Join(out.kept, ", "))
	}
	r.note("rolling_back", fmt.Sprintf("%s failed: %s; restoring %s from the snapshot", up.Version, cause, inst.Version), -1)
	if rerr := s.restore(ctx, r, inst, backup); rerr != nil {
		cause += "; the restore failed too: " + rerr.Error()
		_ = s.store.Q().SetInstanceState(ctx, inst.Name, store.StateFailed, cause, s.ms())
		end(store.UpgradeFailed, cause, backup.Path)
		return
	}
	end(store.UpgradeRolledBack, cause, backup.Path)
}

// releaseBookedSince removes the instance's bookings that are not in before.
func (s *Service) releaseBookedSince(ctx context.Context, name string, before []store.PortBooking) {
	now, err := s.store.Q().PortBookings(ctx, name)
	if err != nil {
		s.log.Error("release ports", "instance", name, "err", err)
		return
	}
	for _, b := range now {
		if slices.Contains(before, b) {
			continue
		}
		if err := s.store.Q().ReleasePort(ctx, b); err != nil {
			s.log.Error("release port", "instance", name, "port", b.Port, "err", err)
		}
	}
}

// pullStaged renders the new version into a staging directory to check it against this host as an install does
// (booking the fixed host ports it adds) and to pull its images.
func (s *Service) pullStaged(ctx context.Context, r *run, dir string, inst *store.Instance, stack *catalog.Stack, values map[string]string) error {
	if _, err := s.render(ctx, dir, inst.Project, stack, values, nil); err != nil {
		return err
	}
	s.bookMu.Lock()
	err := s.checkRendered(ctx, inst.Name, inst.Project, dir)
	s.bookMu.Unlock()
	if err != nil {
		return err
	}
	p, err := s.loadProject(ctx, inst, dir)
	if err != nil {
		return err
	}
	return s.engine.Pull(ctx, p, r.progress)
}

// upgradeValues are the engine's variables for the new version: the instance's own ports, secrets and settings,
// and the secrets as JSON (with those the new version adds, generated now) for the instance once it runs.
func (s *Service) upgradeValues(ctx context.Context, inst *store.Instance, up *store.Update, stack *catalog.Stack) (map[string]string, string, error) {
	var settings, secrets map[string]string
	_ = json.Unmarshal([]byte(inst.Settings), &settings)
	_ = json.Unmarshal([]byte(inst.Secrets), &secrets)
	bookings, err := s.store.Q().PortBookings(ctx, inst.Name)
	if err != nil {
		return nil, "", err
	}
	v := map[string]string{"W9_ID": inst.Project, "W9_APP_NAME": inst.AppKey, "W9_VERSION": up.Version}
	for k, val := range settings {
		v[k] = val
	}
	for k, val := range secrets {
		v[k] = val
	}
	if secrets == nil {
		secrets = map[string]string{}
	}
	if err := generateSecrets(stack.Secrets, v, secrets); err != nil { // those the new version adds
		return nil, "", err
	}
	booked := map[string]bool{}
	for _, b := range bookings {
		v[b.Variable] = fmt.Sprint(b.Port)
		booked[b.Variable] = true
	}
	offered, err := stack.Settings()
	if err != nil {
		return nil, "", err
	}
	var missing []catalog.Setting
	for _, st := range offered {
		if st.Port && !booked[st.Name] {
			missing = append(missing, st)
		}
	}
	if len(missing) > 0 { // the new version publishes a port the old one did not
		s.bookMu.Lock()
		defer s.bookMu.Unlock()
		ports, err := s.bookPorts(ctx, inst.Name, stack.Compose, missing, nil)
		if err != nil {
			return nil, "", err
		}
		for _, b := range ports {
			if err := s.store.Q().BookPort(ctx, b); err != nil {
				return nil, "", err
			}
			v[b.Variable] = fmt.Sprint(b.Port)
		}
	}
	routes, err := s.store.Q().Routes(ctx, inst.Name)
	if err != nil {
		return nil, "", err
	}
	if port, ok := v["W9_HTTP_PORT_SET"]; ok || len(routes) > 0 {
		v["W9_URL"] = s.appURL(routes, stack.Env, port, settings["W9_URL"])
	}
	enc, err := json.Marshal(secrets)
	if err != nil {
		return nil, "", err
	}
	return v, string(enc), nil
}

// switchTo renders the new version into the project directory, keeping the files the admin changed, and
// recreates the services that changed. What it rendered is returned even when recreating fails.
func (s *Service) switchTo(ctx context.Context, r *run, inst *store.Instance, stack *catalog.Stack, values map[string]string, backup *Backup) (*rendered, error) {
	last, err := s.lastRendering(ctx, inst)
	if err != nil {
		return nil, err
	}
	out, err := s.render(ctx, s.projectDir(inst.Name), inst.Project, stack, values, last)
	if err != nil {
		return nil, err
	}
	for _, rel := range out.kept {
		r.note("rendering", fmt.Sprintf("kept %s as edited here; the new version's copy is %s%s", rel, rel, newSuffix), -1)
	}
	if len(out.replaced) > 0 {
		held := ""
		if backup != nil {
			held = "; the snapshot " + backup.Path + " holds the edited copies"
		}
		r.note("rendering", fmt.Sprintf("replaced the local edits to %s, which StackHub renders%s",
			strings.Join(out.replaced, ", "), held), -1)
	}
	if len(out.restored) > 0 {
		r.note("rendering", fmt.Sprintf("wrote again %s, removed here", strings.Join(out.restored, ", ")), -1)
	}
	p, err := s.loadProject(ctx, inst, s.projectDir(inst.Name))
	if err != nil {
		return out, err
	}
	r.note("creating", "recreating the services that changed", -1)
	recreated, err := s.engine.Converge(ctx, p, containerLabels(inst, values["W9_VERSION"]), r.progress)
	if err != nil {
		return out, err
	}
	r.note("creating", fmt.Sprintf("recreated %s", strings.Join(recreated, ", ")), -1)
	return out, nil
}

// restore removes the containers, puts the snapshot back and starts the snapshot's version again.
func (s *Service) restore(ctx context.Context, r *run, inst *store.Instance, b *Backup) error {
	if err := s.engine.Down(ctx, inst.Project, false); err != nil {
		return err
	}
	if err := s.restoreSnapshot(ctx, inst, b); err != nil {
		return err
	}
	p, err := s.loadProject(ctx, inst, s.projectDir(inst.Name))
	if err != nil {
		return err
	}
	if err := s.engine.Up(ctx, p, containerLabels(inst, b.Version), r.progress); err != nil {
		return err
	}
	services, _ := runningServices(p)
	old := *inst
	old.Services, old.Version, old.Stopped = strings.Join(services, ","), b.Version, false
	if err := s.waitHealthy(ctx, &old); err != nil {
		return err
	}
	rendered, err := snapshotRendering(b)
	if err != nil {
		return err
	}
	return s.store.Tx(ctx, func(q *store.Q) error {
		if err := q.SetInstanceRendered(ctx, inst.Name, rendered); err != nil { // the record of the restored files
			return err
		}
		if err := q.SetInstanceVersion(ctx, inst.Name, b.Version, b.Reversion, s.ms()); err != nil {
			return err
		}
		if err := q.SetInstanceStopped(ctx, inst.Name, false, s.ms()); err != nil {
			return err
		}
		return q.SetInstanceServices(ctx, inst.Name, old.Services)
	})
}

func (s *Service) endUpgrade(ctx context.Context, r *run, rec *store.Upgrade, result, cause, snapshot string) {
	r.finishing()
	now := s.ms()
	rec.Result, rec.Cause, rec.Snapshot, rec.FinishedAt = result, cause, snapshot, &now
	if rec.Kept == nil {
		rec.Kept = []string{}
	}
	if rec.Replaced == nil {
		rec.Replaced = []string{}
	}
	if err := s.store.Q().FinishUpgrade(ctx, rec); err != nil {
		s.log.Error("finish upgrade", "instance", rec.Instance, "err", err)
	}
	switch result {
	case store.UpgradeSucceeded:
		msg := fmt.Sprintf("%s now runs %s", rec.Instance, rec.ToVersion)
		if len(rec.Kept) > 0 {
			msg += fmt.Sprintf("; kept as edited here: %s (the new version's copies are beside them as <file>%s)",
				strings.Join(rec.Kept, ", "), newSuffix)
		}
		r.note("done", msg, 100)
		r.finish(store.JobSucceeded, "")
	case store.UpgradeRolledBack:
		msg := fmt.Sprintf("%s to %s failed: %s; %s runs %s again", rec.Kind, rec.ToVersion, cause, rec.Instance, rec.FromVersion)
		r.note("failed", msg, -1)
		r.finish(store.JobFailed, msg)
	default:
		r.note("failed", cause, -1)
		r.finish(store.JobFailed, cause)
	}
	s.publish(events.InstallUpgrade, UpgradeEvent{Instance: rec.Instance, Upgrade: *rec})
	s.publish(events.InstallStatus, StatusEvent{Instance: rec.Instance, Job: r.job.ID, State: store.StateInstalled})
}

// Rollback returns an instance to the version before its last successful upgrade, with that upgrade's snapshot.
func (s *Service) Rollback(ctx context.Context, a auth.Actor, name string) (_ *store.Job, err error) {
	defer func() { s.audit.Record(ctx, a, audit.Rollback, name, err) }()
	inst, err := s.installed(ctx, a, auth.HostWrite, name)
	if err != nil {
		return nil, err
	}
	recs, err := s.store.Q().Upgrades(ctx, name)
	if err != nil {
		return nil, err
	}
	last := rollbackTarget(recs, inst.Reversion)
	if last == nil {
		return nil, apperr.New(apperr.Conflict, "%s has no earlier version to roll back to", name)
	}
	backup, err := s.backupAt(name, last.Snapshot)
	if err != nil {
		return nil, err
	}
	var rec *store.Upgrade
	return s.startJob(name, func() (job *store.Job, err error) {
		job, rec, err = s.startRecord(ctx, inst, "rollback", last.FromVersion, last.FromReversion)
		return job, err
	}, func(r *run) {
		ctx := context.WithoutCancel(s.ctx)
		r.note("rolling_back", fmt.Sprintf("restoring %s %s from %s", name, last.FromVersion, backup.Path), -1)
		if err := s.restore(ctx, r, inst, backup); err != nil {
			_ = s.store.Q().SetInstanceState(ctx, name, store.StateFailed, "rollback failed: "+err.Error(), s.ms())
			s.endUpgrade(ctx, r, rec, store.UpgradeFailed, err.Error(), backup.Path)
			return
		}
		s.releaseUnused(ctx, inst)
		s.endUpgrade(ctx, r, rec, store.UpgradeSucceeded, "", backup.Path)
	})
}

// releaseUnused gives back the instance's port bookings its project no longer uses, after a rollback restored an
// older version's files: a booking stays when its setting is still in the project's .env with that port, or when
// the project publishes the port.
func (s *Service) releaseUnused(ctx context.Context, inst *store.Instance) {
	p, err := engine.Load(ctx, inst.Project, s.projectDir(inst.Name))
	if err != nil {
		s.log.Error("release unused ports", "instance", inst.Name, "err", err)
		return
	}
	used := map[string]bool{}
	for _, hp := range publishedPorts(p) {
		used[hp.proto+strconv.Itoa(hp.port)] = true
	}
	bookings, err := s.store.Q().PortBookings(ctx, inst.Name)
	if err == nil {
		err = s.store.Tx(ctx, func(q *store.Q) error {
			for _, b := range bookings {
				inEnv := b.Variable != "" && p.Environment[b.Variable] == strconv.Itoa(b.Port)
				if inEnv || used[b.Protocol+strconv.Itoa(b.Port)] {
					continue
				}
				if err := q.ReleasePort(ctx, b); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		s.log.Error("release unused ports", "instance", inst.Name, "err", err)
	}
}

// rollbackTarget is the upgrade a rollback undoes: the last successful upgrade (recs are newest first) to the
// running reversion, with a snapshot to restore; nil when there is none. Rollback and Overview share the rule.
func rollbackTarget(recs []store.Upgrade, reversion int64) *store.Upgrade {
	for i := range recs {
		if recs[i].Result == store.UpgradeSucceeded && recs[i].ToReversion == reversion && recs[i].Snapshot != "" {
			return &recs[i]
		}
	}
	return nil
}

func (s *Service) backupAt(name, path string) (*Backup, error) {
	list, err := s.readBackups(name)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Path == path {
			return &list[i], nil
		}
	}
	return nil, apperr.Wrap(apperr.Conflict, errors.New(path), "the snapshot of %s's last upgrade is gone (retention removed it)", name)
}

// Upgrades lists an instance's upgrade records, newest first.
func (s *Service) Upgrades(ctx context.Context, a auth.Actor, name string) ([]store.Upgrade, error) {
	if err := s.CheckInstance(ctx, a, name); err != nil {
		return nil, err
	}
	return s.store.Q().Upgrades(ctx, name)
}
