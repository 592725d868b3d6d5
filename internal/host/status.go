package host

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/store"
)

// The contract's status codes.
const (
	StatusNotStarted = "0" // queued, pulling, creating, or stopped by the operator
	StatusRunning    = "1" // every container runs and is healthy where it has a healthcheck
	StatusFailed     = "2" // the job failed, or a container exited with an error or keeps restarting
)

// Info is an instance as the APIs show it. It never holds secrets.
type Info struct {
	Name       string              `json:"name"`
	App        string              `json:"app"`
	AppID      int64               `json:"app_id"`
	Version    string              `json:"version"`
	Store      string              `json:"store,omitempty"` // the store of the version it runs ("" unknown, or a user's)
	Container  string              `json:"containerName"`
	State      string              `json:"state"`
	Status     string              `json:"status"`
	Info       string              `json:"info"`
	Port       string              `json:"port"`
	DBPort     string              `json:"db_port"`
	Ports      []store.PortBooking `json:"ports"`
	HostAccess bool                `json:"host_access"`
	Node       string              `json:"node,omitempty"` // the cluster node its install named ("" for any)
	// Latest is the newest installable version of the app; UpdateAvailable says it is newer than the running one.
	Latest          string   `json:"latest_version,omitempty"`
	UpdateAvailable bool     `json:"update_available"`
	Services        []string `json:"services"`
	CreatedAt       int64    `json:"created_at"`
	UpdatedAt       int64    `json:"updated_at"`
}

// computeStatus decides an instance's status from its record and Docker's real state.
func computeStatus(inst *store.Instance, st *engine.Status) (code, info string) {
	switch inst.State {
	case store.StateInstalling:
		return StatusNotStarted, "installing"
	case store.StateFailed:
		return StatusFailed, inst.Cause
	case store.StateUninstalling:
		return StatusNotStarted, "uninstalling"
	}
	if st == nil || len(st.Services) == 0 {
		return StatusFailed, "its containers were removed outside StackHub; uninstall it, or install it again"
	}
	count := map[string]int{} // containers per service
	for _, c := range st.Services {
		count[c.Service]++
	}
	if inst.Services != "" {
		for _, svc := range strings.Split(inst.Services, ",") {
			if count[svc] == 0 {
				return StatusFailed, fmt.Sprintf("the container of service %s was removed outside StackHub", svc)
			}
		}
	}
	for _, c := range st.Services { // a service with replicas runs only when all of them are there
		if count[c.Service] < c.Replicas {
			return StatusFailed, fmt.Sprintf("%d of the %d containers of service %s were removed outside StackHub",
				c.Replicas-count[c.Service], c.Replicas, c.Service)
		}
	}
	if inst.Stopped {
		return StatusNotStarted, "stopped" // whatever a stopped container's last health or exit code says
	}
	starting := ""
	for _, c := range st.Services {
		switch {
		case c.State == "restarting":
			return StatusFailed, fmt.Sprintf("service %s keeps restarting (exit code %d): %s", c.Service, c.ExitCode, c.LastLog)
		case (c.State == "exited" || c.State == "dead") && c.ExitCode != 0:
			return StatusFailed, fmt.Sprintf("service %s exited with code %d: %s", c.Service, c.ExitCode, c.LastLog)
		case c.Health == "unhealthy":
			return StatusFailed, fmt.Sprintf("service %s is unhealthy", c.Service)
		case c.Health == "starting" && starting == "":
			starting = fmt.Sprintf("service %s is starting", c.Service)
		case c.State == "exited" && !c.OneShot && starting == "":
			starting = fmt.Sprintf("service %s is stopped", c.Service)
		case c.State == "created" && starting == "":
			starting = fmt.Sprintf("service %s is not started", c.Service)
		}
	}
	if starting != "" {
		return StatusNotStarted, starting
	}
	return StatusRunning, "running"
}

