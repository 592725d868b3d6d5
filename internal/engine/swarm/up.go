package swarm

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/engine/docker"
)

// pollEvery is how often a wait reads a service's tasks.
const pollEvery = 250 * time.Millisecond

// CheckHost implements engine.HostChecker: nothing in p is beyond Swarm (see refuse), the engine manages a
// Swarm, and every service that keeps data has a node it can be pinned to.
func (e *Engine) CheckHost(ctx context.Context, p *engine.Project) error {
	if err := refuse(p); err != nil {
		return err
	}
	for _, name := range sortedServices(p) {
		if _, err := e.pinFor(ctx, p, name, nil); err != nil {
			return err
		}
	}
	return nil
}

// Up implements engine.Engine: networks, then each service in depends_on order once its dependencies meet their
// conditions; it returns when every service's tasks run (healthy, for a service with a healthcheck: Swarm holds a
// task in starting until then) or have completed, for one-shot services.
func (e *Engine) Up(ctx context.Context, p *engine.Project, labels map[string]string, progress func(engine.Progress)) error {
	_, err := e.apply(ctx, p, labels, progress, false)
	return err
}

// Converge implements engine.Engine: a service whose configuration changed (by its config-hash label) is updated
// in place (Swarm replaces its tasks), a missing one created, a stopped one scaled back; a pinned service keeps its
// node.
func (e *Engine) Converge(ctx context.Context, p *engine.Project, labels map[string]string, progress func(engine.Progress)) ([]string, error) {
	return e.apply(ctx, p, labels, progress, true)
}

func (e *Engine) apply(ctx context.Context, p *engine.Project, labels map[string]string, progress func(engine.Progress),
	converge bool) ([]string, error) {
	if progress == nil {
		progress = func(engine.Progress) {}
	}
	if err := refuse(p); err != nil {
		return nil, err
	}
	order, err := engine.Order(p)
	if err != nil {
		return nil, err
	}
	have := map[string]swarm.Service{}
	if converge {
		svcs, err := e.services(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		for _, s := range svcs {
			have[s.Spec.Labels[engine.LabelService]] = s
		}
	}
	// Every spec first (pins, bind sources), so a service that cannot be placed refuses the install before
	// anything is created.
	specs := map[string]swarm.ServiceSpec{}
	for _, name := range order {
		var old *swarm.Service
		if s, ok := have[name]; ok {
			old = &s
		}
		pin, err := e.pinFor(ctx, p, name, old)
		if err != nil {
			return nil, err
		}
		if specs[name], err = spec(p, name, labels, pin); err != nil {
			return nil, err
		}
	}
	if err := e.networks(ctx, p, progress); err != nil {
		return nil, err
	}
	var changed, touched []string
	for _, name := range order {
		sp := specs[name]
		old, exists := have[name]
		switch {
		case exists && old.Spec.Labels[engine.LabelConfigHash] == sp.Labels[engine.LabelConfigHash] &&
			old.Spec.Labels[LabelPinned] == sp.Labels[LabelPinned]:
			if old.Spec.Labels[LabelStopped] == "" {
				continue
			}
			if err := e.waitDeps(ctx, p, name, progress); err != nil {
				return changed, err
			}
			progress(engine.Progress{Stage: "start", Service: name, Message: "starting " + sp.Name, Percent: -1})
			if err := e.scaleBack(ctx, old); err != nil {
				return changed, err
			}
		case exists:
			if err := e.waitDeps(ctx, p, name, progress); err != nil {
				return changed, err
			}
			progress(engine.Progress{Stage: "create", Service: name, Message: "updating " + sp.Name, Percent: -1})
			if _, err := e.c.ServiceUpdate(ctx, old.ID, client.ServiceUpdateOptions{Version: old.Version, Spec: sp}); err != nil {
				return changed, fmt.Errorf("update service %s: %w", sp.Name, docker.CleanErr(err))
			}
			changed = append(changed, name)
		default:
			if err := e.waitDeps(ctx, p, name, progress); err != nil {
				return changed, err
			}
			progress(engine.Progress{Stage: "create", Service: name, Message: "creating " + sp.Name, Percent: -1})
			if _, err := e.c.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: sp}); err != nil {
				return changed, fmt.Errorf("create service %s: %w", sp.Name, docker.CleanErr(err))
			}
			changed = append(changed, name)
		}
		touched = append(touched, name)
	}
	for _, name := range touched {
		progress(engine.Progress{Stage: "wait", Service: name, Message: "waiting for " + name + " to run", Percent: -1})
		if err := e.waitService(ctx, p.Name, name, "", oneShotIn(p, name)); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

func oneShotIn(p *engine.Project, name string) bool {
	return restartPolicy(p, name).Condition != swarm.RestartPolicyConditionAny
}

// networks creates the project's missing networks: overlay and attachable (so a container outside the stack,
// such as the edge, can join one). A missing external network is created too and marked, as on a single engine.
func (e *Engine) networks(ctx context.Context, p *engine.Project, progress func(engine.Progress)) error {
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		n := p.Networks[key]
		in, err := e.c.NetworkInspect(ctx, n.Name, client.NetworkInspectOptions{})
		if err == nil {
			if in.Network.Scope != "swarm" {
				return fmt.Errorf("network %s exists as a %s network on this node; Swarm services need an overlay "+
					"network of that name: remove it", n.Name, in.Network.Scope)
			}
			continue
		}
		if !notFound(err) {
			return fmt.Errorf("inspect network %s: %w", n.Name, docker.CleanErr(err))
		}
		lbl := map[string]string{}
		if n.External {
			lbl[engine.LabelManaged] = "true"
			lbl[engine.LabelCreatedBy] = p.Name
		} else {
			maps.Copy(lbl, n.Labels)
			lbl[engine.LabelProject], lbl[engine.LabelNetwork], lbl[LabelNamespace] = p.Name, key, p.Name
		}
		progress(engine.Progress{Stage: "network", Message: "creating network " + n.Name, Percent: -1})
		if _, err := e.c.NetworkCreate(ctx, n.Name, client.NetworkCreateOptions{Driver: "overlay", Scope: "swarm",
			Labels: lbl, Options: n.DriverOpts, Internal: n.Internal, Attachable: true}); err != nil &&
			!strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("create network %s: %w", n.Name, docker.CleanErr(err))
		}
	}
	return nil
}

