package docker

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
)

// Converge implements engine.Engine.
func (e *Engine) Converge(ctx context.Context, p *engine.Project, labels map[string]string, progress func(engine.Progress)) ([]string, error) {
	progress = orNoop(progress)
	order, err := engine.Order(p)
	if err != nil {
		return nil, err
	}
	release, err := e.networks(ctx, p, progress)
	defer release()
	if err != nil {
		return nil, err
	}
	if err := e.volumes(ctx, p, progress); err != nil {
		return nil, err
	}
	existing, err := e.containers(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	byService := map[string]container.Summary{}
	for _, c := range existing {
		byService[c.Labels[engine.LabelService]] = c
	}
	var recreated []string
	for _, name := range order {
		c, ok := byService[name]
		if ok && c.Labels[engine.LabelConfigHash] == engine.ConfigHash(p, name) {
			if c.State != container.StateRunning {
				if _, err := e.c.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
					return recreated, fmt.Errorf("start %s: %w", name, cleanErr(err))
				}
			}
			continue
		}
		for dep, cond := range p.Services[name].DependsOn {
			if err := e.waitFor(ctx, engine.ContainerName(p, dep), dep, cond.Condition); err != nil {
				return recreated, fmt.Errorf("service %s: %w", name, err)
			}
		}
		if ok {
			progress(engine.Progress{Stage: "create", Service: name, Message: "recreating " + name, Percent: -1})
			if _, err := e.c.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
				return recreated, fmt.Errorf("remove old %s: %w", name, cleanErr(err))
			}
		}
		if err := e.createAndStart(ctx, p, name, labels, progress); err != nil {
			return recreated, err
		}
		recreated = append(recreated, name)
	}
	return recreated, nil
}

// VolumeMountpoint implements engine.Engine.
func (e *Engine) VolumeMountpoint(ctx context.Context, name string) (string, error) {
	v, err := e.c.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect volume %s: %w", name, cleanErr(err))
	}
	return v.Volume.Mountpoint, nil
}
