package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// storeStack builds the stack of an app read from another store (docs/stores.md §3): a Compose document held as
// plain maps while it is mapped, the .env lines it needs in order, the generated secrets and the notes on what
// was changed. Umbrel, Cosmos and Portainer share it.
type storeStack struct {
	doc     map[string]any
	envKeys []string
	env     map[string]string // key → .env value text, already quoted as it is written
	secrets []Secret
	notes   []string
}

func newStoreStack(doc map[string]any) *storeStack {
	return &storeStack{doc: doc, env: map[string]string{}}
}

// setEnv defines key in .env with the literal value v (quoted so dotenv reads back exactly v); the first
// definition wins.
func (b *storeStack) setEnv(key, v string) { b.setEnvRaw(key, quoteEnvValue(v)) }

// setEnvRaw defines key with value text written as is (it may refer to keys defined before it).
func (b *storeStack) setEnvRaw(key, text string) {
	if _, ok := b.env[key]; ok {
		return
	}
	b.envKeys = append(b.envKeys, key)
	b.env[key] = text
}

// secret defines key as a generated secret (empty in .env, filled at install).
func (b *storeStack) secret(key string, length int, encoding string) {
	if slices.ContainsFunc(b.secrets, func(s Secret) bool { return s.Name == key }) {
		return
	}
	b.setEnvRaw(key, "")
	b.secrets = append(b.secrets, Secret{Name: key, Length: length, Encoding: encoding})
}

func (b *storeStack) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(b.notes, n) {
		b.notes = append(b.notes, n)
	}
}

// services returns the document's services by name.
func (b *storeStack) services() map[string]map[string]any {
	out := map[string]map[string]any{}
	svcs, _ := b.doc["services"].(map[string]any)
	for name, v := range svcs {
		if m, ok := v.(map[string]any); ok {
			out[name] = m
		}
	}
	return out
}

