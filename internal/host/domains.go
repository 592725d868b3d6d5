package host

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/store"
)

// Domains is what an install with a domain needs from the edge (internal/edge implements it): the route to
// record with the install, checked before anything is created, and word that the route table changed.
type Domains interface {
	// NewRoute checks domain for a new install named instance and returns the route to record; a bad name is
	// an Invalid apperr naming the field "domain", a name already routed a Conflict.
	NewRoute(ctx context.Context, instance, domain string) (*store.Route, error)
	// Changed is told after the install's route is recorded or removed with the install.
	Changed(ctx context.Context)
}

// SetDomains wires the edge's routes; without it an install with a domain is refused.
func (s *Service) SetDomains(d Domains) { s.domains = d }

// appURL is W9_URL, one rule for installs, upgrades and domain changes. The Websoft9 templates put the scheme in
// front of it themselves (`url=http://$W9_URL`, `MM_SERVICESETTINGS_SITEURL=https://${W9_URL}`,
// `hostname: "$W9_URL"`), so it never carries one: with a route, the first (oldest) route's <domain><path>, the
// path left out when it is "/"; without, <address>:<web port>, or <address> alone when the template sets
// W9_URL_WITH_PORT=false. given is a W9_URL the admin set at install, which wins over the address, not over a
// domain.
func (s *Service) appURL(routes []store.Route, env, httpPort, given string) string {
	for _, r := range routes {
		if strings.HasPrefix(r.Domain, "*.") {
			continue // a wildcard names no one host the app could call itself
		}
		return r.Domain + strings.TrimSuffix(r.Path, "/")
	}
	if given != "" {
		return given
	}
	url := s.cfg.PublicAddress
	if httpPort != "" && !withoutPort(env) {
		url += ":" + httpPort
	}
	return url
}

// withoutPort reports a template whose .env sets W9_URL_WITH_PORT=false (Websoft9's flag for apps whose URL is a
// bare host, as vaultwarden's).
func withoutPort(env string) bool {
	vars, err := catalog.ParseEnv(env)
	if err != nil {
		return false
	}
	for _, v := range vars {
		if v.Key == "W9_URL_WITH_PORT" {
			return strings.EqualFold(strings.Trim(v.Value, `'"`), "false")
		}
	}
	return false
}

// loadProject loads an instance's rendered project, binds its published ports where the instance publishes
// them (--publish loopback at install: 127.0.0.1) and, on a cluster, places it (its node, its reservations).
func (s *Service) loadProject(ctx context.Context, inst *store.Instance, dir string) (*engine.Project, error) {
	p, err := engine.Load(ctx, inst.Project, dir)
	if err != nil {
		return nil, err
	}
	engine.BindPorts(p, inst.PublishIP)
	if err := s.place(ctx, p, inst); err != nil {
		return nil, err
	}
	return p, nil
}

// Reconfigure renders the instance's version again with its current values (W9_URL after a domain change) and
// recreates only the services whose configuration changed, as a job; it answers the job at once.
func (s *Service) Reconfigure(ctx context.Context, a auth.Actor, name string) (*store.Job, error) {
	inst, err := s.installed(ctx, a, auth.HostWrite, name)
	if err != nil {
		return nil, err
	}
	if inst.State != store.StateInstalled {
		return nil, apperr.New(apperr.Conflict, "%s is %s; it is reconfigured once it is installed", name, inst.State)
	}
	storeName := "" // the store of the version it runs: several stores may have that version
	if current, err := s.store.Q().Update(ctx, inst.App, inst.Reversion); err == nil {
		storeName = current.Store
	}
	_, up, stack, err := s.resolve(ctx, inst.AppKey, storeName, inst.Version, "")
	if err != nil {
		return nil, err
	}
	return s.startJob(name, func() (*store.Job, error) {
		now := s.ms()
		job := &store.Job{Instance: name, Kind: "reconfigure", Stage: "queued", State: store.JobRunning, CreatedAt: now,
			UpdatedAt: now}
		return job, s.store.Q().CreateJob(ctx, job)
	}, func(r *run) { s.runReconfigure(r, inst, up, stack) })
}

func (s *Service) runReconfigure(r *run, inst *store.Instance, up *store.Update, stack *catalog.Stack) {
	ctx := context.WithoutCancel(s.ctx)
	r.note("rendering", "rendering "+inst.Name+" again with its new address", -1)
	err := func() error {
		values, _, err := s.upgradeValues(ctx, inst, up, stack) // same version: no secret is new
		if err != nil {
			return err
		}
		out, err := s.switchTo(ctx, r, inst, stack, values, nil)
		if out != nil {
			if err := s.store.Q().SetInstanceRendered(ctx, inst.Name, out.hashes.encode()); err != nil {
				return err
			}
		}
		if err != nil || inst.Stopped {
			return err
		}
		r.note("waiting", "waiting for "+inst.Name+" to be healthy", -1)
		return s.waitHealthy(ctx, inst)
	}()
	if err != nil {
		r.note("failed", err.Error(), -1)
		r.finish(store.JobFailed, err.Error())
		return
	}
	r.note("done", fmt.Sprintf("reconfigured %s", inst.Name), 100)
	r.finish(store.JobSucceeded, "")
}

