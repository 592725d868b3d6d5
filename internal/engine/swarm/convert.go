package swarm

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/engine/docker"
)

// refuse says, before anything is created, what in p cannot run on Swarm: the first service (by name) and key,
// and why. These are the keys `docker stack deploy` cannot express (it ignores most of them with a warning;
// StackHub refuses, since the app would not run as its template meant), plus the options Swarm has only in
// Engine API versions newer than 20.10's.
func refuse(p *engine.Project) error {
	for _, name := range sortedServices(p) {
		if err := refuseService(p, name, p.Services[name]); err != nil {
			return fmt.Errorf("service %s cannot run on Docker Swarm: %w", name, err)
		}
	}
	for key, n := range p.Networks {
		switch n.Driver {
		case "", "bridge", "overlay": // a bridge across nodes is an overlay network
		default:
			return fmt.Errorf("network %s uses the %s driver; Swarm services attach to overlay networks only "+
				"(remove its driver)", key, n.Driver)
		}
	}
	return nil
}

func refuseService(p *engine.Project, name string, s types.ServiceConfig) error {
	why := func(key, reason string) error { return fmt.Errorf("%s: %s", key, reason) }
	switch {
	case s.Build != nil:
		return why("build", "every node must run the same image; build it, push it to a registry the nodes "+
			"pull from, and name it in image")
	case s.Image == "":
		return why("image", "a service needs an image")
	case s.Privileged:
		return why("privileged", "Swarm services cannot run privileged")
	case len(s.Devices) > 0 || len(s.DeviceCgroupRules) > 0:
		return why("devices", "Swarm services cannot map host devices")
	case len(s.Gpus) > 0 || (s.Deploy != nil && s.Deploy.Resources.Reservations != nil &&
		len(s.Deploy.Resources.Reservations.Devices) > 0):
		return why("deploy.resources.reservations.devices", "Swarm has no device requests (GPUs)")
	case s.NetworkMode != "":
		return why("network_mode", fmt.Sprintf("%q: a Swarm service has its own network namespace on overlay "+
			"networks; use networks", s.NetworkMode))
	case s.Ipc != "":
		return why("ipc", "Swarm services cannot share an IPC namespace")
	case s.Pid != "":
		return why("pid", "Swarm services cannot share a PID namespace")
	case s.Uts != "":
		return why("uts", "Swarm services cannot share the host's UTS namespace")
	case s.UserNSMode != "":
		return why("userns_mode", "Swarm services cannot choose a user namespace")
	case s.Cgroup != "" || s.CgroupParent != "":
		return why("cgroup", "Swarm services cannot choose their cgroup namespace or parent")
	case len(s.SecurityOpt) > 0:
		return why("security_opt", "Swarm services cannot set security options")
	case len(s.Links) > 0 || len(s.ExternalLinks) > 0:
		return why("links", "Swarm has no links; services reach each other by name on a shared network")
	case len(s.VolumesFrom) > 0:
		return why("volumes_from", "a Swarm task cannot mount another container's volumes; use a named volume")
	case s.MacAddress != "":
		return why("mac_address", "Swarm services cannot choose a MAC address")
	case s.DomainName != "":
		return why("domainname", "Swarm services cannot set a domain name")
	case s.Runtime != "":
		return why("runtime", "Swarm services cannot choose a container runtime")
	case s.CPUSet != "" || s.CPUShares != 0 || s.CPUQuota != 0 || s.CPUPeriod != 0 || s.CPURTPeriod != 0 ||
		s.CPURTRuntime != 0 || s.CPUCount != 0 || s.CPUPercent != 0:
		return why("cpuset/cpu_shares/cpu_quota", "Swarm limits CPUs by count only; use deploy.resources.limits.cpus")
	case s.BlkioConfig != nil:
		return why("blkio_config", "Swarm services cannot set block IO weights or limits")
	case s.OomKillDisable || s.OomScoreAdj != 0:
		return why("oom_kill_disable/oom_score_adj", "not available on Swarm in Engine API 1.41")
	case s.MemSwapLimit != 0 || s.MemSwappiness != 0:
		return why("memswap_limit/mem_swappiness", "not available on Swarm in Engine API 1.41")
	case len(s.StorageOpt) > 0:
		return why("storage_opt", "Swarm services cannot set storage options")
	case s.Isolation != "" && s.Isolation != "default":
		return why("isolation", "Swarm runs Linux containers with the default isolation")
	case s.CredentialSpec != nil:
		return why("credential_spec", "Windows only")
	case s.UseAPISocket:
		return why("use_api_socket", "Swarm tasks cannot be handed the Docker API socket")
	case len(s.PostStart) > 0 || len(s.PreStop) > 0:
		return why("post_start/pre_stop", "Swarm runs no lifecycle hooks")
	}
	if d := s.Deploy; d != nil {
		switch d.Mode {
		case "", "replicated", "global":
		default:
			return why("deploy.mode", fmt.Sprintf("%q; StackHub runs replicated and global services", d.Mode))
		}
		if d.EndpointMode == "vip" {
			return why("deploy.endpoint_mode", "vip needs the routing mesh (IPVS), which StackHub's Swarm does "+
				"not use; remove it (services resolve by DNS round robin)")
		}
	}
	for dep, c := range s.DependsOn {
		if c.Condition == types.ServiceConditionCompletedSuccessfully && restartPolicy(p, dep).Condition == swarm.RestartPolicyConditionAny {
			return why("depends_on", fmt.Sprintf("%s must complete successfully, but its restart policy restarts "+
				"it when it exits; give %s restart: \"no\" or on-failure", dep, dep))
		}
	}
	for _, pc := range s.Ports {
		switch {
		case pc.HostIP != "" && pc.HostIP != "0.0.0.0" && pc.HostIP != "::":
			return why("ports", fmt.Sprintf("%s: Swarm publishes a port on every address of its node, not on "+
				"one (%s)", portString(pc), pc.HostIP))
		}
		if pc.Published != "" {
			if _, err := strconv.ParseUint(pc.Published, 10, 16); err != nil {
				return why("ports", fmt.Sprintf("published port %q is not one port number", pc.Published))
			}
		}
	}
	for _, v := range s.Volumes {
		switch {
		case v.Type == types.VolumeTypeNamedPipe || v.Type == "cluster" || v.Type == "image":
			return why("volumes", fmt.Sprintf("%s: volume type %s is not supported on Swarm", v.Target, v.Type))
		case v.Volume != nil && v.Volume.Subpath != "":
			return why("volumes", fmt.Sprintf("%s: subpath needs Engine API 1.45", v.Target))
		}
	}
	for _, ref := range s.Secrets {
		if sec, ok := p.Secrets[ref.Source]; ok && (bool(sec.External) || sec.File == "") {
			return why("secrets", fmt.Sprintf("%s: only file secrets are supported", ref.Source))
		}
	}
	return nil
}

