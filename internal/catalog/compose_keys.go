package catalog

import (
	"cmp"
	"path"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"

	"go.yaml.in/yaml/v4"
)

// topLevelKeys are the compose file's supported top-level keys (x-* extensions are also allowed).
var topLevelKeys = setOf("version", "name", "services", "networks", "volumes", "configs")

// serviceKeys are the service keys the engine runs (x-* extensions are also allowed).
var serviceKeys = setOf("image", "container_name", "ports", "volumes", "environment", "env_file", "command",
	"entrypoint", "restart", "healthcheck", "logging", "depends_on", "networks", "user", "working_dir", "labels",
	"hostname", "domainname", "expose", "extra_hosts", "ulimits", "cap_add", "cap_drop", "privileged",
	"stop_grace_period", "stop_signal", "tmpfs", "shm_size", "security_opt", "sysctls", "tty", "stdin_open", "init",
	"mem_limit", "mem_reservation", "cpus", "cpu_shares", "cpuset", "pids_limit",
	"cpu_percent", // Windows-only; accepted because Linux engines ignore it
	"deploy", "links", "dns", "dns_search", "dns_opt", "network_mode", "pid", "ipc", "devices", "group_add",
	"read_only", "profiles", "attach", "platform", "pull_policy", "configs", "cgroup", "runtime", "build",
	"scale") // the legacy form of deploy.replicas

// unsupportedHints says what to do instead of a key StackHub does not run.
var unsupportedHints = map[string]string{
	"secrets":  "put the content in the stack's files or .env",
	"extends":  "write the service out in full",
	"include":  "put every service in this one docker-compose.yml",
	"models":   "run the model server as a service with an image",
	"provider": "run it as a service with an image",
	"develop":  "remove it; it only serves `docker compose watch`",
}

