package docker

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
)

// containerSpec turns one Compose service's container number n (from 1) into the engine's create request. Networks beyond the first are
// returned separately: Engine API 1.41 attaches one network at create time, the rest are connected after.
func containerSpec(p *engine.Project, name string, n int, labels map[string]string) (client.ContainerCreateOptions, map[string]*network.EndpointSettings, error) {
	s := p.Services[name]
	cfg := &container.Config{
		Image:      s.Image,
		Cmd:        s.Command,
		Entrypoint: s.Entrypoint,
		Env:        envList(s.Environment),
		Labels:     engine.ContainerLabels(p, name, n, labels),
		User:       s.User,
		WorkingDir: s.WorkingDir,
		Hostname:   s.Hostname,
		Domainname: s.DomainName,
		Tty:        s.Tty,
		OpenStdin:  s.StdinOpen,
		StopSignal: s.StopSignal,
	}
	if s.StopGracePeriod != nil {
		secs := int(time.Duration(*s.StopGracePeriod).Seconds())
		cfg.StopTimeout = &secs
	}
	if hc := s.HealthCheck; hc != nil {
		cfg.Healthcheck = healthConfig(hc)
	}
	hc := &container.HostConfig{
		RestartPolicy:  restartPolicy(s.Restart),
		Privileged:     s.Privileged,
		CapAdd:         s.CapAdd,
		CapDrop:        s.CapDrop,
		SecurityOpt:    s.SecurityOpt,
		ExtraHosts:     s.ExtraHosts.AsList(":"),
		Sysctls:        map[string]string(s.Sysctls),
		ShmSize:        int64(s.ShmSize),
		Init:           s.Init,
		ReadonlyRootfs: s.ReadOnly,
		PidMode:        container.PidMode(s.Pid),
		IpcMode:        container.IpcMode(s.Ipc),
		GroupAdd:       s.GroupAdd,
		DNSOptions:     s.DNSOpts,
		DNSSearch:      s.DNSSearch,
		Links:          s.Links,
		Tmpfs:          map[string]string{},
		Runtime:        s.Runtime,
		CgroupnsMode:   container.CgroupnsMode(s.Cgroup),
	}
	for _, d := range s.DNS {
		if a, err := netip.ParseAddr(d); err == nil {
			hc.DNS = append(hc.DNS, a)
		}
	}
	if s.Logging != nil {
		hc.LogConfig = container.LogConfig{Type: s.Logging.Driver, Config: s.Logging.Options}
	}
	for _, t := range s.Tmpfs {
		path, opts, _ := strings.Cut(t, ":")
		hc.Tmpfs[path] = opts
	}
	setResources(&hc.Resources, s)
	exposed, bindings, err := ports(s)
	if err != nil {
		return client.ContainerCreateOptions{}, nil, fmt.Errorf("service %s: %w", name, err)
	}
	cfg.ExposedPorts, hc.PortBindings = exposed, bindings
	if hc.Mounts, err = mounts(p, s); err != nil {
		return client.ContainerCreateOptions{}, nil, fmt.Errorf("service %s: %w", name, err)
	}
	cm, err := configMounts(p, s)
	if err != nil {
		return client.ContainerCreateOptions{}, nil, fmt.Errorf("service %s: %w", name, err)
	}
	hc.Mounts = append(hc.Mounts, cm...)
	first, rest := endpoints(p, name)
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{}}
	switch {
	case s.NetworkMode != "":
		hc.NetworkMode = container.NetworkMode(s.NetworkMode)
	case first != "":
		hc.NetworkMode = container.NetworkMode(first)
		nc.EndpointsConfig[first] = rest[first]
		delete(rest, first)
	}
	return client.ContainerCreateOptions{Name: engine.ReplicaName(p, name, n), Config: cfg, HostConfig: hc, NetworkingConfig: nc},
		rest, nil
}

func envList(m types.MappingWithEquals) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		if v != nil {
			out = append(out, k+"="+*v)
		}
	}
	sort.Strings(out)
	return out
}

