package host

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/sysinfo"
)

// NodeInfo is one machine that runs apps, as GET /api/v1/nodes shows it: a Swarm node with --engine swarm, else
// this server.
type NodeInfo struct {
	ID            string   `json:"id"`
	Hostname      string   `json:"hostname"`
	Role          string   `json:"role"` // manager, worker
	Leader        bool     `json:"leader"`
	State         string   `json:"state"`        // ready, down, unknown, disconnected
	Availability  string   `json:"availability"` // active, pause, drain
	Address       string   `json:"address"`      // where its published ports answer
	CPUs          float64  `json:"cpus"`
	MemoryBytes   uint64   `json:"memory_bytes"`
	EngineVersion string   `json:"engine_version"`
	Apps          []string `json:"apps"` // the instances with a container (a task) on it, by name
}

// Nodes lists the machines apps run on, each with the instances whose containers are there. A single engine is
// one node, this server, so clients need no special case.
func (s *Service) Nodes(ctx context.Context, a auth.Actor) ([]NodeInfo, error) {
	if err := require(a, auth.HostRead); err != nil {
		return nil, err
	}
	nodes, err := s.engineNodes(ctx)
	if err != nil {
		return nil, err
	}
	insts, err := s.store.Q().Instances(ctx)
	if err != nil {
		return nil, fmt.Errorf("instances: %w", err)
	}
	apps := map[string][]string{} // hostname → instances
	for i := range insts {
		if insts[i].State != store.StateInstalled {
			continue
		}
		st, err := s.engine.Status(ctx, insts[i].Project)
		if err != nil {
			continue // an engine that does not answer shows as the nodes' state
		}
		for _, h := range s.taskNodes(st, nodes) {
			apps[h] = append(apps[h], insts[i].Name)
		}
	}
	out := make([]NodeInfo, len(nodes))
	for i, n := range nodes {
		out[i] = NodeInfo{ID: n.ID, Hostname: n.Hostname, Role: n.Role, Leader: n.Leader, State: n.State,
			Availability: n.Availability, Address: n.Addr, CPUs: n.CPUs, MemoryBytes: uint64(max(n.MemoryBytes, 0)),
			EngineVersion: n.EngineVersion, Apps: apps[n.Hostname]}
		if out[i].Apps == nil {
			out[i].Apps = []string{}
		}
	}
	return out, nil
}

// engineNodes are the cluster's nodes, or this server as the one node of a single engine.
func (s *Service) engineNodes(ctx context.Context) ([]engine.Node, error) {
	if s.cluster != nil {
		nodes, err := s.cluster.Nodes(ctx)
		if err != nil {
			return nil, apperr.Wrap(apperr.Unavailable, err, "the Swarm manager does not answer; is dockerd running?")
		}
		slices.SortFunc(nodes, func(a, b engine.Node) int { return strings.Compare(a.Hostname, b.Hostname) })
		return nodes, nil
	}
	return []engine.Node{s.localNode(ctx)}, nil
}

// localNode is this server as a node: ready while its engine answers.
func (s *Service) localNode(ctx context.Context) engine.Node {
	name, _ := os.Hostname()
	n := engine.Node{ID: "local", Hostname: name, Role: "manager", Leader: true, State: "ready", Availability: "active",
		Addr: s.cfg.PublicAddress}
	if v, err := s.engine.Version(ctx); err != nil {
		n.State = "down"
	} else {
		n.EngineVersion = v
	}
	if c, err := sysinfo.Capacity(ctx, s.cfg.DataDir); err == nil {
		n.CPUs, n.MemoryBytes = float64(c.CPUCores), int64(c.MemTotal)
	}
	return n
}

