package host

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// uninstallTimeout bounds one uninstall: stopping every container waits its stop grace period (10 s by default),
// so this is generous, and it only guards against a Docker Engine that hangs.
const uninstallTimeout = 10 * time.Minute

// Uninstall removes an instance: its containers and networks, with purge its volumes, files and upgrade snapshots
// too, and its port bookings. It is recorded as a job first, so a crash in the middle is finished by Reconcile.
// The removal runs detached from ctx: a client that goes away stops waiting, not the uninstall. Uninstall waits
// for it and answers its result while ctx lasts.
func (s *Service) Uninstall(ctx context.Context, a auth.Actor, name string, purge bool) (err error) {
	defer func() { s.audit.Record(ctx, a, audit.Uninstall, name, err) }()
	if err := require(a, auth.HostWrite); err != nil {
		return err
	}
	if !nameRe.MatchString(name) {
		return apperr.New(apperr.NotFound, "%s is not installed", name)
	}
	inst, err := s.store.Q().Instance(ctx, name)
	if err != nil {
		return notInstalled(err, name)
	}
	rb := "{}"
	if purge {
		rb = `{"purge":true}`
	}
	done := make(chan error, 1)
	_, err = s.startJob(name, func() (*store.Job, error) {
		now := s.ms()
		job := &store.Job{Instance: name, Kind: "uninstall", Stage: "removing", State: store.JobRunning, Rollback: rb,
			CreatedAt: now, UpdatedAt: now}
		return job, s.store.Tx(ctx, func(q *store.Q) error {
			if err := q.CreateJob(ctx, job); err != nil {
				return err
			}
			return q.SetInstanceState(ctx, name, store.StateUninstalling, "", now)
		})
	}, func(r *run) {
		err := s.runUninstall(r, inst, purge)
		r.release() // before the answer: a client told "uninstalled" may install the name again at once
		done <- err
	})
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return apperr.Wrap(apperr.Unavailable, ctx.Err(), "stopped waiting for %s: the uninstall goes on in the background", name)
	}
}

// runUninstall removes inst under its own deadline; on failure the instance gets its state back and the error
// says what is left.
func (s *Service) runUninstall(r *run, inst *store.Instance, purge bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), uninstallTimeout)
	defer cancel()
	err := s.remove(ctx, inst, purge)
	if err == nil {
		return nil // the job went with the instance
	}
	ctx = context.WithoutCancel(ctx)
	_ = s.store.Q().SetInstanceState(ctx, inst.Name, inst.State, inst.Cause, s.ms())
	r.finish(store.JobFailed, err.Error())
	return apperr.Wrap(apperr.Unavailable, err, "%s could not be fully uninstalled: %s. %s", inst.Name, err, s.leftovers(ctx, inst))
}

// remove takes an instance off the server and out of the database; with purge, its volumes, project directory
// and upgrade snapshots (which hold copies of the volumes) go too. Every step can be repeated, so Reconcile
// finishes an interrupted one by calling it again.
func (s *Service) remove(ctx context.Context, inst *store.Instance, purge bool) error {
	if err := s.engine.Down(ctx, inst.Project, purge); err != nil {
		return err
	}
	if purge {
		if err := os.RemoveAll(s.projectDir(inst.Name)); err != nil {
			return fmt.Errorf("remove files: %w", err)
		}
		if err := os.RemoveAll(s.backupDir(inst.Name)); err != nil {
			return fmt.Errorf("remove snapshots: %w", err)
		}
	}
	if err := s.store.Q().DeleteInstance(context.WithoutCancel(ctx), inst.Name); err != nil {
		return fmt.Errorf("forget %s: %w", inst.Name, err)
	}
	if s.domains != nil {
		s.domains.Changed(ctx) // its routes went with it
	}
	s.publish(events.InstallStatus, StatusEvent{Instance: inst.Name, State: "removed", Status: StatusNotStarted, Info: "uninstalled"})
	return nil
}