func portString(pc types.ServicePortConfig) string {
	return fmt.Sprintf("%s:%d", pc.Published, pc.Target)
}

// restartPolicy is Swarm's restart policy for a service: deploy.restart_policy, else restart, else none for a
// service another one waits on to complete, else any (Swarm's default: a service keeps running).
func restartPolicy(p *engine.Project, name string) *swarm.RestartPolicy {
	s := p.Services[name]
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		rp := s.Deploy.RestartPolicy
		out := &swarm.RestartPolicy{Condition: swarm.RestartPolicyCondition(rp.Condition), MaxAttempts: rp.MaxAttempts}
		if out.Condition == "" {
			out.Condition = swarm.RestartPolicyConditionAny
		}
		if rp.Delay != nil {
			d := time.Duration(*rp.Delay)
			out.Delay = &d
		}
		if rp.Window != nil {
			w := time.Duration(*rp.Window)
			out.Window = &w
		}
		return out
	}
	if s.Restart == "" && awaitedToComplete(p, name) {
		return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}
	}
	name, count, _ := strings.Cut(s.Restart, ":")
	switch name {
	case "no":
		return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}
	case "on-failure":
		out := &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure}
		if n, err := strconv.ParseUint(count, 10, 64); err == nil && n > 0 {
			out.MaxAttempts = &n
		}
		return out
	}
	// always, unless-stopped, and none given: Swarm keeps a service's tasks running.
	return &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny}
}

