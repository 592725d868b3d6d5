package docker

import (
	"context"
	"fmt"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
)

// pollEvery is how often a wait checks a dependency's state; waits are short-lived (one install), so polling one
// container is cheaper than holding an event stream.
const pollEvery = 250 * time.Millisecond

// Up implements engine.Engine.
func (e *Engine) Up(ctx context.Context, p *engine.Project, labels map[string]string, progress func(engine.Progress)) error {
	progress = orNoop(progress)
	order, err := engine.Order(p)
	if err != nil {
		return err
	}
	releaseBuilds, err := e.holdBuilds(ctx, p, progress)
	defer releaseBuilds()
	if err != nil {
		return err
	}
	release, err := e.networks(ctx, p, progress)
	defer release()
	if err != nil {
		return err
	}
	if err := e.volumes(ctx, p, progress); err != nil {
		return err
	}
	for _, name := range order {
		if err := e.waitDeps(ctx, p, name, progress); err != nil {
			return err
		}
		for n := 1; n <= engine.Replicas(p, name); n++ {
			if err := e.createAndStart(ctx, p, name, n, labels, progress); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitDeps waits until every container of each of the service's dependencies meets its depends_on condition;
// a dependency scaled to 0 has none to wait for.
func (e *Engine) waitDeps(ctx context.Context, p *engine.Project, name string, progress func(engine.Progress)) error {
	for dep, cond := range p.Services[name].DependsOn {
		progress(engine.Progress{Stage: "wait", Service: name, Message: fmt.Sprintf("waiting for %s (%s)", dep, cond.Condition), Percent: -1})
		for n := 1; n <= engine.Replicas(p, dep); n++ {
			if err := e.waitFor(ctx, engine.ReplicaName(p, dep, n), dep, cond.Condition); err != nil {
				return fmt.Errorf("service %s: %w", name, err)
			}
		}
	}
	return nil
}

// holdBuilds marks the project's built images in use until release is called, so a concurrent Down (of another
// install, or an upgrade's old version) does not remove one before this Up's containers use it; and builds again
// one such a Down removed between Pull and now. release must be called even when holdBuilds fails.
func (e *Engine) holdBuilds(ctx context.Context, p *engine.Project, progress func(engine.Progress)) (release func(), err error) {
	var imgs []string
	e.buildMu.Lock()
	if e.holding == nil {
		e.holding = map[string]int{}
	}
	for _, name := range sortedServices(p) {
		if s := p.Services[name]; s.Build != nil && s.Image != "" {
			e.holding[s.Image]++
			imgs = append(imgs, s.Image)
		}
	}
	e.buildMu.Unlock()
	release = func() {
		e.buildMu.Lock()
		defer e.buildMu.Unlock()
		for _, img := range imgs {
			if e.holding[img]--; e.holding[img] <= 0 {
				delete(e.holding, img)
			}
		}
	}
	for _, name := range sortedServices(p) {
		if s := p.Services[name]; s.Build != nil && s.Image != "" {
			// missing: a policy other than build builds only an image this server lacks
			if err := e.buildIfNeeded(ctx, p.Name, name, s, types.PullPolicyMissing, progress); err != nil {
				return release, err
			}
		}
	}
	return release, nil
}

// networks creates the project's missing networks and marks them in use until release is called (Down leaves
// them alone meanwhile); release must be called even when networks fails.
func (e *Engine) networks(ctx context.Context, p *engine.Project, progress func(engine.Progress)) (release func(), err error) {
	e.netMu.Lock()
	defer e.netMu.Unlock()
	if e.upping == nil {
		e.upping = map[string]int{}
	}
	var names []string
	for _, n := range p.Networks {
		e.upping[n.Name]++
		names = append(names, n.Name)
	}
	release = func() {
		e.netMu.Lock()
		defer e.netMu.Unlock()
		for _, n := range names {
			if e.upping[n]--; e.upping[n] <= 0 {
				delete(e.upping, n)
			}
		}
	}
	for key, n := range p.Networks {
		_, err := e.c.NetworkInspect(ctx, n.Name, client.NetworkInspectOptions{})
		if err == nil {
			continue
		}
		if !errdefs.IsNotFound(err) {
			return release, fmt.Errorf("inspect network %s: %w", n.Name, err)
		}
		lbl := map[string]string{}
		if n.External {
			// An external network that is missing (W9_NETWORK on a fresh server) is created, shared, and marked
			// so Down can remove it once nothing uses it.
			lbl[engine.LabelManaged] = "true"
			lbl[engine.LabelCreatedBy] = p.Name
		} else {
			for k, v := range n.Labels {
				lbl[k] = v
			}
			lbl[engine.LabelProject], lbl[engine.LabelNetwork] = p.Name, key
		}
		driver := n.Driver
		if driver == "" {
			driver = "bridge"
		}
		progress(engine.Progress{Stage: "network", Message: "creating network " + n.Name, Percent: -1})
		if _, err := e.c.NetworkCreate(ctx, n.Name, client.NetworkCreateOptions{Driver: driver, Labels: lbl,
			Options: n.DriverOpts, Internal: n.Internal, Attachable: n.Attachable}); err != nil && !errdefs.IsConflict(err) {
			return release, fmt.Errorf("create network %s: %w", n.Name, cleanErr(err))
		}
	}
	return release, nil
}

func (e *Engine) volumes(ctx context.Context, p *engine.Project, progress func(engine.Progress)) error {
	for key, v := range p.Volumes {
		if v.External {
			continue
		}
		lbl := map[string]string{engine.LabelProject: p.Name, engine.LabelVolume: key}
		for k, val := range v.Labels {
			lbl[k] = val
		}
		progress(engine.Progress{Stage: "volume", Message: "creating volume " + v.Name, Percent: -1})
		if _, err := e.c.VolumeCreate(ctx, client.VolumeCreateOptions{Name: v.Name, Driver: v.Driver,
			DriverOpts: v.DriverOpts, Labels: lbl}); err != nil {
			return fmt.Errorf("create volume %s: %w", v.Name, cleanErr(err))
		}
	}
	return nil
}

func (e *Engine) createAndStart(ctx context.Context, p *engine.Project, name string, n int, labels map[string]string, progress func(engine.Progress)) error {
	opts, extra, err := containerSpec(p, name, n, labels)
	if err != nil {
		return err
	}
	progress(engine.Progress{Stage: "create", Service: name, Message: "creating " + opts.Name, Percent: -1})
	res, err := e.c.ContainerCreate(ctx, opts)
	if err != nil {
		return fmt.Errorf("create %s: %w", opts.Name, cleanErr(err))
	}
	for netName, es := range extra {
		if _, err := e.c.NetworkConnect(ctx, netName, client.NetworkConnectOptions{Container: res.ID, EndpointConfig: es}); err != nil {
			return fmt.Errorf("connect %s to %s: %w", opts.Name, netName, cleanErr(err))
		}
	}
	progress(engine.Progress{Stage: "start", Service: name, Message: "starting " + opts.Name, Percent: -1})
	if _, err := e.c.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", opts.Name, cleanErr(err))
	}
	return nil
}

// waitFor blocks until the dependency's container meets condition, or fails as soon as it never can.
func (e *Engine) waitFor(ctx context.Context, containerName, service, condition string) error {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		in, err := e.c.ContainerInspect(ctx, containerName, client.ContainerInspectOptions{})
		if err != nil {
			return fmt.Errorf("dependency %s: %w", service, cleanErr(err))
		}
		st := in.Container.State
		done, err := conditionMet(service, condition, st)
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to be %s: %w", service, condition, ctx.Err())
		case <-t.C:
		}
	}
}