// setOf builds a set of strings.
func setOf(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// hint is the fix for an unsupported key.
func hint(key string) string {
	if h, ok := unsupportedHints[key]; ok {
		return h
	}
	return "remove it"
}

// checkStructure checks the keys StackHub supports and that every service has an image. It looks at every
// service, enabled or not: a profile only decides whether a service starts.
func checkStructure(c *composeDoc, p *problems) {
	for _, kv := range pairs(c.root) {
		if k := kv.Key.Value; !topLevelKeys[k] && !strings.HasPrefix(k, "x-") {
			p.add(ComposeFile, kv.Key.Line, "top-level key %q is not supported by StackHub; %s", k, hint(k))
		}
	}
	k, svcs := get(c.root, "services")
	switch {
	case svcs == nil || svcs.Kind == yaml.ScalarNode && svcs.Tag == "!!null" || len(c.services) == 0 && svcs.Kind == yaml.MappingNode:
		p.add(ComposeFile, 0, "no services are defined; add a services: section")
		return
	case svcs.Kind != yaml.MappingNode:
		p.add(ComposeFile, k.Line, "services must be a mapping of service names to their settings")
		return
	}
	for _, s := range c.services {
		checkService(s, p)
	}
}

// checkService checks one service's keys, deploy section and image.
func checkService(s service, p *problems) {
	if s.Node.Kind != yaml.MappingNode {
		p.add(ComposeFile, s.Line, "service %s must be a mapping of settings", s.Name)
		return
	}
	for _, kv := range pairs(s.Node) {
		k := kv.Key.Value
		switch {
		case strings.HasPrefix(k, "x-"):
		case !serviceKeys[k]:
			p.add(ComposeFile, kv.Key.Line, "service %s uses %q, which StackHub does not support; %s", s.Name, k, hint(k))
		case k == "deploy":
			checkDeploy(s.Name, kv.Value, p)
		}
	}
	_, build := get(s.Node, "build")
	if _, img := get(s.Node, "image"); build == nil && (img == nil || img.Kind != yaml.ScalarNode || strings.TrimSpace(img.Value) == "") {
		p.add(ComposeFile, s.Line, "service %s has no image; every service needs an image or a build section", s.Name)
	}
}

// deployKeys are the deploy paths the engine maps onto container resources, and the replica count.
var deployKeys = map[string]map[string]bool{
	"deploy":       setOf("resources", "replicas"),
	"resources":    setOf("limits", "reservations"),
	"limits":       setOf("cpus", "memory", "pids"),
	"reservations": setOf("cpus", "memory", "pids", "devices"),
}

// checkDeploy accepts only deploy.replicas, deploy.resources.limits/reservations with cpus, memory and pids, and
// reserved devices (GPUs, which are host access).
func checkDeploy(svc string, n *yaml.Node, p *problems) {
	var walk func(name, at string, n *yaml.Node)
	walk = func(name, at string, n *yaml.Node) {
		for _, kv := range pairs(n) {
			k := kv.Key.Value
			if strings.HasPrefix(k, "x-") {
				continue
			}
			if !deployKeys[name][k] {
				p.add(ComposeFile, kv.Key.Line, "service %s uses %q, which StackHub does not support; "+
					"only deploy.replicas, and deploy.resources.limits and reservations with cpus, memory and pids (and devices reserved) are", svc, at+"."+k)
				continue
			}
			if deployKeys[k] != nil {
				walk(k, at+"."+k, kv.Value)
			}
		}
	}
	walk("deploy", "deploy", n)
}

// checkPullPolicies checks each enabled service's pull_policy, once interpolated, is one Compose knows.
func checkPullPolicies(c *composeDoc, proj *types.Project, p *problems) {
	for _, s := range c.services {
		svc, ok := proj.Services[s.Name]
		if !ok {
			continue
		}
		policy, _, err := svc.GetPullPolicy()
		k, _ := get(s.Node, "pull_policy")
		line := s.Line
		if k != nil {
			line = k.Line
		}
		switch {
		case err != nil:
			p.add(ComposeFile, line, "service %s: %v; use always, missing, never, daily, weekly or every_<duration>", s.Name, err)
		case policy == types.PullPolicyBuild && svc.Build == nil:
			p.add(ComposeFile, line, "service %s: pull_policy build needs a build section; give an image to pull", s.Name)
		}
	}
}

// buildKeys are the build settings the engine passes to the Docker Engine's builder.
var buildKeys = setOf("context", "dockerfile", "dockerfile_inline", "args", "target", "labels")

// checkBuilds checks each enabled service's build section: its context is a folder of the stack's files (a remote
// context would be fetched from elsewhere), and its Dockerfile is one of them, or inline.
func checkBuilds(c *composeDoc, proj *types.Project, files map[string]string, p *problems) {
	for _, s := range c.services {
		k, node := get(s.Node, "build")
		svc, ok := proj.Services[s.Name]
		if node == nil || !ok || svc.Build == nil {
			continue
		}
		for _, kv := range pairs(node) {
			if !buildKeys[kv.Key.Value] && !strings.HasPrefix(kv.Key.Value, "x-") {
				p.add(ComposeFile, kv.Key.Line, "service %s uses build.%s, which StackHub does not support; "+
					"only context, dockerfile, dockerfile_inline, args, target and labels are", s.Name, kv.Key.Value)
			}
		}
		b := svc.Build
		ctx := path.Clean(strings.ReplaceAll(cmp.Or(b.Context, "."), `\`, "/"))
		switch {
		case strings.Contains(b.Context, "://") || strings.HasPrefix(b.Context, "git@"):
			p.add(ComposeFile, k.Line, "service %s builds from %s; a build context must be the template's own files", s.Name, b.Context)
			continue
		case path.IsAbs(ctx) || ctx == ".." || strings.HasPrefix(ctx, "../"):
			p.add(ComposeFile, k.Line, "service %s builds from %s, which is outside the project; keep the context inside it", s.Name, b.Context)
			continue
		case b.DockerfileInline != "":
			continue
		}
		df := path.Join(ctx, cmp.Or(b.Dockerfile, "Dockerfile"))
		if _, ok := files[df]; !ok {
			p.add(ComposeFile, k.Line, "service %s builds with %s, which is not in the template's files; add it", s.Name, df)
		}
	}
}

// checkReplicas refuses what Compose cannot run with several replicas of a service: one container_name for them
// all, and a fixed host port each replica would publish (the second fails on the port conflict). It runs before
// compose-go, whose own message for the first names neither the service nor the fix.
func checkReplicas(c *composeDoc, env *envInfo, p *problems) {
	lookup := env.lookup()
	for _, s := range c.services {
		key, n := replicas(s.Node, lookup)
		if n <= 1 {
			continue
		}
		if k, _ := get(s.Node, "container_name"); k != nil {
			p.add(ComposeFile, k.Line, "service %s sets container_name with %s: %d, but each replica needs its own "+
				"name; remove container_name (the replicas are named <project>-%s-1 to -%d)", s.Name, key, n, s.Name, n)
		}
		_, ports := get(s.Node, "ports")
		for _, item := range items(ports) {
			for _, pc := range portConfigs(item, lookup) {
				port, err := strconv.Atoi(pc.Published)
				if err != nil { // none, or a range: each replica gets a free port
					continue
				}
				p.add(ComposeFile, item.Line, "service %s publishes the fixed host port %d with %s: %d, so its "+
					"replicas would conflict on it; publish a host port range (such as \"%d-%d:%d\") or only "+
					"the container port (\"%d\")", s.Name, port, key, n, port, port+n-1, pc.Target, pc.Target)
			}
		}
	}
}

// replicas reads a service's replica count, interpolated, and the key that sets it: scale, else deploy.replicas;
// 1 when neither is set or the value is not a number (compose-go reports that).
func replicas(svc *yaml.Node, lookup template.Mapping) (key string, n int) {
	_, v := get(svc, "scale")
	key = "scale"
	if v == nil {
		_, d := get(svc, "deploy")
		_, v = get(d, "replicas")
		key = "deploy.replicas"
	}
	if v == nil || v.Kind != yaml.ScalarNode {
		return key, 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(interpolate(v.Value, lookup)))
	if err != nil {
		return key, 1
	}
	return key, n
}