// awaitedToComplete: another service depends on this one with condition service_completed_successfully.
func awaitedToComplete(p *engine.Project, name string) bool {
	for _, s := range p.Services {
		if c, ok := s.DependsOn[name]; ok && c.Condition == types.ServiceConditionCompletedSuccessfully {
			return true
		}
	}
	return false
}

// serviceName is the Swarm service of a Compose service, as docker stack names it.
func serviceName(project, service string) string { return project + "_" + service }

// networkName is the Swarm network of a project's network key: its name (Compose's <project>_<key>).
func networkName(p *engine.Project, key string) string { return p.Networks[key].Name }

// spec converts one Compose service to a Swarm service. pin is the node ID a service that keeps data is pinned
// to ("" leaves it free).
func spec(p *engine.Project, name string, labels map[string]string, pin string) (swarm.ServiceSpec, error) {
	s := p.Services[name]
	svcLabels := engine.ContainerLabels(p, name, 1, labels)
	delete(svcLabels, engine.LabelNumber)
	svcLabels[LabelNamespace] = p.Name
	ctrLabels := maps.Clone(svcLabels)
	if s.Deploy != nil {
		maps.Copy(svcLabels, s.Deploy.Labels)
	}
	if pin != "" {
		svcLabels[LabelPinned] = pin
	}
	cs := &swarm.ContainerSpec{
		Image:          s.Image,
		Labels:         ctrLabels,
		Command:        s.Entrypoint,
		Args:           s.Command,
		Hostname:       s.Hostname,
		Env:            docker.EnvList(s.Environment),
		Dir:            s.WorkingDir,
		User:           s.User,
		Groups:         s.GroupAdd,
		Init:           s.Init,
		StopSignal:     s.StopSignal,
		TTY:            s.Tty,
		OpenStdin:      s.StdinOpen,
		ReadOnly:       s.ReadOnly,
		Sysctls:        map[string]string(s.Sysctls),
		CapabilityAdd:  s.CapAdd,
		CapabilityDrop: s.CapDrop,
		Hosts:          hosts(s.ExtraHosts),
	}
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		cs.StopGracePeriod = &d
	}
	if s.HealthCheck != nil {
		cs.Healthcheck = docker.HealthConfig(s.HealthCheck)
	}
	if len(s.DNS) > 0 || len(s.DNSSearch) > 0 || len(s.DNSOpts) > 0 {
		cs.DNSConfig = &swarm.DNSConfig{Search: s.DNSSearch, Options: s.DNSOpts}
		for _, d := range s.DNS {
			if a, err := netip.ParseAddr(d); err == nil {
				cs.DNSConfig.Nameservers = append(cs.DNSConfig.Nameservers, a)
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(s.Ulimits)) {
		u := s.Ulimits[n]
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		cs.Ulimits = append(cs.Ulimits, &container.Ulimit{Name: n, Soft: soft, Hard: hard})
	}
	var err error
	if cs.Mounts, err = mounts(p, name, s); err != nil {
		return swarm.ServiceSpec{}, fmt.Errorf("service %s: %w", name, err)
	}

	tt := swarm.TaskSpec{
		ContainerSpec: cs,
		RestartPolicy: restartPolicy(p, name),
		Resources:     resources(s),
		Placement:     &swarm.Placement{},
		Networks:      attachments(p, name),
	}
	if s.Logging != nil && s.Logging.Driver != "" {
		tt.LogDriver = &swarm.Driver{Name: s.Logging.Driver, Options: s.Logging.Options}
	}
	mode := swarm.ServiceMode{}
	if s.Deploy != nil {
		tt.Placement.Constraints = slices.Clone(s.Deploy.Placement.Constraints)
		tt.Placement.MaxReplicas = s.Deploy.Placement.MaxReplicas
		for _, pr := range s.Deploy.Placement.Preferences {
			tt.Placement.Preferences = append(tt.Placement.Preferences,
				swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: pr.Spread}})
		}
	}
	if pin != "" {
		tt.Placement.Constraints = append(tt.Placement.Constraints, "node.id=="+pin)
	}
	if s.Deploy != nil && s.Deploy.Mode == "global" {
		mode.Global = &swarm.GlobalService{}
	} else {
		n := uint64(engine.Replicas(p, name))
		mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
	}
	out := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: serviceName(p.Name, name), Labels: svcLabels},
		TaskTemplate: tt,
		Mode:         mode,
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR, Ports: ports(s)},
	}
	if s.Deploy != nil {
		out.UpdateConfig = updateConfig(s.Deploy.UpdateConfig)
		out.RollbackConfig = updateConfig(s.Deploy.RollbackConfig)
	}
	return out, nil
}