func healthConfig(h *types.HealthCheckConfig) *container.HealthConfig {
	if h.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}
	}
	c := &container.HealthConfig{Test: h.Test}
	if h.Interval != nil {
		c.Interval = time.Duration(*h.Interval)
	}
	if h.Timeout != nil {
		c.Timeout = time.Duration(*h.Timeout)
	}
	if h.StartPeriod != nil {
		c.StartPeriod = time.Duration(*h.StartPeriod)
	}
	if h.Retries != nil {
		c.Retries = int(*h.Retries)
	}
	return c
}

func restartPolicy(r string) container.RestartPolicy {
	name, count, _ := strings.Cut(r, ":")
	switch name {
	case "always", "unless-stopped":
		return container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	case "on-failure":
		n, _ := strconv.Atoi(count)
		return container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: n}
	}
	return container.RestartPolicy{Name: container.RestartPolicyDisabled}
}

func setResources(r *container.Resources, s types.ServiceConfig) {
	r.Memory = int64(s.MemLimit)
	r.MemoryReservation = int64(s.MemReservation)
	r.NanoCPUs = int64(s.CPUS * 1e9)
	r.CPUShares = s.CPUShares
	r.CpusetCpus = s.CPUSet
	if s.PidsLimit != 0 {
		r.PidsLimit = &s.PidsLimit
	}
	if d := s.Deploy; d != nil && d.Resources.Limits != nil {
		if m := int64(d.Resources.Limits.MemoryBytes); m > 0 {
			r.Memory = m
		}
		if c := float64(d.Resources.Limits.NanoCPUs); c > 0 {
			r.NanoCPUs = int64(c * 1e9)
		}
		if d.Resources.Limits.Pids > 0 {
			r.PidsLimit = &d.Resources.Limits.Pids
		}
	}
	names := make([]string, 0, len(s.Ulimits))
	for n := range s.Ulimits {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u := s.Ulimits[n]
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		r.Ulimits = append(r.Ulimits, &container.Ulimit{Name: n, Soft: soft, Hard: hard})
	}
	for _, d := range s.Devices {
		r.Devices = append(r.Devices, container.DeviceMapping{PathOnHost: d.Source, PathInContainer: d.Target,
			CgroupPermissions: d.Permissions})
	}
	for _, d := range deviceRequests(s) {
		r.DeviceRequests = append(r.DeviceRequests, container.DeviceRequest{Driver: d.Driver, Count: int(d.Count),
			DeviceIDs: d.IDs, Capabilities: [][]string{d.Capabilities}, Options: d.Options})
	}
}

// deviceRequests are the devices (GPUs) a service reserves: deploy.resources.reservations.devices and gpus.
func deviceRequests(s types.ServiceConfig) []types.DeviceRequest {
	out := s.Gpus
	if s.Deploy != nil && s.Deploy.Resources.Reservations != nil {
		out = append(out, s.Deploy.Resources.Reservations.Devices...)
	}
	return out
}

func ports(s types.ServiceConfig) (network.PortSet, network.PortMap, error) {
	exposed, bindings := network.PortSet{}, network.PortMap{}
	for _, e := range s.Expose {
		port, err := network.ParsePort(e)
		if err != nil {
			return nil, nil, fmt.Errorf("expose %q: %w", e, err)
		}
		exposed[port] = struct{}{}
	}
	for _, pc := range s.Ports {
		proto := pc.Protocol
		if proto == "" {
			proto = "tcp"
		}
		port, err := network.ParsePort(fmt.Sprintf("%d/%s", pc.Target, proto))
		if err != nil {
			return nil, nil, fmt.Errorf("port %d: %w", pc.Target, err)
		}
		exposed[port] = struct{}{}
		b := network.PortBinding{HostPort: pc.Published}
		if pc.HostIP != "" {
			if b.HostIP, err = netip.ParseAddr(pc.HostIP); err != nil {
				return nil, nil, fmt.Errorf("port %d host_ip %q: %w", pc.Target, pc.HostIP, err)
			}
		}
		bindings[port] = append(bindings[port], b)
	}
	return exposed, bindings, nil
}