// conditionMet decides a depends_on condition from a container's state: met, not yet, or never.
func conditionMet(service, condition string, st *container.State) (bool, error) {
	exited := st.Status == container.StateExited || st.Status == container.StateDead
	switch condition {
	case types.ServiceConditionCompletedSuccessfully:
		if exited {
			if st.ExitCode == 0 {
				return true, nil
			}
			return false, fmt.Errorf("dependency %s exited with code %d", service, st.ExitCode)
		}
		return false, nil
	case types.ServiceConditionHealthy:
		if exited {
			return false, fmt.Errorf("dependency %s exited with code %d before it was healthy", service, st.ExitCode)
		}
		if st.Health == nil {
			return false, fmt.Errorf("dependency %s has no healthcheck, so it can never be healthy", service)
		}
		switch st.Health.Status {
		case container.Healthy:
			return true, nil
		case container.Unhealthy:
			return false, fmt.Errorf("dependency %s is unhealthy", service)
		}
		return false, nil
	default: // service_started
		if st.Running {
			return true, nil
		}
		if exited && st.ExitCode != 0 {
			return false, fmt.Errorf("dependency %s exited with code %d", service, st.ExitCode)
		}
		return exited, nil
	}
}

// orNoop lets callers pass a nil progress function.
func orNoop(progress func(engine.Progress)) func(engine.Progress) {
	if progress == nil {
		return func(engine.Progress) {}
	}
	return progress
}