// serviceNames returns the service names, sorted.
func (b *storeStack) serviceNames() []string {
	svcs, _ := b.doc["services"].(map[string]any)
	names := make([]string, 0, len(svcs))
	for n := range svcs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// nonVarRun is a run of characters an environment variable name cannot hold.
var nonVarRun = regexp.MustCompile(`[^A-Z0-9]+`)

// varName turns parts into an environment variable name part: uppercase, other characters "_".
func varName(parts ...string) string {
	return strings.Trim(nonVarRun.ReplaceAllString(strings.ToUpper(strings.Join(parts, "_")), "_"), "_")
}

// portSpec is a short-syntax port entry split into its parts: [ip:][host:]container[/proto].
type portSpec struct {
	ip, host, container, proto string
}

// parsePortSpec is parsePort as a portSpec; proto stays empty when s names none, so String gives s back.
func parsePortSpec(s string) portSpec {
	ip, host, container, proto := parsePort(s)
	if !strings.Contains(s, "/") {
		proto = ""
	}
	return portSpec{ip: ip, host: host, container: container, proto: proto}
}

func (p portSpec) String() string {
	s := p.container
	if p.host != "" || p.ip != "" {
		s = p.host + ":" + s
	}
	if p.ip != "" {
		s = p.ip + ":" + s
	}
	if p.proto != "" {
		s += "/" + p.proto
	}
	return s
}

// bookPorts turns every published host port that is a plain number into a booked *_PORT_SET setting whose
// default is that number: the main service's mainTarget port is W9_HTTP_PORT_SET (the web port, with
// W9_HTTP_PORT its container side and W9_URL), the others W9_<SERVICE>_<PORT>[_UDP]_PORT_SET. With bookBare, a
// port with only a container side ("3306/tcp", Portainer's) is booked too, by its own number. Ranges and
// variables stay as they are: the engine books them as fixed ports.
func (b *storeStack) bookPorts(main, mainTarget string, bookBare bool) {
	svcs := b.services()
	for _, name := range b.serviceNames() {
		svc := svcs[name]
		list, _ := svc["ports"].([]any)
		for i, item := range list {
			switch v := item.(type) {
			case string:
				p := parsePortSpec(v)
				if p.host == "" && (!bookBare || !isPortNumber(p.container)) || p.host != "" && !isPortNumber(p.host) ||
					!isPortNumber(p.container) {
					continue
				}
				def := p.host
				if def == "" {
					def = p.container
				}
				p.host = "${" + b.portVar(name, p.container, p.proto, name == main && p.container == mainTarget, def) + "}"
				list[i] = p.String()
			case map[string]any:
				pub := fmt.Sprint(v["published"])
				target := fmt.Sprint(v["target"])
				proto, _ := v["protocol"].(string)
				if !isPortNumber(pub) || !isPortNumber(target) {
					continue
				}
				v["published"] = "${" + b.portVar(name, target, proto, name == main && target == mainTarget, pub) + "}"
			}
		}
	}
}

// portVar defines and returns the setting booking one host port.
func (b *storeStack) portVar(service, target, proto string, web bool, def string) string {
	if web && proto != "udp" {
		if _, ok := b.env["W9_HTTP_PORT_SET"]; !ok {
			b.setEnv("W9_HTTP_PORT_SET", def)
			b.setEnv("W9_HTTP_PORT", target)
			b.setEnv(VarURL, "")
			return "W9_HTTP_PORT_SET"
		}
	}
	name := "W9_" + varName(service, target)
	if proto == "udp" {
		name += "_UDP"
	}
	name += PortSuffix
	for i := 2; ; i++ { // the same port published twice (on two addresses) gets its own setting
		if _, taken := b.env[name]; !taken {
			break
		}
		name = strings.TrimSuffix(name, PortSuffix)
		name = strings.TrimSuffix(name, "_"+strconv.Itoa(i-1)) + "_" + strconv.Itoa(i) + PortSuffix
	}
	b.setEnv(name, def)
	return name
}

// publishWeb publishes the main service's web port on W9_HTTP_PORT_SET (default def) when no port of it is
// published yet: how a store that names its web port without publishing it (Umbrel's app_proxy, Cosmos's routes)
// gets the host's port and Open link.
func (b *storeStack) publishWeb(main, target, def string) {
	if _, ok := b.env["W9_HTTP_PORT_SET"]; ok {
		return
	}
	svc := b.services()[main]
	if svc == nil || svc["network_mode"] != nil {
		return
	}
	list, _ := svc["ports"].([]any)
	svc["ports"] = append(list, "${W9_HTTP_PORT_SET}:"+target)
	b.setEnv("W9_HTTP_PORT_SET", def)
	b.setEnv("W9_HTTP_PORT", target)
	b.setEnv(VarURL, "")
}

// envText is the .env, in definition order.
func (b *storeStack) envText() string {
	var s strings.Builder
	for _, k := range b.envKeys {
		s.WriteString(k + "=" + b.env[k] + "\n")
	}
	return s.String()
}

// finish marshals the document and validates the stack as the administrator's template; any problem is the
// refusal reason.
func (b *storeStack) finish(t *Template, files Files) error {
	if !slices.ContainsFunc(b.envKeys, func(k string) bool { return k == VarVersion }) {
		b.envKeys = append([]string{VarVersion}, b.envKeys...)
		b.env[VarVersion] = quoteEnvValue(t.Versions[0])
	}
	out, err := yaml.Marshal(b.doc)
	if err != nil {
		return fmt.Errorf("write the compose file: %w", err)
	}
	if len(files) == 0 {
		files = nil
	}
	t.Stack = Stack{Compose: string(out), Env: b.envText(), Files: files, Secrets: b.secrets}
	t.Notes = append(t.Notes, b.notes...)
	if t.Name == "" {
		t.Name = t.Key
	}
	return Validate(&t.Stack, ValidateOptions{AllowHostAccess: true, MaxSize: MaxImportSize})
}

// imageVersion is the tag of an image reference when it is a valid version ("1.2" of "org/app:1.2@sha256:..."),
// else "latest".
func imageVersion(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		if tag := image[i+1:]; tagPattern.MatchString(tag) {
			return tag
		}
	}
	return "latest"
}