func mounts(p *engine.Project, s types.ServiceConfig) ([]mount.Mount, error) {
	var out []mount.Mount
	for _, v := range s.Volumes {
		m := mount.Mount{Type: mount.Type(v.Type), Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeVolume:
			if v.Source != "" {
				vol, ok := p.Volumes[v.Source]
				if !ok {
					return nil, fmt.Errorf("volume %q is not declared under volumes", v.Source)
				}
				m.Source = vol.Name
			}
			if v.Volume != nil {
				m.VolumeOptions = &mount.VolumeOptions{NoCopy: v.Volume.NoCopy}
			}
		case types.VolumeTypeBind:
			// Compose creates a missing bind source for the short syntax; the mount API does not.
			if v.Bind == nil || v.Bind.CreateHostPath {
				if _, err := os.Stat(v.Source); os.IsNotExist(err) {
					if err := os.MkdirAll(v.Source, 0o755); err != nil {
						return nil, fmt.Errorf("create bind source %s: %w", v.Source, err)
					}
				}
			}
			if v.Bind != nil && v.Bind.Propagation != "" {
				m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}
			}
		case types.VolumeTypeTmpfs:
			if v.Tmpfs != nil {
				m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size)}
			}
		default:
			return nil, fmt.Errorf("volume type %q of %s is not supported", v.Type, v.Target)
		}
		out = append(out, m)
	}
	return out, nil
}

// configsDir is where a project's content configs are written, inside its directory.
const configsDir = ".configs"

// configMounts mounts the service's configs read-only, as Compose does outside Swarm: a file config from its
// file, a content (or environment) config from a file written under the project's .configs directory. The target
// defaults to /<config name>; a relative one is taken from /.
func configMounts(p *engine.Project, s types.ServiceConfig) ([]mount.Mount, error) {
	var out []mount.Mount
	for _, ref := range s.Configs {
		c, ok := p.Configs[ref.Source]
		if !ok {
			return nil, fmt.Errorf("config %q is not declared under configs", ref.Source)
		}
		target := ref.Target
		if target == "" {
			target = ref.Source
		}
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		src := c.File
		switch {
		case bool(c.External):
			return nil, fmt.Errorf("config %s is external, which only a Swarm provides", ref.Source)
		case src == "" && (ref.Source == "." || ref.Source == ".."):
			return nil, fmt.Errorf("config name %q cannot name a file", ref.Source)
		case src == "":
			dir := filepath.Join(p.WorkingDir, configsDir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("config %s: %w", ref.Source, err)
			}
			src = filepath.Join(dir, ref.Source)
			if err := os.WriteFile(src, []byte(c.Content), 0o644); err != nil {
				return nil, fmt.Errorf("config %s: %w", ref.Source, err)
			}
		}
		out = append(out, mount.Mount{Type: mount.TypeBind, Source: src, Target: target, ReadOnly: true})
	}
	return out, nil
}

// endpoints returns the service's networks by their engine names, with the service name as an alias so other
// services reach it by name; first is the one to attach at create time (stable: the highest priority wins, then
// the name).
func endpoints(p *engine.Project, service string) (first string, all map[string]*network.EndpointSettings) {
	s := p.Services[service]
	all = map[string]*network.EndpointSettings{}
	type prio struct {
		name string
		prio int
	}
	var order []prio
	for key, cfg := range s.Networks {
		n, ok := p.Networks[key]
		if !ok {
			continue
		}
		es := &network.EndpointSettings{Aliases: []string{service}}
		pr := 0
		if cfg != nil {
			es.Aliases = append(es.Aliases, cfg.Aliases...)
			pr = cfg.Priority
		}
		all[n.Name] = es
		order = append(order, prio{n.Name, pr})
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].prio != order[j].prio {
			return order[i].prio > order[j].prio
		}
		return order[i].name < order[j].name
	})
	if len(order) > 0 {
		first = order[0].name
	}
	return first, all
}