// Upstream is where the edge sends a route's traffic: the host port that publishes the app's web port (the
// booked W9_HTTP_PORT_SET), or, when the route names a service and its container port, the host port that
// publishes that one; on this host's loopback address, or on a cluster at the address of a node where a running
// task publishes it (upstreamAt).
func (s *Service) Upstream(ctx context.Context, instance, service string, port int) (string, error) {
	inst, hostPort, err := s.routePort(ctx, instance, service, port)
	if err != nil {
		return "", err
	}
	return s.upstreamAt(ctx, inst, hostPort)
}

// CheckUpstream refuses a route's service and port that lead to no published host port; unlike Upstream it does
// not ask where the app runs now, so a route can be added while the app is stopped or moving.
func (s *Service) CheckUpstream(ctx context.Context, instance, service string, port int) error {
	_, _, err := s.routePort(ctx, instance, service, port)
	return err
}

// routePort is the host port a route leads to (see Upstream).
func (s *Service) routePort(ctx context.Context, instance, service string, port int) (*store.Instance, int, error) {
	inst, err := s.store.Q().Instance(ctx, instance)
	if err != nil {
		return nil, 0, notInstalled(err, instance)
	}
	if service == "" {
		bookings, err := s.store.Q().PortBookings(ctx, instance)
		if err != nil {
			return nil, 0, err
		}
		if web, _ := mainPorts(bookings); web != "" {
			p, err := strconv.Atoi(web)
			return inst, p, err
		}
		return nil, 0, apperr.Field(apperr.Invalid, "service", "%s publishes no web port (W9_HTTP_PORT_SET); name the service and port to route to", instance)
	}
	p, err := s.loadProject(ctx, inst, s.projectDir(instance))
	if err != nil {
		return nil, 0, err
	}
	svc, ok := p.Services[service]
	if !ok {
		return nil, 0, apperr.Field(apperr.Invalid, "service", "%s has no service %q", instance, service)
	}
	for _, pc := range svc.Ports {
		if int(pc.Target) == port && pc.Published != "" {
			lo, _, ok := portRange(pc.Published)
			if ok {
				return inst, lo, nil
			}
		}
	}
	return nil, 0, apperr.Field(apperr.Invalid, "port", "service %s of %s publishes no host port for container port %d", service, instance, port)
}

// upstreamAt is where host port port of an instance answers: this host's loopback on a single engine; on a
// cluster (ports published in host mode, on the node of each task) the address of a ready node where a running
// task publishes it, the first by hostname when several do.
func (s *Service) upstreamAt(ctx context.Context, inst *store.Instance, port int) (string, error) {
	if s.cluster == nil {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
	}
	st, err := s.engine.Status(ctx, inst.Project)
	if err != nil {
		return "", apperr.Wrap(apperr.Unavailable, err, "the Swarm manager does not answer")
	}
	nodes, err := s.cluster.Nodes(ctx)
	if err != nil {
		return "", apperr.Wrap(apperr.Unavailable, err, "the Swarm manager does not answer")
	}
	if addr := taskAddr(st, nodes, port); addr != "" {
		return net.JoinHostPort(addr, strconv.Itoa(port)), nil
	}
	return "", apperr.New(apperr.Unavailable, "%s has no running task publishing port %d on a ready node", inst.Name, port)
}

// taskAddr is the address of the first ready node, by hostname, where a running task of st publishes port; "".
func taskAddr(st *engine.Status, nodes []engine.Node, port int) string {
	slices.SortFunc(nodes, func(a, b engine.Node) int { return strings.Compare(a.Hostname, b.Hostname) })
	for _, n := range nodes {
		if n.State != "ready" || n.Addr == "" {
			continue
		}
		for _, c := range st.Services {
			if c.Node == n.Hostname && c.State == "running" && slices.Contains(c.HostPorts, port) {
				return n.Addr
			}
		}
	}
	return ""
}

// Health is an instance's status code and text now, for the edge's 502 page.
func (s *Service) Health(ctx context.Context, instance string) (code, info string, err error) {
	inst, err := s.store.Q().Instance(ctx, instance)
	if err != nil {
		return "", "", notInstalled(err, instance)
	}
	code, info = s.status(ctx, inst)
	return code, info, nil
}
