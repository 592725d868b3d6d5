package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stackhub/stackhub/internal/store"
)

// interrupted is the cause recorded for an upgrade or rollback a server restart cut short.
const interrupted = "interrupted by a server restart"

// recoverUpgrade settles an upgrade or rollback that a previous run of the server left unfinished, against what
// the instance's row and snapshots say happened. It runs as the same job, in the background (a restore waits for
// health), holding the instance like any job.
func (s *Service) recoverUpgrade(job *store.Job, inst *store.Instance) {
	_, err := s.startJob(inst.Name, func() (*store.Job, error) { return job, nil }, func(r *run) {
		s.settleUpgrade(context.WithoutCancel(s.ctx), r, inst)
	})
	if err != nil {
		s.log.Error("recover upgrade", "instance", inst.Name, "job", job.ID, "err", err)
	}
}

// settleUpgrade completes an interrupted job that had already switched the instance's version, finishes an
// interrupted rollback, and puts an interrupted upgrade back on its snapshot, as an upgrade whose new version
// fails does. An upgrade that had not finished its snapshot had changed nothing.
func (s *Service) settleUpgrade(ctx context.Context, r *run, inst *store.Instance) {
	// The staging render of an interrupted upgrade (named as runUpgrade names it) is of no use any more.
	_ = os.RemoveAll(filepath.Join(s.cfg.DataDir, "apps", fmt.Sprintf(".upgrade-%s-%d", inst.Name, r.job.ID)))
	recs, err := s.store.Q().Upgrades(ctx, inst.Name)
	if err != nil {
		r.finish(store.JobFailed, interrupted+"; its record cannot be read: "+err.Error())
		return
	}
	var rec *store.Upgrade
	for i := range recs {
		if recs[i].Job == r.job.ID {
			rec = &recs[i]
		}
	}
	if rec == nil {
		r.finish(store.JobFailed, interrupted)
		return
	}
	backup := s.jobSnapshot(recs, rec)
	path := ""
	if backup != nil {
		path = backup.Path
	}
	switch {
	case inst.Reversion == rec.ToReversion: // it had recorded the new version: only its own record was left
		r.note("done", fmt.Sprintf("the server stopped after the %s had finished", rec.Kind), -1)
		s.endUpgrade(ctx, r, rec, store.UpgradeSucceeded, "", path)
	case backup == nil && rec.Kind == "upgrade":
		s.releaseUnused(ctx, inst) // what its staging render booked
		s.endUpgrade(ctx, r, rec, store.UpgradeFailed, fmt.Sprintf("%s before its snapshot was complete; nothing was changed, %s still runs %s",
			interrupted, inst.Name, inst.Version), "")
	case backup == nil:
		_ = s.store.Q().SetInstanceState(ctx, inst.Name, store.StateFailed, "rollback "+interrupted+"; its snapshot is gone", s.ms())
		s.endUpgrade(ctx, r, rec, store.UpgradeFailed, interrupted+"; its snapshot is gone, restore a backup by hand", "")
	default:
		r.note("rolling_back", fmt.Sprintf("the server stopped during the %s to %s; restoring %s from %s", rec.Kind, rec.ToVersion,
			backup.Version, backup.Path), -1)
		if err := s.restore(ctx, r, inst, backup); err != nil {
			cause := fmt.Sprintf("%s; the restore failed too: %v", interrupted, err)
			_ = s.store.Q().SetInstanceState(ctx, inst.Name, store.StateFailed, cause, s.ms())
			s.endUpgrade(ctx, r, rec, store.UpgradeFailed, cause, path)
			return
		}
		s.releaseUnused(ctx, inst)
		if rec.Kind == "rollback" { // restoring that snapshot is what the rollback was for
			s.endUpgrade(ctx, r, rec, store.UpgradeSucceeded, "", path)
			return
		}
		s.endUpgrade(ctx, r, rec, store.UpgradeRolledBack, interrupted, path)
	}
}

// jobSnapshot finds the snapshot an upgrade or rollback record works with, before the record names it: a
// rollback's is its target's (as Rollback chose it), an upgrade's the one it took of its old version.
func (s *Service) jobSnapshot(recs []store.Upgrade, rec *store.Upgrade) *Backup {
	if rec.Kind == "rollback" {
		target := rollbackTarget(recs, rec.FromReversion)
		if target == nil {
			return nil
		}
		b, _ := s.backupAt(rec.Instance, target.Snapshot)
		return b
	}
	list, _ := s.readBackups(rec.Instance)
	for i := range list { // newest first
		if list[i].Reversion == rec.FromReversion && list[i].CreatedAt >= rec.CreatedAt {
			return &list[i]
		}
	}
	return nil
}
