// Package swarm is the Cluster engine on a Docker Swarm manager, through the moby client. A project becomes a
// Swarm stack: one service per Compose service named <project>_<service> and labelled
// com.docker.stack.namespace=<project> (so `docker stack ls` and `docker stack ps` show it), on overlay networks,
// with Compose's and StackHub's labels as on a single engine.
//
// The kernel this was built on has no IPVS, so the routing mesh and virtual IPs are not used: every service
// resolves by DNS round robin (endpoint_mode dnsrr) and publishes its ports in host mode, on the node its task
// runs on. A service that keeps data (a named volume, or a bind of a file on this machine) is pinned to one node
// with a node.id constraint chosen at its first Up, and stays there. See docs/host-stackhub.md ("Docker Swarm").
package swarm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/engine/docker"
)

// Labels of a stack, beside Compose's (engine.Label*).
const (
	// LabelNamespace is docker stack's own label: the stack (project) a service, network or container belongs to.
	LabelNamespace = "com.docker.stack.namespace"
	// LabelPinned is on a service pinned to a node because it keeps data there: the node's ID.
	LabelPinned = "io.stackhub.pinned-node"
	// LabelStopped is on a service Stop scaled to 0: the replicas Start restores.
	LabelStopped = "io.stackhub.stopped-replicas"
)

// Options say where the Swarm is.
type Options struct {
	// Host is the manager's Docker host (unix:///var/run/docker.sock, tcp://...); empty: DOCKER_HOST, else the
	// local socket. StackHub runs on this node: files it binds into services exist only here.
	Host string
	// NodeHosts are other nodes' Docker hosts, by node hostname, for what only a node's own engine can do: list,
	// remove and locate the local volumes of services pinned there. A node missing here has its volumes left
	// in place by Down (as `docker stack rm` does), and said so.
	NodeHosts map[string]string
}

// Engine runs projects as Swarm stacks.
type Engine struct {
	c     *client.Client
	local *docker.Engine // the manager's own engine: images, and volumes on this node
	hosts map[string]string

	mu    sync.Mutex
	nodes map[string]*client.Client // clients of NodeHosts, by hostname, opened on first use
}

var (
	_ engine.Cluster     = (*Engine)(nil)
	_ engine.HostChecker = (*Engine)(nil)
)

// New connects to the manager. The client negotiates the API version, so 20.10 engines (API 1.41) work.
func New(o Options) (*Engine, error) {
	c, err := newClient(o.Host)
	if err != nil {
		return nil, err
	}
	return &Engine{c: c, local: docker.NewWithClient(c), hosts: o.NodeHosts, nodes: map[string]*client.Client{}}, nil
}

func newClient(host string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", cmp.Or(host, "DOCKER_HOST"), err)
	}
	return c, nil
}

// Close releases the clients.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.nodes {
		c.Close()
	}
	return e.c.Close()
}

// Version implements engine.Engine; it also checks that the engine manages a Swarm, since nothing else works
// without one.
func (e *Engine) Version(ctx context.Context) (string, error) {
	v, err := e.local.Version(ctx)
	if err != nil {
		return "", err
	}
	if _, err := e.self(ctx); err != nil {
		return "", err
	}
	return v, nil
}

// self is the ID of the node StackHub's engine runs on, which must be a manager.
func (e *Engine) self(ctx context.Context) (string, error) {
	info, err := e.c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", fmt.Errorf("docker info: %w", docker.CleanErr(err))
	}
	sw := info.Info.Swarm
	if sw.LocalNodeState != swarm.LocalNodeStateActive || !sw.ControlAvailable {
		return "", fmt.Errorf("the Docker Engine is not a Swarm manager (swarm state %q): run `docker swarm init`, "+
			"or point StackHub at a manager", cmp.Or(string(sw.LocalNodeState), "inactive"))
	}
	return sw.NodeID, nil
}

// Pull implements engine.Engine: images are pulled on this node. The other nodes pull what their tasks run
// when the task starts, as Swarm does.
func (e *Engine) Pull(ctx context.Context, p *engine.Project, progress func(engine.Progress)) error {
	if err := refuse(p); err != nil {
		return err
	}
	return e.local.Pull(ctx, p, progress)
}