// pinFor chooses the node a service that keeps data runs on ("" for one that keeps none). A service that was
// pinned keeps its node. Binds (files, configs, secrets) exist only on this node, so it is this one. A named
// volume stays on a node that already holds it; else on this node when the placement constraints allow, else on
// the first ready, active node (by hostname) they allow.
func (e *Engine) pinFor(ctx context.Context, p *engine.Project, name string, old *swarm.Service) (string, error) {
	s := p.Services[name]
	ms, err := dryMounts(p, name)
	if err != nil {
		return "", err
	}
	volume, bind := keepsData(ms)
	if !volume && !bind {
		return "", nil
	}
	if old != nil && old.Spec.Labels[LabelPinned] != "" {
		return old.Spec.Labels[LabelPinned], nil
	}
	self, err := e.self(ctx)
	if err != nil {
		return "", err
	}
	nodes, err := e.swarmNodes(ctx)
	if err != nil {
		return "", err
	}
	var constraints []string
	if s.Deploy != nil {
		constraints = s.Deploy.Placement.Constraints
	}
	var fit []swarm.Node
	for _, n := range nodes {
		if n.Status.State == swarm.NodeStateReady && n.Spec.Availability == swarm.NodeAvailabilityActive && satisfies(n, constraints) {
			fit = append(fit, n)
		}
	}
	isSelf := func(n swarm.Node) bool { return n.ID == self }
	if bind {
		if !slices.ContainsFunc(fit, isSelf) {
			return "", fmt.Errorf("service %s binds files that exist only on the node StackHub runs on, and that "+
				"node is not ready and active or its placement constraints (%s) exclude it", name,
				strings.Join(constraints, ", "))
		}
		return self, nil
	}
	if len(fit) == 0 {
		return "", fmt.Errorf("service %s keeps data in a volume, and no ready, active node satisfies its placement "+
			"constraints (%s)", name, strings.Join(constraints, ", "))
	}
	for _, n := range fit { // a node that already holds one of its volumes (an earlier install kept them)
		c, err := e.nodeClient(ctx, n.Description.Hostname)
		if err != nil || c == nil {
			continue
		}
		for _, m := range ms {
			if m.Source == "" || m.Type != "volume" {
				continue
			}
			if _, err := c.VolumeInspect(ctx, m.Source, client.VolumeInspectOptions{}); err == nil {
				return n.ID, nil
			}
		}
	}
	if i := slices.IndexFunc(fit, isSelf); i >= 0 {
		return self, nil
	}
	return fit[0].ID, nil
}

