package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// StageEvent is the payload of an install.stage event.
type StageEvent struct {
	Instance string         `json:"instance"`
	Job      int64          `json:"job"`
	Event    store.JobEvent `json:"event"`
}

// StatusEvent is the payload of an install.status event.
type StatusEvent struct {
	Instance string `json:"instance"`
	Job      int64  `json:"job,omitempty"`
	State    string `json:"state"`
	Status   string `json:"status"`
	Info     string `json:"info"`
	// Nodes are the cluster nodes its tasks run on now, sent when the status watch of a cluster saw them change
	// (WatchNodes); empty otherwise.
	Nodes []string `json:"nodes,omitempty"`
}

// run records one job's progress: every stage and line goes to the job log and out as an event.
type run struct {
	s        *Service
	job      *store.Job
	last     string
	lastPct  int
	released bool
}

// release lets other jobs claim the instance. It acts once: a second call, after another job has claimed the
// name, must not free that job's claim.
func (r *run) release() {
	if !r.released {
		r.released = true
		r.s.unlock(r.job.Instance)
	}
}

// finishing tells the jobs asked for from now on to wait for this one instead of being refused: its end is about
// to be visible (see Service.lock). It comes just before the job's last change to the instance, with nothing
// long after it.
func (r *run) finishing() {
	if !r.released {
		r.s.finishing(r.job.Instance)
	}
}

// note logs a line; ctx may be cancelled (shutdown), so writes use one that is not.
func (r *run) note(stage, msg string, pct int) {
	ctx := context.WithoutCancel(r.s.ctx)
	e := store.JobEvent{Job: r.job.ID, At: r.s.ms(), Stage: stage, Message: msg, Percent: pct}
	if err := r.s.store.Q().AddJobEvent(ctx, &e); err != nil {
		r.s.log.Error("job event", "job", r.job.ID, "err", err)
		return
	}
	if stage != r.job.Stage {
		r.job.Stage = stage
		if err := r.s.store.Q().SetJobStage(ctx, r.job.ID, stage, e.At); err != nil {
			r.s.log.Error("job stage", "job", r.job.ID, "err", err)
		}
	}
	r.s.publish(events.InstallStage, StageEvent{Instance: r.job.Instance, Job: r.job.ID, Event: e})
}

// progress turns engine progress into job lines, skipping repeats and small percentage steps of one message.
func (r *run) progress(p engine.Progress) {
	stage := map[string]string{"pull": "pulling", "build": "building", "network": "creating", "volume": "creating", "create": "creating",
		"start": "starting", "wait": "starting"}[p.Stage]
	if stage == "" {
		stage = p.Stage
	}
	if p.Message == r.last && (p.Percent < 0 || p.Percent-r.lastPct < 10) {
		return
	}
	r.last, r.lastPct = p.Message, p.Percent
	r.note(stage, p.Message, p.Percent)
}

// finish records the job's result. The instance is unlocked first, so a client that sees the job end can start
// the next one at once.
func (r *run) finish(state, errText string) {
	r.release()
	ctx := context.WithoutCancel(r.s.ctx)
	if err := r.s.store.Q().FinishJob(ctx, r.job.ID, state, errText, r.s.ms()); err != nil {
		r.s.log.Error("finish job", "job", r.job.ID, "err", err)
	}
	// A job cut short by a shutdown never finishes here: it stays held until this process's lease ends.
	r.s.releaseLease(r.job.ID)
}

// startJob claims the instance, creates its job with create, and runs body on that job in the background until
// it returns, when the instance is released. It answers the job as created, or why it did not start.
func (s *Service) startJob(name string, create func() (*store.Job, error), body func(*run)) (*store.Job, error) {
	if !s.lock(name) {
		return nil, apperr.New(apperr.Conflict, "%s is busy with another job; try again when it finishes", name)
	}
	job, err := create()
	if err != nil {
		s.unlock(name)
		return nil, err
	}
	out := *job // the job goroutine updates its own copy
	s.hold(job.ID)
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		r := &run{s: s, job: job}
		defer r.release()
		body(r)
	}()
	return &out, nil
}

