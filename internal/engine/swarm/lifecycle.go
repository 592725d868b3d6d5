package swarm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/engine/docker"
)

// settle bounds how long Down retries removing a network or volume that a task being removed still holds.
const settle = time.Minute

// stoppedGlobal is LabelStopped's value on a stopped global service, which has no replica count to scale: it is
// kept off every node by an impossible constraint instead.
const (
	stoppedGlobal = "global"
	nowhere       = "node.id==stackhub-stopped"
)

// Down implements engine.Engine: the stack's services, then its networks (once the tasks have let go of them),
// then, when asked, its volumes on every node StackHub reaches.
func (e *Engine) Down(ctx context.Context, name string, volumes bool) error {
	svcs, err := e.services(ctx, name)
	if err != nil {
		return err
	}
	var errs []error
	pinned := map[string]bool{}
	for _, s := range svcs {
		if n := s.Spec.Labels[LabelPinned]; n != "" {
			pinned[n] = true
		}
		if _, err := e.c.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil && !notFound(err) {
			errs = append(errs, fmt.Errorf("remove service %s: %w", s.Spec.Name, docker.CleanErr(err)))
		}
	}
	if err := e.waitTasksGone(ctx, name, svcs); err != nil {
		errs = append(errs, err)
	}
	nets, err := e.c.NetworkList(ctx, client.NetworkListOptions{Filters: namespaceFilter(name)})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list networks of %s: %w", name, err))...)
	}
	for _, n := range nets.Items {
		if err := e.settled(ctx, func() error {
			_, err := e.c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			return err
		}); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, docker.CleanErr(err)))
		}
	}
	// A node keeps its local copy of an overlay network until its task's container is gone: wait for that, so
	// Down leaves nothing and a new Up of the same name does not meet the old network.
	if err := e.settled(ctx, func() error {
		left, err := e.c.NetworkList(ctx, client.NetworkListOptions{Filters: namespaceFilter(name)})
		if err == nil && len(left.Items) > 0 {
			err = fmt.Errorf("network %s is still in use on its node", left.Items[0].Name)
		}
		return err
	}); err != nil {
		errs = append(errs, err)
	}
	// A shared network this project created goes once nothing uses it; in use, it stays.
	if managed, err := e.c.NetworkList(ctx, client.NetworkListOptions{
		Filters: client.Filters{}.Add("label", engine.LabelCreatedBy+"="+name)}); err == nil {
		for _, n := range managed.Items {
			_, _ = e.c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		}
	}
	if volumes {
		errs = append(errs, e.removeVolumes(ctx, name, pinned)...)
	}
	return errJoin(errs)
}

// waitTasksGone waits until Swarm has removed the tasks of removed services on every node that is up (a node
// that is down removes its own when it is back), and their containers are gone from the nodes StackHub reaches.
func (e *Engine) waitTasksGone(ctx context.Context, project string, svcs []swarm.Service) error {
	ids := map[string]bool{}
	for _, s := range svcs {
		ids[s.ID] = true
	}
	return e.settled(ctx, func() error {
		res, err := e.c.TaskList(ctx, client.TaskListOptions{})
		if err != nil {
			return fmt.Errorf("list tasks: %w", docker.CleanErr(err))
		}
		for _, t := range res.Items {
			if ids[t.ServiceID] && e.nodeUp(ctx, t.NodeID) {
				return fmt.Errorf("task %s is still in use on its node", t.ID)
			}
		}
		return e.reachable(ctx, func(host string, c *client.Client) error {
			res, err := c.ContainerList(ctx, client.ContainerListOptions{All: true,
				Filters: client.Filters{}.Add("label", LabelNamespace+"="+project)})
			if err == nil && len(res.Items) > 0 {
				err = fmt.Errorf("container %s is still in use on %s", res.Items[0].Names, host)
			}
			return err
		})
	})
}

