// Package docker is the Engine on a Docker daemon, through the moby client. Everything it creates carries
// Compose's labels, so `docker compose ls` and `docker ps --filter label=com.docker.compose.project=<name>` see it.
package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
)

// Engine runs projects on Docker.
type Engine struct {
	c *client.Client

	// netMu serialises creating and removing networks, which projects may share: before API 1.44 the daemon
	// creates a second network of an existing name instead of failing, and a Down must not remove a shared
	// network that a concurrent Up is about to attach to. upping counts, by name, the networks of Ups in progress.
	netMu  sync.Mutex
	upping map[string]int

	// buildMu guards holding: the built images (by tag) of Ups in progress, which a Down's sweep of unused built
	// images leaves alone; an image no container uses yet is otherwise unused and would go.
	buildMu sync.Mutex
	holding map[string]int
}

var _ engine.Engine = (*Engine)(nil)

// New connects to the daemon named by the environment (DOCKER_HOST, default the local socket). The client
// negotiates the API version (its default), so old engines (20.10 speaks 1.41) work.
func New() (*Engine, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Engine{c: c}, nil
}

// Close releases the client.
func (e *Engine) Close() error { return e.c.Close() }

// Version implements engine.Engine.
func (e *Engine) Version(ctx context.Context) (string, error) {
	v, err := e.c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", fmt.Errorf("docker engine: %w", err)
	}
	return v.Version, nil
}

func projectFilter(name string) client.Filters {
	return client.Filters{}.Add("label", engine.LabelProject+"="+name)
}

// containers lists every container of a project, running or not.
func (e *Engine) containers(ctx context.Context, name string) ([]container.Summary, error) {
	res, err := e.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(name)})
	if err != nil {
		return nil, fmt.Errorf("list containers of %s: %w", name, err)
	}
	// Oldest first, which is dependency order. The daemon lists the newest first and Created counts whole
	// seconds, so reverse the list and sort stably to keep creation order among containers of the same second.
	slices.Reverse(res.Items)
	slices.SortStableFunc(res.Items, func(a, b container.Summary) int { return cmp.Compare(a.Created, b.Created) })
	return res.Items, nil
}

// Exists implements engine.Engine.
func (e *Engine) Exists(ctx context.Context, project string, containerNames ...string) (bool, error) {
	cs, err := e.containers(ctx, project)
	if err != nil || len(cs) > 0 {
		return len(cs) > 0, err
	}
	for _, n := range containerNames {
		_, err := e.c.ContainerInspect(ctx, n, client.ContainerInspectOptions{})
		if err == nil {
			return true, nil
		}
		if !errdefs.IsNotFound(err) {
			return false, fmt.Errorf("inspect %s: %w", n, err)
		}
	}
	return false, nil
}

// PublishedPorts implements engine.Engine.
func (e *Engine) PublishedPorts(ctx context.Context) (map[int]bool, error) {
	res, err := e.c.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	used := map[int]bool{}
	for _, c := range res.Items {
		for _, p := range c.Ports {
			if p.PublicPort != 0 {
				used[int(p.PublicPort)] = true
			}
		}
		// A created or stopped container holds its bindings too, though Ports lists only running ones.
		if c.State != container.StateRunning {
			in, err := e.c.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
			if err != nil {
				continue
			}
			for _, n := range hostPorts(in.Container.HostConfig.PortBindings) {
				used[n] = true
			}
		}
	}
	return used, nil
}

// MissingImages lists the project's images that are not present locally; Pull fetches these.
func (e *Engine) MissingImages(ctx context.Context, p *engine.Project) ([]string, error) {
	var missing []string
	seen := map[string]bool{}
	for _, name := range sortedServices(p) {
		img := p.Services[name].Image
		if img == "" || seen[img] {
			continue
		}
		seen[img] = true
		_, err := e.c.ImageInspect(ctx, img)
		if errdefs.IsNotFound(err) {
			missing = append(missing, img)
		} else if err != nil {
			return nil, fmt.Errorf("inspect image %s: %w", img, err)
		}
	}
	return missing, nil
}

