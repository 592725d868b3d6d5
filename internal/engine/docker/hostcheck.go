package docker

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
)

// gpuRuntimes are the runtimes through which the Engine hands GPUs to containers.
var gpuRuntimes = []string{"nvidia"}

// CheckHost implements engine.HostChecker: every runtime a service names is one the Engine has, every host device
// it maps exists, and a device reservation (a GPU) has a runtime that provides it. Compose would fail on these
// only when the container starts; StackHub refuses before anything is created.
func (e *Engine) CheckHost(ctx context.Context, p *engine.Project) error {
	var info *client.SystemInfoResult
	runtimes := func() ([]string, error) {
		if info == nil {
			in, err := e.c.Info(ctx, client.InfoOptions{})
			if err != nil {
				return nil, fmt.Errorf("docker info: %w", cleanErr(err))
			}
			info = &in
		}
		var names []string
		for n := range info.Info.Runtimes {
			names = append(names, n)
		}
		slices.Sort(names)
		return names, nil
	}
	for _, name := range sortedServices(p) {
		s := p.Services[name]
		if s.Runtime != "" {
			have, err := runtimes()
			if err != nil {
				return err
			}
			if !slices.Contains(have, s.Runtime) {
				return fmt.Errorf("service %s needs the container runtime %s, which this Docker Engine does not have "+
					"(it has %s); install it, or choose a server that has it", name, s.Runtime, strings.Join(have, ", "))
			}
		}
		for _, d := range s.Devices {
			if _, err := os.Stat(d.Source); err != nil {
				return fmt.Errorf("service %s needs the host device %s, which this host does not have", name, d.Source)
			}
		}
		for _, d := range deviceRequests(s) {
			have, err := runtimes()
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(have, func(r string) bool { return slices.Contains(gpuRuntimes, r) }) {
				return fmt.Errorf("service %s reserves devices (%s), and this Docker Engine has no GPU runtime "+
					"(it has %s); install the NVIDIA container toolkit, or choose a server with a GPU", name,
					strings.Join(d.Capabilities, ", "), strings.Join(have, ", "))
			}
		}
	}
	return nil
}
