package docker

import (
	"io"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
)

// What the Swarm engine (internal/engine/swarm) shares with this one: it converts the same Compose keys into the
// same moby types, and runs images and volumes on its own node through an Engine.

// NewWithClient is an Engine on an existing client (which the caller closes; Close closes it too).
func NewWithClient(c *client.Client) *Engine { return &Engine{c: c} }

// EnvList is a service's environment as KEY=value lines, sorted; a variable without a value is left out.
func EnvList(m types.MappingWithEquals) []string { return envList(m) }

// HealthConfig is a Compose healthcheck in the engine's terms.
func HealthConfig(h *types.HealthCheckConfig) *container.HealthConfig { return healthConfig(h) }

// Mounts are a service's volumes, binds and tmpfs mounts (a missing bind source is created, as Compose does).
func Mounts(p *engine.Project, s types.ServiceConfig) ([]mount.Mount, error) { return mounts(p, s) }

// ConfigMounts are a service's configs, each a read-only bind of its file.
func ConfigMounts(p *engine.Project, s types.ServiceConfig) ([]mount.Mount, error) {
	return configMounts(p, s)
}

// CleanErr shortens a daemon error to its most specific clause, keeping the error chain.
func CleanErr(err error) error { return cleanErr(err) }

// PrefixWriter writes whole lines to w, each prefixed, under mu (shared by the writers of one output); flush
// writes a last line that has no newline.
func PrefixWriter(mu *sync.Mutex, w io.Writer, prefix string) (pw io.Writer, flush func()) {
	p := &prefixWriter{mu: mu, w: w, prefix: prefix}
	return p, p.flush
}
