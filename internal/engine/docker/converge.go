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
	byService := map[string][]container.Summary{}
	for _, c := range existing {
		svc := c.Labels[engine.LabelService]
		byService[svc] = append(byService[svc], c)
	}
	var recreated []string
	for _, name := range order {
		changed, err := e.convergeService(ctx, p, name, byService[name], labels, progress)
		if changed {
			recreated = append(recreated, name)
		}
		if err != nil {
			return recreated, err
		}
	}
	return recreated, nil
}

// convergeService brings one service's containers to p: when every one of its replicas exists with the current
// configuration, the stopped ones are started; otherwise all are removed and created again (a changed replica count
// changes the configuration hash too). changed reports that containers were removed or created.
func (e *Engine) convergeService(ctx context.Context, p *engine.Project, name string, have []container.Summary,
	labels map[string]string, progress func(engine.Progress)) (changed bool, err error) {
	hash, want := engine.ConfigHash(p, name), engine.Replicas(p, name)
	current := len(have) == want
	for _, c := range have {
		current = current && c.Labels[engine.LabelConfigHash] == hash
	}
	if current {
		for _, c := range have {
			if c.State != container.StateRunning {
				if _, err := e.c.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
					return false, fmt.Errorf("start %s: %w", c.Names, cleanErr(err))
				}
			}
		}
		return false, nil
	}
	if err := e.waitDeps(ctx, p, name, orNoop(nil)); err != nil {
		return false, err
	}
	if len(have) > 0 {
		progress(engine.Progress{Stage: "create", Service: name, Message: "recreating " + name, Percent: -1})
	}
	for _, c := range have {
		if _, err := e.c.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			return true, fmt.Errorf("remove old %s: %w", name, cleanErr(err))
		}
	}
	for n := 1; n <= want; n++ {
		if err := e.createAndStart(ctx, p, name, n, labels, progress); err != nil {
			return true, err
		}
	}
	return len(have) > 0 || want > 0, nil
}

// VolumeMountpoint implements engine.Engine.
func (e *Engine) VolumeMountpoint(ctx context.Context, name string) (string, error) {
	v, err := e.c.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect volume %s: %w", name, cleanErr(err))
	}
	return v.Volume.Mountpoint, nil
}
