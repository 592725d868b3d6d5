package docker

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
)

// Down implements engine.Engine. It removes what carries the project's label, plus a shared network StackHub
// created once nothing is attached to it any more.
func (e *Engine) Down(ctx context.Context, name string, volumes bool) error {
	cs, err := e.containers(ctx, name)
	if err != nil {
		return err
	}
	var errs []error
	shared := map[string]bool{}
	used := map[string]bool{} // image IDs the containers ran
	for _, c := range cs {
		used[c.ImageID] = true
		if c.NetworkSettings != nil {
			for n := range c.NetworkSettings.Networks {
				shared[n] = true
			}
		}
		// No timeout: the daemon waits the container's own stop_grace_period (StopTimeout), default 10 s.
		if _, err := e.c.ContainerStop(ctx, c.ID, client.ContainerStopOptions{}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("stop %s: %w", c.Names, cleanErr(err)))
		}
		if _, err := e.c.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove %s: %w", c.Names, cleanErr(err)))
		}
	}
	nets, err := e.c.NetworkList(ctx, client.NetworkListOptions{Filters: projectFilter(name)})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list networks of %s: %w", name, err))...)
	}
	for _, n := range nets.Items {
		if _, err := e.c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, cleanErr(err)))
		}
	}
	// Shared networks StackHub created: those this project's containers used, and the one this project created
	// (an Up that failed before its first container never attached to it). Others' are left to their projects.
	if managed, err := e.c.NetworkList(ctx, client.NetworkListOptions{
		Filters: client.Filters{}.Add("label", engine.LabelCreatedBy+"="+name)}); err == nil {
		for _, n := range managed.Items {
			shared[n.Name] = true
		}
	}
	for n := range shared {
		e.removeIfUnused(ctx, n)
	}
	e.removeUnusedBuilds(ctx, name, used)
	if volumes {
		vols, err := e.Volumes(ctx, name)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		for _, v := range vols {
			if err := e.RemoveVolume(ctx, v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeIfUnused removes a network StackHub created for sharing once no container uses it: none attached, none
// stopped that would need it to start again (the network's own Containers lists running ones only), and no Up
// in progress about to attach one.
func (e *Engine) removeIfUnused(ctx context.Context, name string) {
	e.netMu.Lock()
	defer e.netMu.Unlock()
	if e.upping[name] > 0 {
		return
	}
	in, err := e.c.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil || in.Network.Labels[engine.LabelManaged] != "true" || len(in.Network.Containers) > 0 {
		return
	}
	users, err := e.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("network", name)})
	if err != nil || len(users.Items) > 0 {
		return
	}
	_, _ = e.c.NetworkRemove(ctx, in.Network.ID, client.NetworkRemoveOptions{})
}

// Start implements engine.Engine; containers start in the order they were created, which is dependency order.
func (e *Engine) Start(ctx context.Context, name string) error {
	return e.each(ctx, name, func(id string) error {
		_, err := e.c.ContainerStart(ctx, id, client.ContainerStartOptions{})
		return err
	})
}

// Stop implements engine.Engine.
func (e *Engine) Stop(ctx context.Context, name string) error {
	cs, err := e.containers(ctx, name)
	if err != nil {
		return err
	}
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- { // dependents first
		if _, err := e.c.ContainerStop(ctx, cs[i].ID, client.ContainerStopOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", cs[i].Names, cleanErr(err)))
		}
	}
	return errors.Join(errs...)
}

// Restart implements engine.Engine.
func (e *Engine) Restart(ctx context.Context, name string) error {
	if err := e.Stop(ctx, name); err != nil {
		return err
	}
	return e.Start(ctx, name)
}

func (e *Engine) each(ctx context.Context, name string, fn func(id string) error) error {
	cs, err := e.containers(ctx, name)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("project %s has no containers", name)
	}
	var errs []error
	for _, c := range cs {
		if err := fn(c.ID); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Names, cleanErr(err)))
		}
	}
	return errors.Join(errs...)
}