// dryMounts are a service's mounts as spec makes them (it creates a missing bind source, as Compose does).
func dryMounts(p *engine.Project, name string) ([]mount.Mount, error) {
	ms, err := mounts(p, name, p.Services[name])
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	return ms, nil
}

// satisfies evaluates the placement constraints Swarm knows (==, != on node.id, node.hostname, node.role,
// node.platform.os/arch, node.labels.*, engine.labels.*); one on anything else is left to Swarm.
func satisfies(n swarm.Node, constraints []string) bool {
	for _, c := range constraints {
		op := "=="
		k, v, ok := strings.Cut(c, "==")
		if !ok {
			op = "!="
			if k, v, ok = strings.Cut(c, "!="); !ok {
				continue
			}
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		var have string
		switch {
		case k == "node.id":
			have = n.ID
		case k == "node.hostname":
			have = n.Description.Hostname
		case k == "node.role":
			have = string(n.Spec.Role)
		case k == "node.platform.os":
			have = n.Description.Platform.OS
		case k == "node.platform.arch":
			have = n.Description.Platform.Architecture
		case strings.HasPrefix(k, "node.labels."):
			have = n.Spec.Labels[strings.TrimPrefix(k, "node.labels.")]
		case strings.HasPrefix(k, "engine.labels."):
			have = n.Description.Engine.Labels[strings.TrimPrefix(k, "engine.labels.")]
		default:
			continue
		}
		if (have == v) != (op == "==") {
			return false
		}
	}
	return true
}

// waitDeps waits until each of the service's dependencies meets its depends_on condition.
func (e *Engine) waitDeps(ctx context.Context, p *engine.Project, name string, progress func(engine.Progress)) error {
	for _, dep := range slices.Sorted(maps.Keys(p.Services[name].DependsOn)) {
		cond := p.Services[name].DependsOn[dep].Condition
		progress(engine.Progress{Stage: "wait", Service: name, Message: fmt.Sprintf("waiting for %s (%s)", dep, cond), Percent: -1})
		if err := e.waitService(ctx, p.Name, dep, cond, oneShotIn(p, dep)); err != nil {
			return fmt.Errorf("service %s: %w", name, err)
		}
	}
	return nil
}

// waitService waits until a service's tasks meet condition: every replica running (which, for a task with a
// healthcheck, Swarm reports only once it is healthy), or, for service_completed_successfully, every one
// complete. It fails as soon as they never can: a task rejected, waiting for a node none can satisfy, failed
// three times, or (a one-shot service) exited with an error.
func (e *Engine) waitService(ctx context.Context, project, service, condition string, oneShot bool) error {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	name := serviceName(project, service)
	for {
		done, why, err := e.serviceMet(ctx, name, service, condition, oneShot)
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if why != "" { // a task Swarm could not place yet: "no suitable node (...)"
				return fmt.Errorf("waiting for %s to run (%s): %w", service, why, ctx.Err())
			}
			return fmt.Errorf("waiting for %s to run: %w", service, ctx.Err())
		case <-t.C:
		}
	}
}