// escapeDollars escapes every "$" of s for Compose, which would otherwise read it as a variable: for stores
// whose values are literal (Cosmos, Portainer run containers through the API, with no interpolation).
func escapeDollars(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// hostPaths are the host paths a bind keeps as they are (host access, listed by validation): the Docker socket,
// devices, kernel and clock files name the host's own, not the app's data.
var hostPaths = []string{"/var/run/docker.sock", "/run/docker.sock", "/dev", "/proc", "/sys", "/etc/localtime",
	"/etc/timezone", "/lib/modules", "/run/udev", "/var/run/dbus", "/run/dbus", "/var/lib/docker", "/etc/hostname",
	"/etc/os-release", "/etc/machine-id", "/usr/share/zoneinfo", "/boot"}

// isHostPath reports whether an absolute bind source is one of hostPaths or inside one.
func isHostPath(src string) bool {
	return slices.ContainsFunc(hostPaths, func(h string) bool { return src == h || strings.HasPrefix(src, h+"/") })
}

// dataPath is the project-relative path ("./data/...") that an absolute host path of a store's app becomes:
// the per-install data directory, which the engine creates.
func dataPath(src string) string {
	parts := strings.FieldsFunc(src, func(r rune) bool { return r == '/' })
	var keep []string
	for _, p := range parts {
		if p == "." || p == ".." || p == "" {
			continue
		}
		keep = append(keep, p)
	}
	if len(keep) == 0 {
		return "./data"
	}
	return "./data/" + strings.Join(keep, "/")
}

// mapVolumes rewrites every service's volume entries with fn(source, isBind) → new source; named volumes a
// service uses are declared at the top level when missing.
func (b *storeStack) mapVolumes(fn func(src string, bind bool) string) {
	svcs := b.services()
	for _, name := range b.serviceNames() {
		list, _ := svcs[name]["volumes"].([]any)
		for i, item := range list {
			switch v := item.(type) {
			case string:
				src, rest, ok := strings.Cut(v, ":")
				if !ok {
					continue // an anonymous volume
				}
				bind := strings.HasPrefix(src, "/") || strings.HasPrefix(src, ".") || strings.HasPrefix(src, "~") ||
					strings.HasPrefix(src, "$")
				if n := fn(src, bind); n != src {
					list[i] = n + ":" + rest
				}
				if !bind {
					b.declareVolume(fn(src, false))
				}
			case map[string]any:
				src, _ := v["source"].(string)
				typ, _ := v["type"].(string)
				if src == "" {
					continue
				}
				if typ == "bind" || typ == "" && strings.HasPrefix(src, "/") {
					v["source"] = fn(src, true)
				} else if typ == "volume" || typ == "" {
					v["source"] = fn(src, false)
					b.declareVolume(v["source"].(string))
				}
			}
		}
	}
}

// declareVolume adds a top-level named volume when the document does not declare it.
func (b *storeStack) declareVolume(name string) {
	if name == "" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "/") || strings.Contains(name, "$") {
		return
	}
	vols, _ := b.doc["volumes"].(map[string]any)
	if vols == nil {
		vols = map[string]any{}
		b.doc["volumes"] = vols
	}
	if _, ok := vols[name]; !ok {
		vols[name] = nil
	}
}

// swarmDeployKeys are the deploy keys only Swarm runs; the engine runs replicas and resources.
var swarmDeployKeys = []string{"mode", "placement", "restart_policy", "update_config", "rollback_config", "labels",
	"endpoint_mode"}

// dropSwarmKeys removes what only Docker Swarm runs (deploy placement, restart policy, update settings) with a
// note: a stack written for Swarm runs the same containers under Compose without them.
func (b *storeStack) dropSwarmKeys() {
	svcs := b.services()
	for _, name := range b.serviceNames() {
		d, _ := svcs[name]["deploy"].(map[string]any)
		for _, k := range swarmDeployKeys {
			if _, ok := d[k]; ok {
				delete(d, k)
				b.note("service %s: deploy.%s is for Docker Swarm and was dropped", name, k)
			}
		}
		if d != nil && len(d) == 0 {
			delete(svcs[name], "deploy")
		}
	}
}