// taskNodes are the hostnames of the nodes that hold a container of st, sorted, each once; a single engine's
// containers are all on its one node.
func (s *Service) taskNodes(st *engine.Status, nodes []engine.Node) []string {
	var out []string
	for _, c := range st.Services {
		h := c.Node
		if s.cluster == nil && len(nodes) == 1 {
			h = nodes[0].Hostname
		}
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

// checkNode refuses a node an install may not name: unknown, not ready, or not taking tasks. On a single engine
// only this server's own hostname passes, and it places nothing. It answers the node to record.
func (s *Service) checkNode(ctx context.Context, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil
	}
	nodes, err := s.engineNodes(ctx)
	if err != nil {
		return "", err
	}
	names := takers(nodes)
	choose := "leave it out"
	if len(names) > 0 {
		choose = "choose one of " + strings.Join(names, ", ") + ", or leave it out"
	}
	i := slices.IndexFunc(nodes, func(n engine.Node) bool { return n.Hostname == name })
	switch {
	case i < 0 && s.cluster == nil:
		return "", apperr.Field(apperr.Invalid, "node", "this server runs one Docker Engine, on node %s; naming another "+
			"node needs serve --engine swarm; %s", nodes[0].Hostname, choose)
	case i < 0:
		return "", apperr.Field(apperr.Invalid, "node", "the swarm has no node %q; %s", name, choose)
	case nodes[i].State != "ready":
		return "", apperr.Field(apperr.Invalid, "node", "node %s is %s; %s", name, nodes[i].State, choose)
	case nodes[i].Availability != "active":
		return "", apperr.Field(apperr.Invalid, "node", "node %s is set to %s and takes no new apps; %s", name,
			nodes[i].Availability, choose)
	}
	if s.cluster == nil {
		return "", nil // the one node: nothing to place
	}
	return name, nil
}

// reserve is what a template's requirements reserve on a cluster: CPU in thousandths of a core, memory in bytes.
func reserve(r catalog.Requirements) (milliCPUs, memory int64) {
	return int64(r.CPU * 1000), int64(r.Memory * (1 << 30))
}

// place applies an instance's placement to its project on a cluster engine: every service is constrained to the
// node the install named, and the template's requirements are reserved on the main service (the one publishing
// the web port, else the first to start), once for the app, as the install checked them. A reservation the
// template sets itself is kept.
func (s *Service) place(ctx context.Context, p *engine.Project, inst *store.Instance) error {
	if s.cluster == nil {
		return nil
	}
	for name, svc := range p.Services {
		if inst.Node != "" {
			if svc.Deploy == nil {
				svc.Deploy = &types.DeployConfig{}
			}
			c := "node.hostname==" + inst.Node
			if !slices.Contains(svc.Deploy.Placement.Constraints, c) {
				svc.Deploy.Placement.Constraints = append(svc.Deploy.Placement.Constraints, c)
			}
		}
		p.Services[name] = svc
	}
	if inst.ReserveMilliCPUs == 0 && inst.ReserveMemory == 0 {
		return nil
	}
	main, err := s.mainService(ctx, p, inst.Name)
	if err != nil || main == "" {
		return err
	}
	svc := p.Services[main]
	if svc.Deploy == nil {
		svc.Deploy = &types.DeployConfig{}
	}
	if svc.Deploy.Resources.Reservations == nil {
		svc.Deploy.Resources.Reservations = &types.Resource{}
	}
	r := svc.Deploy.Resources.Reservations
	if r.NanoCPUs == 0 {
		r.NanoCPUs = types.NanoCPUs(float64(inst.ReserveMilliCPUs) / 1000)
	}
	if r.MemoryBytes == 0 {
		r.MemoryBytes = types.UnitBytes(inst.ReserveMemory)
	}
	p.Services[main] = svc
	return nil
}

// mainService is the service that publishes the instance's web port, else the first to start ("" for none).
func (s *Service) mainService(ctx context.Context, p *engine.Project, instance string) (string, error) {
	bookings, err := s.store.Q().PortBookings(ctx, instance)
	if err != nil {
		return "", err
	}
	if web, _ := mainPorts(bookings); web != "" {
		if svc := publisherOf(p, web); svc != "" {
			return svc, nil
		}
	}
	order, err := runningServices(p)
	if err != nil || len(order) == 0 {
		return "", err
	}
	return order[0], nil
}

// publisherOf is the service of p that publishes host port port ("" for none).
func publisherOf(p *engine.Project, port string) string {
	want, err := strconv.Atoi(port)
	if err != nil {
		return ""
	}
	for _, n := range slices.Sorted(maps.Keys(p.Services)) {
		for _, pc := range p.Services[n].Ports {
			if lo, hi, ok := portRange(pc.Published); ok && lo <= want && want <= hi {
				return n
			}
		}
	}
	return ""
}

// nodeTrouble says why an instance cannot run as placed on a cluster: the node it is pinned to, or a node holding
// one of its tasks, is not ready. "" when nothing is wrong with its nodes.
func nodeTrouble(inst *store.Instance, st *engine.Status, nodes []engine.Node) string {
	state := map[string]string{}
	for _, n := range nodes {
		state[n.Hostname] = n.State
	}
	if inst.Node != "" {
		switch s, ok := state[inst.Node]; {
		case !ok:
			return fmt.Sprintf("node %s, where it is placed, has left the swarm", inst.Node)
		case s != "ready":
			return fmt.Sprintf("node %s, where it is placed, is %s", inst.Node, s)
		}
	}
	if st == nil {
		return ""
	}
	for _, c := range st.Services {
		if s, ok := state[c.Node]; c.Node != "" && (!ok || s != "ready") {
			return fmt.Sprintf("service %s runs on node %s, which is %s", c.Service, c.Node, orWord(s, "gone"))
		}
	}
	return ""
}

func orWord(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkNodeResources compares the CPU and memory a template requires with the named node's, or with the nodes
// that take apps when it names none (one of them must have both). Swarm checks them again against what other
// services reserve when it places the tasks.
func (s *Service) checkNodeResources(ctx context.Context, app, node string, r catalog.Requirements) error {
	if r.CPU == 0 && r.Memory == 0 {
		return nil
	}
	nodes, err := s.engineNodes(ctx)
	if err != nil {
		return err
	}
	const gb = 1 << 30
	var best engine.Node
	for _, n := range nodes {
		if node != "" && n.Hostname != node || n.State != "ready" || n.Availability != "active" {
			continue
		}
		if n.CPUs >= r.CPU && float64(n.MemoryBytes) >= r.Memory*gb {
			return nil
		}
		if n.MemoryBytes > best.MemoryBytes {
			best = n
		}
	}
	where := "no node of the swarm has"
	if node != "" {
		where = "node " + node + " lacks"
	}
	return apperr.New(apperr.Invalid, "%s needs %g CPU cores and %g GB of memory; %s them (the largest has %g cores and "+
		"%.1f GB). Pass force to install anyway", app, r.CPU, r.Memory, where, best.CPUs, float64(best.MemoryBytes)/gb)
}

// installNodes are the hostnames of the cluster's nodes that take new apps (ready and active); none on a single
// engine, whose one node an install need not name.
func (s *Service) installNodes(ctx context.Context) ([]string, error) {
	if s.cluster == nil {
		return nil, nil
	}
	nodes, err := s.engineNodes(ctx)
	if err != nil {
		return nil, err
	}
	return takers(nodes), nil
}

// takers are the hostnames of the nodes that take new apps: ready and active.
func takers(nodes []engine.Node) []string {
	var out []string
	for _, n := range nodes {
		if n.State == "ready" && n.Availability == "active" {
			out = append(out, n.Hostname)
		}
	}
	return out
}