// Nodes implements engine.Cluster.
func (e *Engine) Nodes(ctx context.Context) ([]engine.Node, error) {
	ns, err := e.swarmNodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]engine.Node, 0, len(ns))
	for _, n := range ns {
		out = append(out, engine.Node{
			ID:            n.ID,
			Hostname:      n.Description.Hostname,
			Role:          string(n.Spec.Role),
			Leader:        n.ManagerStatus != nil && n.ManagerStatus.Leader,
			State:         string(n.Status.State),
			Availability:  string(n.Spec.Availability),
			Addr:          nodeAddr(n),
			CPUs:          float64(n.Description.Resources.NanoCPUs) / 1e9,
			MemoryBytes:   n.Description.Resources.MemoryBytes,
			EngineVersion: n.Description.Engine.EngineVersion,
		})
	}
	return out, nil
}

// swarmNodes lists the nodes by hostname.
func (e *Engine) swarmNodes(ctx context.Context) ([]swarm.Node, error) {
	res, err := e.c.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list swarm nodes: %w", docker.CleanErr(err))
	}
	slices.SortFunc(res.Items, func(a, b swarm.Node) int {
		return cmp.Or(cmp.Compare(a.Description.Hostname, b.Description.Hostname), cmp.Compare(a.ID, b.ID))
	})
	return res.Items, nil
}

// nodeAddr is the address a node's published ports answer on: its status address, which some engines report as
// 0.0.0.0 for a manager, whose advertised management address is then the one.
func nodeAddr(n swarm.Node) string {
	if a := n.Status.Addr; a != "" && a != "0.0.0.0" {
		return a
	}
	if n.ManagerStatus != nil {
		if h, _, err := net.SplitHostPort(n.ManagerStatus.Addr); err == nil {
			return h
		}
	}
	return n.Status.Addr
}

func namespaceFilter(project string) client.Filters {
	return client.Filters{}.Add("label", LabelNamespace+"="+project)
}

// services lists a stack's services, in creation order (which is dependency order).
func (e *Engine) services(ctx context.Context, project string) ([]swarm.Service, error) {
	res, err := e.c.ServiceList(ctx, client.ServiceListOptions{Filters: namespaceFilter(project)})
	if err != nil {
		return nil, fmt.Errorf("list services of %s: %w", project, docker.CleanErr(err))
	}
	slices.SortStableFunc(res.Items, func(a, b swarm.Service) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Spec.Name, b.Spec.Name))
	})
	return res.Items, nil
}

// Exists implements engine.Engine: the stack has a service, or a container of one of those names runs on this node.
func (e *Engine) Exists(ctx context.Context, project string, containerNames ...string) (bool, error) {
	svcs, err := e.services(ctx, project)
	if err != nil || len(svcs) > 0 {
		return len(svcs) > 0, err
	}
	return e.local.Exists(ctx, project, containerNames...)
}

// PublishedPorts implements engine.Engine: the ports any service publishes (a task may move to any node, so its
// port must be free on every one), and those of the containers on this node outside the Swarm.
func (e *Engine) PublishedPorts(ctx context.Context) (map[int]bool, error) {
	res, err := e.c.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", docker.CleanErr(err))
	}
	used, err := e.local.PublishedPorts(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range res.Items {
		var ports []swarm.PortConfig
		if s.Spec.EndpointSpec != nil {
			ports = append(ports, s.Spec.EndpointSpec.Ports...)
		}
		ports = append(ports, s.Endpoint.Ports...)
		for _, p := range ports {
			if p.PublishedPort != 0 {
				used[int(p.PublishedPort)] = true
			}
		}
	}
	return used, nil
}

// nodeClient is the engine of the node with that hostname: this one, or one of Options.NodeHosts; nil when
// StackHub cannot reach it.
func (e *Engine) nodeClient(ctx context.Context, hostname string) (*client.Client, error) {
	info, err := e.c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker info: %w", docker.CleanErr(err))
	}
	if info.Info.Name == hostname {
		return e.c, nil
	}
	host, ok := e.hosts[hostname]
	if !ok {
		return nil, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.nodes[hostname]; c != nil {
		return c, nil
	}
	c, err := newClient(host)
	if err != nil {
		return nil, err
	}
	e.nodes[hostname] = c
	return c, nil
}

// errJoin is errors.Join that keeps a single error as it is.
func errJoin(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// notFound reports a daemon's "no such ..." answer.
func notFound(err error) bool {
	return errdefs.IsNotFound(err) || (err != nil && strings.Contains(err.Error(), "not found"))
}
