package kit

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Docker connects to the daemon named by the environment (DOCKER_HOST) and checks that it answers.
func Docker(ctx context.Context) (*client.Client, string, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, "", fmt.Errorf("docker client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		c.Close()
		return nil, "", fmt.Errorf("the Docker daemon does not answer (DOCKER_HOST?): %w", err)
	}
	return c, v.Version, nil
}

// CreateNetwork creates a plain user-defined bridge network, as an operator's shared W9_NETWORK would be. It
// carries no StackHub label, so StackHub leaves it in place when an app is uninstalled.
func CreateNetwork(ctx context.Context, c *client.Client, name string) error {
	_, err := c.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge",
		Labels: map[string]string{"io.stackhub.bench": "network"}})
	if err != nil {
		return fmt.Errorf("create network %s: %w", name, err)
	}
	return nil
}

// sweep removes every container, volume and network whose name starts with prefix+"-" (containers also by
// label io.stackhub.bench=prefix), and returns what it removed. It is the safety net after StackHub's own
// uninstalls: anything it finds besides the benchmark's network is a leak worth reporting.
func sweep(c *client.Client, prefix string) (removed []string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := prefix + "-"
	var errs []string
	note := func(what string, err error) {
		if err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, what+": "+err.Error())
		}
	}
	cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true})
	note("list containers", err)
	for _, ct := range cs.Items {
		mine := ct.Labels["io.stackhub.bench"] == prefix
		for _, n := range ct.Names {
			mine = mine || strings.HasPrefix(strings.TrimPrefix(n, "/"), p)
		}
		if mine {
			_, err := c.ContainerRemove(ctx, ct.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			note("remove container "+strings.Join(ct.Names, ","), err)
			removed = append(removed, "container "+strings.TrimPrefix(strings.Join(ct.Names, ","), "/"))
		}
	}
	vs, err := c.VolumeList(ctx, client.VolumeListOptions{})
	note("list volumes", err)
	for _, v := range vs.Items {
		if strings.HasPrefix(v.Name, p) {
			_, err := c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
			note("remove volume "+v.Name, err)
			removed = append(removed, "volume "+v.Name)
		}
	}
	ns, err := c.NetworkList(ctx, client.NetworkListOptions{})
	note("list networks", err)
	for _, n := range ns.Items {
		if strings.HasPrefix(n.Name, p) {
			_, err := c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			note("remove network "+n.Name, err)
			removed = append(removed, "network "+n.Name)
		}
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("sweep %s: %s", prefix, strings.Join(errs, "; "))
	}
	return removed, nil
}

// RunAPI creates and starts, through the Engine API, the container `docker run -d --name name --label
// io.stackhub.bench=prefix --network net --restart unless-stopped -p 127.0.0.1:port:8080 -e APP_NAME=web image`
// would make.
func RunAPI(ctx context.Context, c *client.Client, name, prefix, net, image string, port int) error {
	p, err := network.ParsePort("8080/tcp")
	if err != nil {
		return err
	}
	cfg := &container.Config{Image: image, Env: []string{"APP_NAME=web"}, Labels: map[string]string{"io.stackhub.bench": prefix},
		ExposedPorts: network.PortSet{p: struct{}{}}}
	hc := &container.HostConfig{NetworkMode: container.NetworkMode(net),
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		PortBindings:  network.PortMap{p: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: fmt.Sprint(port)}}}}
	res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{net: {}}}})
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := c.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	return nil
}

// Health is a container's health status ("starting", "healthy", "unhealthy"), or "" without a healthcheck.
func Health(ctx context.Context, c *client.Client, name string) (string, error) {
	in, err := c.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return "", err
	}
	if in.Container.State == nil || in.Container.State.Health == nil {
		return "", nil
	}
	return string(in.Container.State.Health.Status), nil
}

// Remove force-removes a container through the API.
func Remove(ctx context.Context, c *client.Client, name string) error {
	_, err := c.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	return err
}

// Running reports whether the container exists and runs (false, not an error, when it does not exist yet).
func Running(ctx context.Context, c *client.Client, name string) (bool, error) {
	in, err := c.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return in.Container.State != nil && in.Container.State.Running, nil
}