func (s *Service) runInstall(inst *store.Instance, job *store.Job) {
	defer s.jobs.Done()
	r := &run{s: s, job: job}
	defer r.release()
	r.note("queued", fmt.Sprintf("installing %s %s as %s", inst.AppKey, inst.Version, inst.Name), -1)
	err := s.install(s.ctx, r, inst)
	if err != nil && s.ctx.Err() != nil {
		return // shutting down: Reconcile finishes this job on the next start
	}
	ctx := context.WithoutCancel(s.ctx)
	if err != nil {
		cause := err.Error()
		r.note("rolling_back", "install failed: "+cause, -1)
		if rbErr := s.rollback(ctx, inst, job); rbErr != nil {
			s.log.Error("rollback", "instance", inst.Name, "err", rbErr)
			cause += "; rollback incomplete: " + rbErr.Error()
		}
		s.fail(ctx, r, inst.Name, cause)
		return
	}
	r.finishing()
	if err := s.store.Q().SetInstanceState(ctx, inst.Name, store.StateInstalled, "", s.ms()); err != nil {
		s.log.Error("instance state", "instance", inst.Name, "err", err)
	}
	r.note("done", inst.Name+" is running", 100)
	r.finish(store.JobSucceeded, "")
	s.publish(events.InstallStatus, StatusEvent{Instance: inst.Name, Job: job.ID, State: store.StateInstalled, Status: StatusRunning, Info: "running"})
}

// fail records a failed install: the instance stays, in status 2 with the cause, until it is uninstalled.
func (s *Service) fail(ctx context.Context, r *run, name, cause string) {
	r.finishing()
	if err := s.store.Q().SetInstanceState(ctx, name, store.StateFailed, cause, s.ms()); err != nil {
		s.log.Error("instance state", "instance", name, "err", err)
	}
	r.note("failed", cause, -1)
	r.finish(store.JobFailed, cause)
	s.publish(events.InstallStatus, StatusEvent{Instance: name, Job: r.job.ID, State: store.StateFailed, Status: StatusFailed, Info: cause})
}

func (s *Service) install(ctx context.Context, r *run, inst *store.Instance) error {
	p, err := s.loadProject(ctx, inst, s.projectDir(inst.Name))
	if err != nil {
		return err
	}
	vols, err := s.engine.Volumes(ctx, inst.Project)
	if err != nil {
		return err
	}
	if err := s.updateRollback(ctx, r.job, func(rb *rollbackInfo) { rb.VolumesBefore, rb.VolumesChecked = vols, true }); err != nil {
		return err
	}
	r.note("pulling", "checking images", -1)
	if err := s.engine.Pull(ctx, p, r.progress); err != nil {
		return err
	}
	r.note("creating", "creating networks, volumes and containers", -1)
	if err := s.engine.Up(ctx, p, containerLabels(inst, inst.Version), r.progress); err != nil {
		return err
	}
	r.note("waiting", fmt.Sprintf("waiting up to %s for %s to be healthy", s.cfg.HealthTimeout, inst.Name), -1)
	return s.waitHealthy(ctx, inst)
}

// containerLabels are the labels on every container of inst while it runs version.
func containerLabels(inst *store.Instance, version string) map[string]string {
	return map[string]string{engine.LabelApp: inst.AppKey, engine.LabelInstance: inst.Name, engine.LabelAppVersion: version}
}

func (s *Service) updateRollback(ctx context.Context, job *store.Job, fn func(*rollbackInfo)) error {
	var rb rollbackInfo
	_ = json.Unmarshal([]byte(job.Rollback), &rb)
	fn(&rb)
	b, _ := json.Marshal(rb)
	job.Rollback = string(b)
	return s.store.Q().SetJobRollback(ctx, job.ID, job.Rollback)
}

// healthPoll is how often an install checks its containers while it waits; it ends with the install, so a
// short interval costs little and notices health as soon as Docker reports it.
const healthPoll = 100 * time.Millisecond

// settle is how long a project with neither a healthcheck nor a web port must keep running before it counts as
// started: a process that dies right after it starts is caught meanwhile. A Docker "healthy" or an HTTP answer
// from the app is proof enough on its own.
const settle = time.Second

