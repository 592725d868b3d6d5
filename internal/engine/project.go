package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// Compose's own labels, so `docker compose ls/ps` see StackHub's projects.
const (
	LabelProject    = "com.docker.compose.project"
	LabelService    = "com.docker.compose.service"
	LabelNumber     = "com.docker.compose.container-number"
	LabelOneoff     = "com.docker.compose.oneoff"
	LabelWorkingDir = "com.docker.compose.project.working_dir"
	LabelConfigFile = "com.docker.compose.project.config_files"
	LabelNetwork    = "com.docker.compose.network"
	LabelVolume     = "com.docker.compose.volume"
	LabelVersion    = "com.docker.compose.version"
	LabelDependsOn  = "com.docker.compose.depends_on"
	LabelConfigHash = "com.docker.compose.config-hash"
	// LabelManaged marks resources StackHub created outside a project, such as a missing external network.
	LabelManaged = "io.stackhub.managed"
	// LabelCreatedBy names the project whose Up created a shared network.
	LabelCreatedBy = "io.stackhub.created-by"
	// LabelApp, LabelInstance and LabelAppVersion are on every container of an app instance, so the instances
	// of an app can be found with docker ps --filter.
	LabelApp        = "io.stackhub.app"
	LabelInstance   = "io.stackhub.instance"
	LabelAppVersion = "io.stackhub.version"
	// LabelReplicas is on the containers of a service with deploy.replicas (or scale) other than 1: how many the
	// service runs, so a status can tell that one was removed.
	LabelReplicas = "io.stackhub.replicas"
)

// ComposeFile is the file name of a rendered project.
const ComposeFile = "docker-compose.yml"

// Load reads dir/docker-compose.yml with dir/.env as its environment, as project name.
func Load(ctx context.Context, name, dir string) (*Project, error) {
	env, err := ReadEnvFile(filepath.Join(dir, ".env"))
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, ComposeFile)
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: file}},
		Environment: env,
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(name, true)
		o.ResolvePaths = true
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	isolateFixedNames(p)
	if err := tagBuilds(p); err != nil {
		return nil, err
	}
	return p, nil
}

// PrivateNetwork is the key, in a project's networks, of the network isolateFixedNames adds.
const PrivateNetwork = "stackhub_private"

// isolateFixedNames gives every container StackHub's name, so two installs of a template never collide: a
// container_name that is not the project's name and does not start with "<project>-" (a fixed name such as
// monkeycode-db) becomes <project>-<service>, and the fixed name becomes that container's alias on a network
// private to the project, which every service joins, so the other services still reach it by that name. The
// alias is not put on shared networks (W9_NETWORK), where another install's container would answer to it too.
// Services with a network_mode cannot join networks; they keep their own name.
func isolateFixedNames(p *Project) {
	aliases := map[string]string{}
	for name, s := range p.Services {
		cn := s.ContainerName
		if cn == "" || cn == p.Name || strings.HasPrefix(cn, p.Name+"-") || s.NetworkMode != "" {
			continue
		}
		aliases[name] = cn
		s.ContainerName = p.Name + "-" + name
		p.Services[name] = s
	}
	if len(aliases) == 0 {
		return
	}
	if p.Networks == nil {
		p.Networks = types.Networks{}
	}
	p.Networks[PrivateNetwork] = types.NetworkConfig{Name: p.Name + "_" + PrivateNetwork}
	for name, s := range p.Services {
		if s.NetworkMode != "" {
			continue
		}
		cfg := &types.ServiceNetworkConfig{}
		if a, ok := aliases[name]; ok {
			cfg.Aliases = []string{a}
		}
		if s.Networks == nil {
			s.Networks = map[string]*types.ServiceNetworkConfig{}
		}
		s.Networks[PrivateNetwork] = cfg
		p.Services[name] = s
	}
}

// ReadEnvFile parses a .env file; a missing file is an empty environment.
func ReadEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	env, err := dotenv.ParseWithLookup(f, func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return env, nil
}

// Order returns the service names so that each comes after everything it depends on; ties sort by name so the
// order is stable. A cycle is an error.
func Order(p *Project) ([]string, error) {
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var visit func(n string, path []string) error
	visit = func(n string, path []string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("services depend on each other in a cycle: %v", append(path, n))
		case 2:
			return nil
		}
		state[n] = 1
		deps := make([]string, 0, len(p.Services[n].DependsOn))
		for d := range p.Services[n].DependsOn {
			if _, ok := p.Services[d]; !ok {
				return fmt.Errorf("service %s depends on %s, which is not defined", n, d)
			}
			deps = append(deps, d)
		}
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, append(path, n)); err != nil {
				return err
			}
		}
		state[n] = 2
		out = append(out, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ContainerName is the name of a service's first container: container_name, or Compose's <project>-<service>-1.
func ContainerName(p *Project, service string) string {
	return ReplicaName(p, service, 1)
}

// Replicas is how many containers a service runs, as Compose: scale, else deploy.replicas, else 1.
func Replicas(p *Project, service string) int {
	s := p.Services[service]
	return s.GetScale()
}

// ReplicaName is the name of a service's container number n (from 1): container_name (which Compose allows only
// with one replica), or Compose's <project>-<service>-<n>.
func ReplicaName(p *Project, service string, n int) string {
	if cn := p.Services[service].ContainerName; cn != "" {
		return cn
	}
	return p.Name + "-" + service + "-" + strconv.Itoa(n)
}

// ConfigHash fingerprints a service's configuration, so an upgrade recreates only the services that changed.
// The replica count is part of it (Compose leaves it out): a changed count recreates the service's containers, so
// all of them carry the same LabelReplicas, which Status compares with the containers there are.
func ConfigHash(p *Project, service string) string {
	b, err := json.Marshal(p.Services[service])
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ContainerLabels are the labels of a service's container number n (from 1): its own, then Compose's, then extra.
func ContainerLabels(p *Project, service string, n int, extra map[string]string) map[string]string {
	s := p.Services[service]
	l := map[string]string{}
	for k, v := range s.Labels {
		l[k] = v
	}
	deps := make([]string, 0, len(s.DependsOn))
	for d, c := range s.DependsOn { // Compose's format, which `docker compose -p <name> down` parses
		deps = append(deps, fmt.Sprintf("%s:%s:%t", d, c.Condition, c.Restart))
	}
	slices.Sort(deps)
	l[LabelProject] = p.Name
	l[LabelService] = service
	l[LabelNumber] = strconv.Itoa(n)
	if r := Replicas(p, service); r != 1 {
		l[LabelReplicas] = strconv.Itoa(r)
	}
	l[LabelOneoff] = "False"
	l[LabelWorkingDir] = p.WorkingDir
	l[LabelConfigFile] = filepath.Join(p.WorkingDir, ComposeFile)
	l[LabelVersion] = "stackhub"
	l[LabelConfigHash] = ConfigHash(p, service)
	if len(deps) > 0 {
		l[LabelDependsOn] = strings.Join(deps, ",")
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// BindPorts publishes every port of p on the host address ip, unless the port names its own host_ip (Compose's
// `ip:host:container` form); an empty ip leaves them on every interface.
func BindPorts(p *Project, ip string) {
	if ip == "" {
		return
	}
	for name, svc := range p.Services {
		for i := range svc.Ports {
			if svc.Ports[i].HostIP == "" && svc.Ports[i].Published != "" {
				svc.Ports[i].HostIP = ip
			}
		}
		p.Services[name] = svc
	}
}
