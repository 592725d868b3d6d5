package docker

import (
	"context"
	"fmt"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Volumes implements engine.Engine.
func (e *Engine) Volumes(ctx context.Context, project string) ([]string, error) {
	res, err := e.c.VolumeList(ctx, client.VolumeListOptions{Filters: projectFilter(project)})
	if err != nil {
		return nil, fmt.Errorf("list volumes of %s: %w", project, err)
	}
	out := make([]string, 0, len(res.Items))
	for _, v := range res.Items {
		out = append(out, v.Name)
	}
	slices.Sort(out)
	return out, nil
}

// RemoveVolume implements engine.Engine.
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	if _, err := e.c.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove volume %s: %w", name, cleanErr(err))
	}
	return nil
}
