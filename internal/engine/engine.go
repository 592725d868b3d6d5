// Package engine runs Compose projects on a container engine.
//
// Lifecycle: a project is loaded from a rendered directory (Load), its images are pulled (Pull), then Up creates
// its networks, volumes and containers in depends_on order and starts them, waiting for each dependency's
// condition. Stop, Start and Restart act on an existing project; Down removes its containers and networks, and
// its volumes when asked. Status and Logs read Docker's real state; nothing is cached, so a project changed by
// hand is reported as it is.
//
// Concurrency: an Engine is safe for concurrent use. Calls on different projects run independently. Callers
// serialise calls on the same project (the host service holds one job per instance at a time). Every call
// honours ctx: cancelling it stops waiting and returns ctx's error, leaving what was already created for Down to
// remove.
package engine

import (
	"context"
	"io"

	"github.com/compose-spec/compose-go/v2/types"
)

// Project is a loaded Compose project.
type Project = types.Project

// Engine runs Compose projects.
type Engine interface {
	// Version reports the engine's version, or an error when it does not answer.
	Version(ctx context.Context) (string, error)
	// Pull fetches the project's missing images, reporting progress.
	Pull(ctx context.Context, p *Project, progress func(Progress)) error
	// Up creates and starts the project. labels are added to every container. It returns once every service
	// is started and every depends_on condition has been met.
	Up(ctx context.Context, p *Project, labels map[string]string, progress func(Progress)) error
	// Converge brings an existing project to p: services whose configuration changed (by ConfigHash) are
	// recreated, missing ones created, stopped ones started; the rest keep running. It returns the recreated.
	Converge(ctx context.Context, p *Project, labels map[string]string, progress func(Progress)) ([]string, error)
	// VolumeMountpoint is where a volume's data lives on the host, for snapshots.
	VolumeMountpoint(ctx context.Context, name string) (string, error)
	// Down removes the project's containers and networks, and its volumes when volumes is true.
	Down(ctx context.Context, name string, volumes bool) error
	// Start, Stop and Restart act on every container of the project.
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	Restart(ctx context.Context, name string) error
	// Status reports the state of every container of the project (none: the project does not exist).
	Status(ctx context.Context, name string) (*Status, error)
	// Logs writes the project's logs to w: the last tail lines of each container, then new lines while follow.
	Logs(ctx context.Context, name string, tail int, follow bool, w io.Writer) error
	// PublishedPorts lists the host ports that any container on the engine publishes.
	PublishedPorts(ctx context.Context) (map[int]bool, error)
	// Exists reports whether a project or a container of that name exists.
	Exists(ctx context.Context, project string, containerNames ...string) (bool, error)
	// Volumes lists the names of the project's volumes.
	Volumes(ctx context.Context, project string) ([]string, error)
	// RemoveVolume removes one volume; a missing volume is not an error.
	RemoveVolume(ctx context.Context, name string) error
}

// HostChecker is an Engine that can tell, before anything is created, whether this host has what a project
// asks of it: container runtimes, host devices, reserved devices (GPUs).
type HostChecker interface {
	CheckHost(ctx context.Context, p *Project) error
}

// Progress is one step of a long operation.
type Progress struct {
	Stage   string // pull, network, volume, create, start, wait
	Service string
	Message string
	Percent int // 0-100 when known, -1 otherwise
}

// Status is the state of a project's containers.
type Status struct {
	Project  string
	Services []ServiceState
}

// ServiceState is the state of one container of a service.
type ServiceState struct {
	Service   string
	Container string
	Number    int    // the replica's number, from 1
	Replicas  int    // how many containers the service runs (deploy.replicas); each is one ServiceState
	State     string // created, running, paused, restarting, exited, dead
	Health    string // "", starting, healthy, unhealthy
	ExitCode  int
	OneShot   bool   // restart policy "no" or "on-failure": a clean exit is done, not down
	LastLog   string // the last log line, for a container that is not running
	HostPorts []int
	Node      string // cluster engines: the hostname of the node the task runs on ("" on a single engine)
	NodeState string // cluster engines: that node's state (ready, down, unknown, disconnected); a task on a node
	// that is not ready keeps its last reported State until Swarm replaces it
}

// Node is one machine of a cluster engine.
type Node struct {
	ID            string
	Hostname      string
	Role          string // manager, worker
	Leader        bool
	State         string // ready, down, unknown, disconnected
	Availability  string // active, pause, drain
	Addr          string // the address the node's host-mode published ports answer on
	CPUs          float64
	MemoryBytes   int64
	EngineVersion string
}

// Cluster is an Engine whose projects run on several nodes (Docker Swarm). A project's services honour Compose's
// deploy.placement.constraints (the host adds `node.hostname==<name>` when an install names a node), and each
// ServiceState names the node its task runs on, so callers reach a published port at that node's Addr.
type Cluster interface {
	Engine
	Nodes(ctx context.Context) ([]Node, error)
}
