package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// hostAccess lists why the loaded project's enabled services need power over the host, beyond binds (which
// checkMounts reports): privileges, host namespaces, capabilities, devices, weakened confinement, host-path
// volumes and the host network. The result is sorted and without duplicates.
func hostAccess(p *types.Project) []string {
	var out []string
	for name, s := range p.Services {
		out = append(out, serviceAccess(name, s, p.Volumes)...)
	}
	for name, n := range p.Networks {
		if n.Driver == "host" || n.Name == "host" {
			out = append(out, fmt.Sprintf("network %s is the host network", name))
		}
	}
	return out
}

// serviceAccess lists one service's host-access needs.
func serviceAccess(name string, s types.ServiceConfig, vols types.Volumes) []string {
	var out []string
	add := func(format string, args ...any) {
		out = append(out, "service "+name+" "+fmt.Sprintf(format, args...))
	}
	if s.Privileged {
		add("runs privileged")
	}
	for key, mode := range map[string]string{"network_mode": s.NetworkMode, "pid": s.Pid, "ipc": s.Ipc} {
		if mode == "host" {
			add("shares the host's namespace (%s: host)", key)
		}
	}
	if len(s.CapAdd) > 0 {
		add("adds capabilities (%s)", strings.Join(s.CapAdd, ", "))
	}
	for _, d := range s.Devices {
		add("uses the host device %s", d.Source)
	}
	if s.Cgroup == "host" {
		add("shares the host's namespace (cgroup: host)")
	}
	if s.Runtime != "" {
		add("runs with the container runtime %s", s.Runtime)
	}
	if s.Deploy != nil && s.Deploy.Resources.Reservations != nil {
		for _, d := range s.Deploy.Resources.Reservations.Devices {
			add("reserves host devices (%s)", deviceWords(d))
		}
	}
	for _, d := range s.Gpus {
		add("reserves host devices (%s)", deviceWords(d))
	}
	for _, opt := range s.SecurityOpt {
		if !strings.HasPrefix(opt, "no-new-privileges") {
			add("weakens its confinement (security_opt %s)", opt)
		}
	}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeVolume {
			continue
		}
		if dev := vols[v.Source].DriverOpts["device"]; dev != "" {
			add("mounts volume %s, which is the host path %s", v.Source, dev)
		}
	}
	return out
}

// deviceWords describes a device reservation: its capabilities, driver and count.
func deviceWords(d types.DeviceRequest) string {
	words := append([]string{}, d.Capabilities...)
	if d.Driver != "" {
		words = append(words, "driver "+d.Driver)
	}
	switch {
	case len(d.IDs) > 0:
		words = append(words, "ids "+strings.Join(d.IDs, ","))
	case d.Count < 0:
		words = append(words, "all")
	case d.Count > 0:
		words = append(words, fmt.Sprintf("count %d", d.Count))
	}
	return strings.Join(words, ", ")
}

// sortedUnique sorts reasons and drops duplicates.
func sortedUnique(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}