func hosts(h types.HostsList) []string {
	var out []string
	for _, host := range slices.Sorted(maps.Keys(h)) {
		for _, ip := range h[host] {
			out = append(out, ip+" "+host) // Swarm takes /etc/hosts lines
		}
	}
	return out
}

func resources(s types.ServiceConfig) *swarm.ResourceRequirements {
	r := &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: int64(s.MemLimit),
		NanoCPUs: int64(s.CPUS * 1e9), Pids: s.PidsLimit}, Reservations: &swarm.Resources{MemoryBytes: int64(s.MemReservation)}}
	if s.Deploy == nil {
		return r
	}
	if l := s.Deploy.Resources.Limits; l != nil {
		if l.MemoryBytes > 0 {
			r.Limits.MemoryBytes = int64(l.MemoryBytes)
		}
		if l.NanoCPUs > 0 {
			r.Limits.NanoCPUs = int64(float64(l.NanoCPUs) * 1e9)
		}
		if l.Pids > 0 {
			r.Limits.Pids = l.Pids
		}
	}
	if res := s.Deploy.Resources.Reservations; res != nil {
		if res.MemoryBytes > 0 {
			r.Reservations.MemoryBytes = int64(res.MemoryBytes)
		}
		if res.NanoCPUs > 0 {
			r.Reservations.NanoCPUs = int64(float64(res.NanoCPUs) * 1e9)
		}
		for _, g := range res.GenericResources {
			if d := g.DiscreteResourceSpec; d != nil {
				r.Reservations.GenericResources = append(r.Reservations.GenericResources,
					swarm.GenericResource{DiscreteResourceSpec: &swarm.DiscreteGenericResource{Kind: d.Kind, Value: d.Value}})
			}
		}
	}
	return r
}

func updateConfig(u *types.UpdateConfig) *swarm.UpdateConfig {
	if u == nil {
		return nil
	}
	out := &swarm.UpdateConfig{Parallelism: 1, Delay: time.Duration(u.Delay), FailureAction: swarm.FailureAction(u.FailureAction),
		Monitor: time.Duration(u.Monitor), MaxFailureRatio: u.MaxFailureRatio, Order: swarm.UpdateOrder(u.Order)}
	if u.Parallelism != nil {
		out.Parallelism = *u.Parallelism
	}
	return out
}

// ports publishes every port in host mode, on the node the task runs on: there is no routing mesh, so Compose's
// default (and explicit) ingress mode is taken as host.
func ports(s types.ServiceConfig) []swarm.PortConfig {
	var out []swarm.PortConfig
	for _, pc := range s.Ports {
		proto := network.IPProtocol(pc.Protocol)
		if proto == "" {
			proto = network.TCP
		}
		pub, _ := strconv.ParseUint(pc.Published, 10, 16) // refuse checked it
		out = append(out, swarm.PortConfig{Protocol: proto, TargetPort: pc.Target, PublishedPort: uint32(pub),
			PublishMode: swarm.PortConfigPublishModeHost})
	}
	return out
}