// waitHealthy waits until every container runs (and is healthy where it has a healthcheck); with no
// healthcheck at all, the web port must also answer. A container that exits fails the wait at once.
func (s *Service) waitHealthy(ctx context.Context, inst *store.Instance) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HealthTimeout)
	defer cancel()
	bookings, err := s.store.Q().PortBookings(ctx, inst.Name)
	if err != nil {
		return err
	}
	port, _ := mainPorts(bookings)
	running := *inst
	running.State = store.StateInstalled
	info := "no container reported yet"
	t := time.NewTicker(healthPoll)
	defer t.Stop()
	var runningSince time.Time
	for {
		st, err := s.engine.Status(ctx, inst.Project)
		if err == nil {
			var code string
			code, info = computeStatus(&running, st)
			switch {
			case code == StatusFailed:
				return errors.New(info)
			case code != StatusRunning:
				runningSince = time.Time{}
			case hasHealthcheck(st):
				return nil
			case port != "":
				if s.answers(ctx, inst, port) {
					return nil
				}
				info = "the web port " + port + " does not answer yet"
			case runningSince.IsZero():
				runningSince = time.Now()
			case time.Since(runningSince) >= settle:
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if s.ctx.Err() != nil {
				return s.ctx.Err()
			}
			return fmt.Errorf("%s did not become healthy within %s: %s", inst.Name, s.cfg.HealthTimeout, info)
		case <-t.C:
		}
	}
}

func hasHealthcheck(st *engine.Status) bool {
	return slices.ContainsFunc(st.Services, func(s engine.ServiceState) bool { return s.Health != "" })
}

// answers reports whether the app answers HTTP on its web port (on a cluster, at the node where its task
// publishes it); any status counts, redirects are not followed. A bare TCP connect is not enough: Docker's port
// proxy accepts connections even when nothing behind it serves.
func (s *Service) answers(ctx context.Context, inst *store.Instance, port string) bool {
	p, err := strconv.Atoi(port)
	if err != nil {
		return false
	}
	addr, err := s.upstreamAt(ctx, inst, p)
	if err != nil {
		return false
	}
	res, err := s.probe.Get("http://" + addr + "/")
	if err != nil {
		return false
	}
	res.Body.Close()
	return true
}

// rollback removes what the install created: containers and networks, the volumes that did not exist before,
// the project directory if it was new, and the port bookings.
func (s *Service) rollback(ctx context.Context, inst *store.Instance, job *store.Job) error {
	var rb rollbackInfo
	_ = json.Unmarshal([]byte(job.Rollback), &rb)
	var errs []error
	if err := s.engine.Down(ctx, inst.Project, false); err != nil {
		errs = append(errs, err)
	}
	if rb.VolumesChecked {
		vols, err := s.engine.Volumes(ctx, inst.Project)
		if err != nil {
			errs = append(errs, err)
		}
		for _, v := range vols {
			if !slices.Contains(rb.VolumesBefore, v) {
				if err := s.engine.RemoveVolume(ctx, v); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if rb.FreshDir {
		if err := os.RemoveAll(s.projectDir(inst.Name)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.store.Q().ReleasePorts(ctx, inst.Name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Reconcile finishes the jobs a previous run of the server left unfinished: an interrupted install is rolled
// back, an interrupted uninstall is completed, an interrupted upgrade or rollback is settled in the background
// (see recoverUpgrade), anything else is marked failed.
func (s *Service) Reconcile(ctx context.Context) error {
	jobs, err := s.store.Q().RunningJobs(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	for i := range jobs {
		job := &jobs[i]
		if s.cfg.Leases != nil {
			// Replicas: only the jobs no live process runs, each claimed by one process.
			if ok, err := s.cfg.Leases.ClaimJob(ctx, job.ID); err != nil || !ok {
				continue
			}
		}
		r := &run{s: s, job: job}
		inst, err := s.store.Q().Instance(ctx, job.Instance)
		if err != nil {
			r.finish(store.JobFailed, "the instance is gone")
			continue
		}
		switch job.Kind {
		case "install":
			r.note("rolling_back", "the server stopped during the install; rolling back", -1)
			cause := "the install was interrupted by a server restart and rolled back; install it again"
			if err := s.rollback(ctx, inst, job); err != nil {
				cause += "; rollback incomplete: " + err.Error()
			}
			s.fail(ctx, r, inst.Name, cause)
		case "uninstall":
			r.note("removing", "the server stopped during the uninstall; finishing it", -1)
			if err := s.remove(ctx, inst, job.Rollback == `{"purge":true}`); err != nil {
				r.finish(store.JobFailed, err.Error())
			}
		case "upgrade", "rollback":
			s.recoverUpgrade(job, inst)
		default:
			r.finish(store.JobFailed, interrupted)
		}
		s.log.Info("reconciled job", "job", job.ID, "kind", job.Kind, "instance", job.Instance)
	}
	return nil
}