// Pull implements engine.Engine: it fetches each service's image as its pull_policy says, by Compose's rules,
// and builds the images of services with a build section (see build).
// missing (the default; also if_not_present) pulls an image this server lacks; always pulls it every time;
// never refuses an image this server lacks, before anything is created; daily, weekly and every_<duration> pull
// when the local image was last tagged longer ago than that.
func (e *Engine) Pull(ctx context.Context, p *engine.Project, progress func(engine.Progress)) error {
	progress = orNoop(progress)
	done := map[string]bool{}
	for _, name := range sortedServices(p) {
		s := p.Services[name]
		policy, every, err := s.GetPullPolicy()
		if err != nil {
			return fmt.Errorf("service %s: %w", name, err)
		}
		if s.Image == "" || done[s.Image+" "+policy] {
			continue
		}
		done[s.Image+" "+policy] = true
		if s.Build != nil {
			if err := e.buildIfNeeded(ctx, p.Name, name, s, policy, progress); err != nil {
				return err
			}
			continue
		}
		need, err := e.needsPull(ctx, s.Image, policy, every)
		switch {
		case err != nil:
			return err
		case !need:
			continue
		case policy == types.PullPolicyNever:
			return fmt.Errorf("service %s: image %s is not on this server, and its pull_policy is never", name, s.Image)
		}
		progress(engine.Progress{Stage: "pull", Message: "pulling " + s.Image + " for " + name, Percent: -1})
		if err := e.pull(ctx, s.Image, progress); err != nil {
			return fmt.Errorf("pull %s: %w", s.Image, err)
		}
	}
	return nil
}

// buildIfNeeded builds a service's image unless this server has it (the tag is the content hash, so having it
// means having this build) and pull_policy is not build.
func (e *Engine) buildIfNeeded(ctx context.Context, project, name string, s types.ServiceConfig, policy string, progress func(engine.Progress)) error {
	_, err := e.c.ImageInspect(ctx, s.Image)
	switch {
	case err == nil && policy != types.PullPolicyBuild:
		return nil
	case err != nil && !errdefs.IsNotFound(err):
		return fmt.Errorf("inspect image %s: %w", s.Image, err)
	}
	progress(engine.Progress{Stage: "build", Service: name, Message: "building the image of " + name, Percent: -1})
	return e.build(ctx, project, name, s, progress)
}

// needsPull decides whether img is to be pulled under policy (refresh: when last tagged more than every ago).
func (e *Engine) needsPull(ctx context.Context, img, policy string, every time.Duration) (bool, error) {
	in, err := e.c.ImageInspect(ctx, img)
	switch {
	case errdefs.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("inspect image %s: %w", img, err)
	}
	switch policy {
	case types.PullPolicyAlways:
		return true, nil
	case types.PullPolicyRefresh:
		if in.Metadata.LastTagTime.IsZero() {
			return true, nil
		}
		return time.Since(in.Metadata.LastTagTime) > every, nil
	}
	return false, nil
}

func (e *Engine) pull(ctx context.Context, img string, progress func(engine.Progress)) error {
	res, err := e.c.ImagePull(ctx, img, client.ImagePullOptions{})
	if err != nil {
		return cleanErr(err)
	}
	defer res.Close()
	for msg, err := range res.JSONMessages(ctx) {
		if err != nil {
			return cleanErr(err)
		}
		if msg.Error != nil {
			return errors.New(msg.Error.Message)
		}
		pct := -1
		if msg.Progress != nil && msg.Progress.Total > 0 {
			pct = int(msg.Progress.Current * 100 / msg.Progress.Total)
		}
		if msg.Status != "" {
			progress(engine.Progress{Stage: "pull", Message: img + ": " + msg.Status, Percent: pct})
		}
	}
	return nil
}

// cleanErr shortens the daemon's error text to its last, most specific clause. It keeps the error chain, so
// callers still see context.Canceled, context.DeadlineExceeded and the errdefs classes.
func cleanErr(err error) error {
	msg := err.Error()
	i := strings.LastIndex(msg, "Error response from daemon: ")
	if i < 0 {
		return err
	}
	return &daemonError{msg: msg[i+len("Error response from daemon: "):], err: err}
}

type daemonError struct {
	msg string
	err error
}

func (e *daemonError) Error() string { return e.msg }
func (e *daemonError) Unwrap() error { return e.err }

func sortedServices(p *engine.Project) []string {
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