// Instance reports one instance with its status computed now.
func (s *Service) Instance(ctx context.Context, a auth.Actor, name string) (*Info, error) {
	inst, err := s.installed(ctx, a, auth.HostRead, name)
	if err != nil {
		return nil, err
	}
	return s.info(ctx, inst)
}

// Instances reports every instance.
func (s *Service) Instances(ctx context.Context, a auth.Actor) ([]Info, error) {
	if err := require(a, auth.HostRead); err != nil {
		return nil, err
	}
	insts, err := s.store.Q().Instances(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(insts))
	for i := range insts {
		info, err := s.info(ctx, &insts[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *info)
	}
	return out, nil
}

func (s *Service) info(ctx context.Context, inst *store.Instance) (*Info, error) {
	bookings, err := s.store.Q().PortBookings(ctx, inst.Name)
	if err != nil {
		return nil, err
	}
	code, text := s.status(ctx, inst)
	port, dbPort := mainPorts(bookings)
	var services []string
	if inst.Services != "" {
		services = strings.Split(inst.Services, ",")
	}
	slices.Sort(services)
	u, running, err := s.newest(ctx, inst)
	if err != nil {
		return nil, err
	}
	latest, newer := compareLatest(u, inst)
	return &Info{Latest: latest, UpdateAvailable: newer, Store: running, Name: inst.Name, App: inst.AppKey, AppID: inst.App, Version: inst.Version, Container: inst.Project,
		State: inst.State, Status: code, Info: text, Port: port, DBPort: dbPort, Ports: bookings,
		HostAccess: inst.HostAccess, Node: inst.Node, Services: services, CreatedAt: inst.CreatedAt, UpdatedAt: inst.UpdatedAt}, nil
}

// status is an instance's status code and text now; only an installed instance asks Docker.
func (s *Service) status(ctx context.Context, inst *store.Instance) (code, info string) {
	if inst.State != store.StateInstalled {
		return computeStatus(inst, nil)
	}
	st, err := s.engine.Status(ctx, inst.Project)
	if err != nil {
		return StatusFailed, "Docker Engine does not answer: " + err.Error()
	}
	if s.cluster == nil {
		return computeStatus(inst, st)
	}
	nodes, err := s.cluster.Nodes(ctx)
	if err != nil {
		return StatusFailed, "the Swarm manager does not answer: " + err.Error()
	}
	return clusterStatus(inst, st, nodes)
}

// clusterStatus is computeStatus on a cluster: a node that is not ready, where the instance is placed or one of
// its tasks runs, fails it with the node's name (a stopped instance stays stopped).
func clusterStatus(inst *store.Instance, st *engine.Status, nodes []engine.Node) (code, info string) {
	code, info = computeStatus(inst, st)
	if inst.State != store.StateInstalled || inst.Stopped {
		return code, info
	}
	if trouble := nodeTrouble(inst, st, nodes); trouble != "" {
		return StatusFailed, trouble
	}
	return code, info
}

// newest is the newest installable version of inst's app among its last 50, from the store of the version inst
// runs (another store's newer version is another template, not an update), and that store; nil when none is
// installable.
func (s *Service) newest(ctx context.Context, inst *store.Instance) (*store.Update, string, error) {
	ups, err := s.store.Q().Updates(ctx, inst.App, true, store.Page{Limit: 50})
	if err != nil {
		return nil, "", err
	}
	running := ""
	i := slices.IndexFunc(ups, func(u store.Update) bool { return u.Reversion == inst.Reversion })
	if i >= 0 {
		running = ups[i].Store
	}
	for j := range ups {
		if ups[j].Stack != nil && (i < 0 || ups[j].Store == running) {
			return &ups[j], running, nil
		}
	}
	return nil, running, nil
}

// compareLatest is the newest version u ("" when nil) and whether it is newer than what inst runs.
func compareLatest(u *store.Update, inst *store.Instance) (string, bool) {
	if u == nil {
		return "", false
	}
	return u.Version, u.Reversion > inst.Reversion
}