// leftovers says what still runs after a failed removal, and how to remove it by hand.
func (s *Service) leftovers(ctx context.Context, inst *store.Instance) string {
	st, err := s.engine.Status(ctx, inst.Project)
	if err != nil || len(st.Services) == 0 {
		return fmt.Sprintf("Check by hand with: docker ps -a --filter label=com.docker.compose.project=%s", inst.Project)
	}
	var parts []string
	for _, c := range st.Services {
		parts = append(parts, fmt.Sprintf("%s (%s, ports %v)", c.Container, c.State, c.HostPorts))
	}
	return fmt.Sprintf("Still there: %s. Remove them by hand with: docker rm -f $(docker ps -aq --filter label=com.docker.compose.project=%s)",
		strings.Join(parts, ", "), inst.Project)
}

// Result is the outcome for one instance of a bulk operation.
type Result struct {
	AppName string `json:"appName"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// UninstallAll uninstalls every instance and reports each. Once started it goes through all of them even if the
// client goes away, as each Uninstall would.
func (s *Service) UninstallAll(ctx context.Context, a auth.Actor, purge bool) (_ []Result, err error) {
	defer func() { s.audit.Record(ctx, a, audit.UninstallAll, "all", err) }()
	if err := require(a, auth.HostWrite); err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	insts, err := s.store.Q().Instances(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(insts))
	for _, inst := range insts {
		r := Result{AppName: inst.Name, Code: "1", Message: inst.Name + " is uninstalled"}
		if err := s.Uninstall(ctx, a, inst.Name, purge); err != nil {
			r.Code, r.Message = "0", apperr.As(err).Message
		}
		out = append(out, r)
	}
	return out, nil
}

// Operate starts, stops or restarts an instance as a job and returns the job at once.
func (s *Service) Operate(ctx context.Context, a auth.Actor, name, kind string) (_ *store.Job, err error) {
	defer func() { s.audit.Record(ctx, a, kind, name, err) }()
	if err := require(a, auth.HostWrite); err != nil {
		return nil, err
	}
	if kind != "start" && kind != "stop" && kind != "restart" {
		return nil, apperr.Field(apperr.Invalid, "action", "action must be start, stop or restart")
	}
	inst, err := s.store.Q().Instance(ctx, name)
	if err != nil {
		return nil, notInstalled(err, name)
	}
	if inst.State != store.StateInstalled {
		return nil, apperr.New(apperr.Conflict, "%s is %s; it can be %sed once it is installed", name, inst.State, kind)
	}
	return s.startJob(name, func() (*store.Job, error) {
		now := s.ms()
		job := &store.Job{Instance: name, Kind: kind, Stage: "queued", State: store.JobRunning, CreatedAt: now, UpdatedAt: now}
		return job, s.store.Q().CreateJob(ctx, job)
	}, func(r *run) { s.runOperate(r, inst) })
}

// runOperate works under s.ctx, unlike upgrades: a shutdown stops it where it is.
func (s *Service) runOperate(r *run, inst *store.Instance) {
	job := r.job
	ctx := s.ctx
	r.note(job.Kind+"ing", job.Kind+"ing "+inst.Name, -1)
	var err error
	switch job.Kind {
	case "start":
		err = s.engine.Start(ctx, inst.Project)
	case "stop":
		err = s.engine.Stop(ctx, inst.Project)
	case "restart":
		err = s.engine.Restart(ctx, inst.Project)
	}
	stopped := job.Kind == "stop"
	if err == nil && stopped {
		r.finishing() // the app is seen stopped from here
	}
	if err == nil {
		if err = s.store.Q().SetInstanceStopped(ctx, inst.Name, stopped, s.ms()); err == nil && !stopped {
			inst.Stopped = false
			r.note("waiting", "waiting for "+inst.Name+" to be healthy", -1)
			err = s.waitHealthy(ctx, inst)
		}
	}
	r.finishing()
	if err != nil {
		r.note("failed", err.Error(), -1)
		r.finish(store.JobFailed, err.Error())
		return
	}
	r.note("done", map[string]string{"start": "started", "stop": "stopped", "restart": "restarted"}[job.Kind]+" "+inst.Name, 100)
	r.finish(store.JobSucceeded, "")
	status, info := StatusRunning, "running"
	if stopped {
		status, info = StatusNotStarted, "stopped"
	}
	s.publish(events.InstallStatus, StatusEvent{Instance: inst.Name, Job: job.ID, State: store.StateInstalled, Status: status, Info: info})
}

// Logs writes an instance's container logs to w.
func (s *Service) Logs(ctx context.Context, a auth.Actor, name string, tail int, follow bool, w io.Writer) error {
	inst, err := s.installed(ctx, a, auth.HostRead, name)
	if err != nil {
		return err
	}
	if tail <= 0 || tail > 10_000 {
		tail = 200
	}
	if err := s.engine.Logs(ctx, inst.Project, tail, follow, w); err != nil && ctx.Err() == nil {
		return apperr.Wrap(apperr.Unavailable, err, "the logs of %s cannot be read", name)
	}
	return nil
}

// credentialKeys are the .env variables the credentials endpoint reveals.
var credentialKeys = []string{"W9_URL", "W9_LOGIN_USER", "W9_LOGIN_PASSWORD", "W9_POWER_PASSWORD", "W9_RCODE",
	"W9_ADMIN_PATH", "W9_DB_EXPOSE"}

// Credentials reveals an instance's generated secrets and login, resolved from its rendered .env. Only this
// call returns them.
func (s *Service) Credentials(ctx context.Context, a auth.Actor, name string) (map[string]string, error) {
	if _, err := s.installed(ctx, a, auth.HostWrite, name); err != nil {
		return nil, err
	}
	env, err := engine.ReadEnvFile(filepath.Join(s.projectDir(name), ".env"))
	if err != nil {
		return nil, err
	}
	keys := slices.Clone(credentialKeys)
	if inst, err := s.store.Q().Instance(ctx, name); err == nil {
		var secrets map[string]string // the stack's generated secrets (catalog.Secret) are credentials too
		_ = json.Unmarshal([]byte(inst.Secrets), &secrets)
		for k := range secrets {
			keys = append(keys, k)
		}
	}
	out := map[string]string{}
	for _, k := range keys {
		if v, ok := env[k]; ok {
			out[k] = v
		}
	}
	return out, nil
}

// Job returns a job and its log.
func (s *Service) Job(ctx context.Context, a auth.Actor, id int64) (*store.Job, []store.JobEvent, error) {
	j, err := s.job(ctx, a, id)
	if err != nil {
		return nil, nil, err
	}
	evs, err := s.store.Q().JobEvents(ctx, id, 0)
	return j, evs, err
}

// CheckJob refuses what Job would refuse (not the admin, no such job) without reading the job's log, so a stream
// can answer its error before it starts.
func (s *Service) CheckJob(ctx context.Context, a auth.Actor, id int64) error {
	_, err := s.job(ctx, a, id)
	return err
}

func (s *Service) job(ctx context.Context, a auth.Actor, id int64) (*store.Job, error) {
	if err := require(a, auth.HostRead); err != nil {
		return nil, err
	}
	j, err := s.store.Q().Job(ctx, id)
	if err != nil {
		return nil, apperr.Wrap(apperr.NotFound, err, "job %d was not found", id)
	}
	return j, nil
}

// Follow calls fn with the job's log lines after seq `after`, then with new ones as they come, until the job ends
// or ctx is done. It returns the job as it ended.
func (s *Service) Follow(ctx context.Context, a auth.Actor, id, after int64, fn func(store.JobEvent) error) (*store.Job, error) {
	if err := require(a, auth.HostRead); err != nil {
		return nil, err
	}
	// live only wakes the loop, which re-reads the store: the log is the truth, the bus is a doorbell.
	live := make(chan struct{}, 1)
	cancel := s.bus.Subscribe(func(e events.Event) {
		ring := false
		switch p := e.Payload.(type) {
		case StageEvent:
			ring = p.Job == id
		case StatusEvent:
			ring = p.Job == id
		}
		if ring {
			select {
			case live <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	// A job that ends without an event (finished by Reconcile, say) is still noticed.
	recheck := time.NewTicker(time.Second)
	defer recheck.Stop()
	for {
		// The state is read before the log: a job that had ended then has all its lines in the log now.
		j, err := s.store.Q().Job(ctx, id)
		if err != nil {
			return nil, apperr.Wrap(apperr.NotFound, err, "job %d was not found", id)
		}
		evs, err := s.store.Q().JobEvents(ctx, id, after)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return nil, err
			}
			after = e.Seq
		}
		if j.State != store.JobRunning {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-live:
		case <-recheck.C:
		}
	}
}