func (e *Engine) serviceMet(ctx context.Context, name, service, condition string, oneShot bool) (done bool, why string, err error) {
	in, err := e.c.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
	if err != nil {
		return false, "", fmt.Errorf("dependency %s: %w", service, docker.CleanErr(err))
	}
	tasks, err := e.tasks(ctx, in.Service.ID)
	if err != nil {
		return false, "", err
	}
	want := -1 // global: whatever the nodes run
	if r := in.Service.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		want = int(*r.Replicas)
	}
	failed := 0
	for _, t := range tasks {
		if t.Status.State == swarm.TaskStateFailed {
			failed++
		}
	}
	// Right after an update the newest task of a slot may still be the old one, running: only tasks of the
	// service's present configuration count, or Converge would return before the new tasks run.
	var hash string
	if cs := in.Service.Spec.TaskTemplate.ContainerSpec; cs != nil {
		hash = cs.Labels[engine.LabelConfigHash]
	}
	cur := current(tasks)
	running, complete := 0, 0
	for _, t := range cur {
		if hash != "" && (t.Spec.ContainerSpec == nil || t.Spec.ContainerSpec.Labels[engine.LabelConfigHash] != hash) {
			continue
		}
		st := t.Status
		switch st.State {
		case swarm.TaskStateRunning:
			running++
		case swarm.TaskStateComplete:
			complete++
		case swarm.TaskStateRejected:
			return false, "", fmt.Errorf("service %s: its task was rejected: %s", service, st.Err)
		case swarm.TaskStatePending:
			why = st.Err
		case swarm.TaskStateFailed:
			if oneShot {
				return false, "", fmt.Errorf("service %s failed: %s%s", service, st.Err, e.logSuffix(ctx, t.ID))
			}
		}
	}
	if failed >= 3 {
		last := ""
		for _, t := range tasks {
			if t.Status.State == swarm.TaskStateFailed {
				last = t.Status.Err + e.logSuffix(ctx, t.ID)
			}
		}
		return false, "", fmt.Errorf("service %s failed %d times: %s", service, failed, last)
	}
	if want == -1 {
		want = max(len(cur), 1)
	}
	switch condition {
	case "service_completed_successfully":
		return complete >= want, why, nil
	default: // started, healthy (Swarm runs a task with a healthcheck only once it is healthy)
		if oneShot {
			return running+complete >= want, why, nil
		}
		return running >= want, why, nil
	}
}

// logSuffix is ": <the task's last log line>", or "" when it has none.
func (e *Engine) logSuffix(ctx context.Context, taskID string) string {
	if line := e.lastLine(ctx, taskID); line != "" {
		return ": " + line
	}
	return ""
}

// tasks lists a service's tasks, oldest first.
func (e *Engine) tasks(ctx context.Context, serviceID string) ([]swarm.Task, error) {
	res, err := e.c.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", serviceID)})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", docker.CleanErr(err))
	}
	slices.SortStableFunc(res.Items, func(a, b swarm.Task) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return res.Items, nil
}

// current are the tasks that stand for the service now: the newest of each replica slot (or, global, of each
// node), unless Swarm shut it down or is removing it (a stopped or scaled-down replica). A task that ended by
// itself (complete, failed) stands, though Swarm then wants it shut down too.
func current(tasks []swarm.Task) []swarm.Task {
	latest := map[string]swarm.Task{}
	var keys []string
	for _, t := range tasks {
		switch {
		case t.DesiredState == swarm.TaskStateRemove,
			t.Status.State == swarm.TaskStateShutdown, t.Status.State == swarm.TaskStateRemove,
			t.Status.State == swarm.TaskStateOrphaned:
			continue
		}
		k := fmt.Sprint(t.Slot)
		if t.Slot == 0 {
			k = t.NodeID
		}
		if _, ok := latest[k]; !ok {
			keys = append(keys, k)
		}
		latest[k] = t // tasks come oldest first
	}
	out := make([]swarm.Task, 0, len(keys))
	for _, k := range keys {
		out = append(out, latest[k])
	}
	slices.SortStableFunc(out, func(a, b swarm.Task) int { return a.Slot - b.Slot })
	return out
}
