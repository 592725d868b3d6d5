package host

import (
	"context"
	"time"
)

// JobLeases lets replicas on one PostgreSQL share the jobs (architecture.md, "Replicas"): the process running a job
// holds its lease while its own process lease lives; a job whose holder died is claimed by one live process, which
// settles it as the restart recovery does (Reconcile). internal/cluster's Node is one; nil on SQLite.
type JobLeases interface {
	HoldJob(ctx context.Context, job int64) error
	ReleaseJob(ctx context.Context, job int64) error
	ClaimJob(ctx context.Context, job int64) (bool, error) // false: a live process runs it
}

// hold records that this process runs job.
func (s *Service) hold(job int64) {
	if s.cfg.Leases == nil {
		return
	}
	if err := s.cfg.Leases.HoldJob(context.WithoutCancel(s.ctx), job); err != nil {
		s.log.Error("hold job lease", "job", job, "err", err)
	}
}

// releaseLease forgets job's lease once it has ended here.
func (s *Service) releaseLease(job int64) {
	if s.cfg.Leases == nil {
		return
	}
	if err := s.cfg.Leases.ReleaseJob(context.WithoutCancel(s.ctx), job); err != nil {
		s.log.Warn("release job lease", "job", job, "err", err)
	}
}

// TakeOver settles, every `every`, the jobs of replicas that died (Reconcile with the leases), until ctx ends.
func (s *Service) TakeOver(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("take over jobs", "err", err)
			}
		}
	}
}