// attachments are the service's networks, each with the service's name (as docker stack names it there, so the
// other services reach it by its Compose name) and aliases; container_name, which Swarm cannot
// give a task, is one more alias, so services that reach it by that name still do (Load has already moved a
// fixed name to a network private to the project).
func attachments(p *engine.Project, name string) []swarm.NetworkAttachmentConfig {
	s := p.Services[name]
	var out []swarm.NetworkAttachmentConfig
	for _, key := range slices.Sorted(maps.Keys(s.Networks)) {
		if _, ok := p.Networks[key]; !ok {
			continue
		}
		a := swarm.NetworkAttachmentConfig{Target: networkName(p, key), Aliases: []string{name}}
		if cfg := s.Networks[key]; cfg != nil {
			a.Aliases = append(a.Aliases, cfg.Aliases...)
		}
		if s.ContainerName != "" && !slices.Contains(a.Aliases, s.ContainerName) {
			a.Aliases = append(a.Aliases, s.ContainerName)
		}
		out = append(out, a)
	}
	return out
}

// mounts are the service's volumes, configs and secrets. A named volume carries the project's labels so the node
// creating it labels it as a single engine would; configs and file secrets are binds of their files, as Compose
// mounts them outside Swarm; shm_size and tmpfs become tmpfs mounts.
func mounts(p *engine.Project, name string, s types.ServiceConfig) ([]mount.Mount, error) {
	ms, err := docker.Mounts(p, s)
	if err != nil {
		return nil, err
	}
	for i, m := range ms {
		if m.Type != mount.TypeVolume || m.Source == "" {
			continue
		}
		key := volumeKey(p, m.Source)
		v := p.Volumes[key]
		lbl := map[string]string{engine.LabelProject: p.Name, engine.LabelVolume: key, LabelNamespace: p.Name}
		maps.Copy(lbl, v.Labels)
		if ms[i].VolumeOptions == nil {
			ms[i].VolumeOptions = &mount.VolumeOptions{}
		}
		ms[i].VolumeOptions.Labels = lbl
		if v.Driver != "" {
			ms[i].VolumeOptions.DriverConfig = &mount.Driver{Name: v.Driver, Options: v.DriverOpts}
		}
	}
	cm, err := docker.ConfigMounts(p, s)
	if err != nil {
		return nil, err
	}
	ms = append(ms, cm...)
	for _, ref := range s.Secrets {
		sec, ok := p.Secrets[ref.Source]
		if !ok {
			return nil, fmt.Errorf("secret %q is not declared under secrets", ref.Source)
		}
		target := ref.Target
		if target == "" {
			target = ref.Source
		}
		if !path.IsAbs(target) {
			target = "/run/secrets/" + target
		}
		ms = append(ms, mount.Mount{Type: mount.TypeBind, Source: sec.File, Target: target, ReadOnly: true})
	}
	for _, t := range s.Tmpfs {
		target, _, _ := strings.Cut(t, ":")
		ms = append(ms, mount.Mount{Type: mount.TypeTmpfs, Target: target})
	}
	if s.ShmSize > 0 {
		ms = append(ms, mount.Mount{Type: mount.TypeTmpfs, Target: "/dev/shm",
			TmpfsOptions: &mount.TmpfsOptions{SizeBytes: int64(s.ShmSize)}})
	}
	return ms, nil
}

// volumeKey is the key in p.Volumes of the volume named name.
func volumeKey(p *engine.Project, name string) string {
	for k, v := range p.Volumes {
		if v.Name == name {
			return k
		}
	}
	return name
}

// keepsData: the service's data lives on the node it runs on (a named volume), or it binds files that exist only
// on this machine (binds, configs, secrets); either way it must not move.
func keepsData(ms []mount.Mount) (volume, bind bool) {
	for _, m := range ms {
		switch {
		case m.Type == mount.TypeVolume && m.Source != "":
			volume = true
		case m.Type == mount.TypeBind:
			bind = true
		}
	}
	return volume, bind
}

func sortedServices(p *engine.Project) []string {
	return slices.Sorted(maps.Keys(p.Services))
}