// settled runs fn until it succeeds, fails for another reason than a resource still in use (a task being
// removed still holds it), or settle passes.
func (e *Engine) settled(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(settle)
	for {
		err := fn()
		if err == nil || notFound(err) {
			return nil
		}
		msg := err.Error()
		if !strings.Contains(msg, "in use") && !strings.Contains(msg, "active endpoints") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// removeVolumes removes the project's volumes on every node StackHub reaches, and says which nodes it cannot
// reach that hold some (those its pinned services ran on).
func (e *Engine) removeVolumes(ctx context.Context, project string, pinned map[string]bool) []error {
	var errs []error
	nodes, err := e.swarmNodes(ctx)
	if err != nil {
		return []error{err}
	}
	for _, n := range nodes {
		c, err := e.nodeClient(ctx, n.Description.Hostname)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c == nil {
			if pinned[n.ID] {
				errs = append(errs, fmt.Errorf("the volumes of %s stay on node %s, which StackHub cannot reach: "+
					"remove them there (docker volume ls --filter label=%s=%s)", project, n.Description.Hostname,
					engine.LabelProject, project))
			}
			continue
		}
		if n.Status.State != swarm.NodeStateReady {
			if pinned[n.ID] {
				errs = append(errs, fmt.Errorf("the volumes of %s stay on node %s, which is %s", project,
					n.Description.Hostname, n.Status.State))
			}
			continue
		}
		vols, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", engine.LabelProject+"="+project)})
		if err != nil {
			errs = append(errs, fmt.Errorf("list volumes of %s on %s: %w", project, n.Description.Hostname, docker.CleanErr(err)))
			continue
		}
		for _, v := range vols.Items {
			if err := e.settled(ctx, func() error {
				_, err := c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
				return err
			}); err != nil {
				errs = append(errs, fmt.Errorf("remove volume %s on %s: %w", v.Name, n.Description.Hostname, docker.CleanErr(err)))
			}
		}
	}
	return errs
}

// reachable calls fn with the engine of every ready node StackHub reaches, by hostname.
func (e *Engine) reachable(ctx context.Context, fn func(hostname string, c *client.Client) error) error {
	nodes, err := e.swarmNodes(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.Status.State != swarm.NodeStateReady {
			continue
		}
		c, err := e.nodeClient(ctx, n.Description.Hostname)
		if err != nil {
			return err
		}
		if c != nil {
			if err := fn(n.Description.Hostname, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// Volumes implements engine.Engine: the project's volumes on every node StackHub reaches.
func (e *Engine) Volumes(ctx context.Context, project string) ([]string, error) {
	var out []string
	err := e.reachable(ctx, func(host string, c *client.Client) error {
		res, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", engine.LabelProject+"="+project)})
		if err != nil {
			return fmt.Errorf("list volumes of %s on %s: %w", project, host, docker.CleanErr(err))
		}
		for _, v := range res.Items {
			out = append(out, v.Name)
		}
		return nil
	})
	slices.Sort(out)
	return slices.Compact(out), err
}

// RemoveVolume implements engine.Engine, on every node StackHub reaches.
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	return e.reachable(ctx, func(host string, c *client.Client) error {
		if _, err := c.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true}); err != nil && !notFound(err) {
			return fmt.Errorf("remove volume %s on %s: %w", name, host, docker.CleanErr(err))
		}
		return nil
	})
}

// VolumeMountpoint implements engine.Engine for a volume on this node; snapshots read the files, so a volume on
// another node is an error that names it.
func (e *Engine) VolumeMountpoint(ctx context.Context, name string) (string, error) {
	v, err := e.c.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err == nil {
		return v.Volume.Mountpoint, nil
	}
	if !notFound(err) {
		return "", fmt.Errorf("inspect volume %s: %w", name, docker.CleanErr(err))
	}
	where := ""
	_ = e.reachable(ctx, func(host string, c *client.Client) error {
		if _, err := c.VolumeInspect(ctx, name, client.VolumeInspectOptions{}); err == nil && where == "" {
			where = host
		}
		return nil
	})
	if where != "" {
		return "", fmt.Errorf("volume %s is on node %s; StackHub reads volumes on its own node only", name, where)
	}
	return "", fmt.Errorf("volume %s: %w", name, docker.CleanErr(err))
}

// Stop implements engine.Engine: every service is scaled to 0 (dependents first), its replica count kept in a
// label for Start, and Stop returns once no task runs.
func (e *Engine) Stop(ctx context.Context, name string) error {
	svcs, err := e.services(ctx, name)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range slices.Backward(svcs) {
		if s.Spec.Labels[LabelStopped] != "" {
			continue
		}
		sp := s.Spec
		sp.Labels = cloneLabels(sp.Labels)
		switch {
		case sp.Mode.Replicated != nil && sp.Mode.Replicated.Replicas != nil:
			sp.Labels[LabelStopped] = strconv.FormatUint(*sp.Mode.Replicated.Replicas, 10)
			zero := uint64(0)
			sp.Mode.Replicated = &swarm.ReplicatedService{Replicas: &zero}
		case sp.Mode.Global != nil:
			sp.Labels[LabelStopped] = stoppedGlobal
			sp.TaskTemplate.Placement = clonePlacement(sp.TaskTemplate.Placement)
			sp.TaskTemplate.Placement.Constraints = append(sp.TaskTemplate.Placement.Constraints, nowhere)
		default:
			continue
		}
		if _, err := e.c.ServiceUpdate(ctx, s.ID, client.ServiceUpdateOptions{Version: s.Version, Spec: sp}); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", s.Spec.Name, docker.CleanErr(err)))
			continue
		}
		if err := e.waitStopped(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	return errJoin(errs)
}

// waitStopped waits until none of the service's tasks runs any more.
func (e *Engine) waitStopped(ctx context.Context, s swarm.Service) error {
	for {
		tasks, err := e.tasks(ctx, s.ID)
		if err != nil {
			return err
		}
		live := false
		for _, t := range tasks {
			switch t.Status.State {
			case swarm.TaskStateAssigned, swarm.TaskStateAccepted, swarm.TaskStatePreparing, swarm.TaskStateReady,
				swarm.TaskStateStarting, swarm.TaskStateRunning:
				live = live || e.nodeUp(ctx, t.NodeID)
			}
		}
		if !live {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to stop: %w", s.Spec.Name, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// nodeUp: the node is ready (a task on a node that is down will report nothing until it is back).
func (e *Engine) nodeUp(ctx context.Context, id string) bool {
	n, err := e.c.NodeInspect(ctx, id, client.NodeInspectOptions{})
	return err == nil && n.Node.Status.State == swarm.NodeStateReady
}

// Start implements engine.Engine: every stopped service gets its replicas back, in creation order (dependency
// order), and Start returns once they run.
func (e *Engine) Start(ctx context.Context, name string) error {
	svcs, err := e.services(ctx, name)
	if err != nil {
		return err
	}
	if len(svcs) == 0 {
		return fmt.Errorf("project %s has no services", name)
	}
	for _, s := range svcs {
		if s.Spec.Labels[LabelStopped] == "" {
			continue
		}
		if err := e.scaleBack(ctx, s); err != nil {
			return err
		}
		if err := e.waitService(ctx, name, s.Spec.Labels[engine.LabelService], "", specOneShot(s.Spec)); err != nil {
			return err
		}
	}
	return nil
}

// scaleBack undoes Stop on one service.
func (e *Engine) scaleBack(ctx context.Context, s swarm.Service) error {
	sp := s.Spec
	sp.Labels = cloneLabels(sp.Labels)
	was := sp.Labels[LabelStopped]
	delete(sp.Labels, LabelStopped)
	if was == stoppedGlobal {
		sp.TaskTemplate.Placement = clonePlacement(sp.TaskTemplate.Placement)
		sp.TaskTemplate.Placement.Constraints = slices.DeleteFunc(sp.TaskTemplate.Placement.Constraints,
			func(c string) bool { return c == nowhere })
	} else {
		n, err := strconv.ParseUint(was, 10, 64)
		if err != nil {
			return fmt.Errorf("service %s: label %s=%q is not a replica count", s.Spec.Name, LabelStopped, was)
		}
		sp.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
	}
	if _, err := e.c.ServiceUpdate(ctx, s.ID, client.ServiceUpdateOptions{Version: s.Version, Spec: sp}); err != nil {
		return fmt.Errorf("start %s: %w", s.Spec.Name, docker.CleanErr(err))
	}
	return nil
}

// Restart implements engine.Engine: every running service replaces its tasks (docker service update --force), in
// creation order, each running again before the next.
func (e *Engine) Restart(ctx context.Context, name string) error {
	svcs, err := e.services(ctx, name)
	if err != nil {
		return err
	}
	for _, s := range svcs {
		if s.Spec.Labels[LabelStopped] != "" {
			continue
		}
		sp := s.Spec
		sp.TaskTemplate.ForceUpdate++
		if _, err := e.c.ServiceUpdate(ctx, s.ID, client.ServiceUpdateOptions{Version: s.Version, Spec: sp}); err != nil {
			return fmt.Errorf("restart %s: %w", s.Spec.Name, docker.CleanErr(err))
		}
		if err := e.waitUpdated(ctx, s.ID); err != nil {
			return err
		}
		if err := e.waitService(ctx, name, s.Spec.Labels[engine.LabelService], "", specOneShot(s.Spec)); err != nil {
			return err
		}
	}
	return nil
}

// waitUpdated waits until Swarm has finished a service's update (or given up on it, which is an error).
func (e *Engine) waitUpdated(ctx context.Context, id string) error {
	for {
		in, err := e.c.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
		if err != nil {
			return docker.CleanErr(err)
		}
		us := in.Service.UpdateStatus
		switch {
		case us == nil || us.State == swarm.UpdateStateCompleted:
			return nil
		case us.State == swarm.UpdateStatePaused || us.State == swarm.UpdateStateRollbackCompleted ||
			us.State == swarm.UpdateStateRollbackPaused:
			return fmt.Errorf("update of %s stopped (%s): %s", in.Service.Spec.Name, us.State, us.Message)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to restart: %w", in.Service.Spec.Name, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

func specOneShot(sp swarm.ServiceSpec) bool {
	rp := sp.TaskTemplate.RestartPolicy
	return rp != nil && rp.Condition != "" && rp.Condition != swarm.RestartPolicyConditionAny
}

func cloneLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l)+1)
	for k, v := range l {
		out[k] = v
	}
	return out
}

func clonePlacement(p *swarm.Placement) *swarm.Placement {
	if p == nil {
		return &swarm.Placement{}
	}
	c := *p
	c.Constraints = slices.Clone(p.Constraints)
	return &c
}
