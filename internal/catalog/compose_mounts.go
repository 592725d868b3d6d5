package catalog

import (
	"path"
	"strings"

	"github.com/compose-spec/compose-go/v2/format"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// harmlessBinds are host files a container may read without host power: the host's time zone.
var harmlessBinds = setOf("/etc/localtime", "/etc/timezone")

// dockerSockets are binds that hand a container control of the Docker Engine, and so of the host.
var dockerSockets = setOf("/var/run/docker.sock", "/run/docker.sock", "/var/run", "/run")

// checkMounts checks the bind mounts and env_file entries of enabled services: relative sources stay inside
// the project; absolute sources are returned as host-access reasons. A relative source missing from files is a
// warning: Compose (and the engine) creates it as an empty directory, unless create_host_path is false.
func checkMounts(c *composeDoc, env *envInfo, files map[string]string, p, w *problems) []string {
	var access []string
	lookup := env.lookup()
	for _, s := range c.services {
		if !s.Enabled {
			continue
		}
		_, vols := get(s.Node, "volumes")
		for _, item := range items(vols) {
			src, ro, ok := bindSource(item, lookup)
			if !ok {
				continue
			}
			if chosen := rawSource(s.Name, item); len(chosen) > 0 {
				access = append(access, chosen...) // wherever the setting points: nothing to check inside the project
				continue
			}
			if reason := checkBind(s.Name, src, ro, createsSource(item), item.Line, files, p, w); reason != "" {
				access = append(access, reason)
			}
		}
		_, envFiles := get(s.Node, "env_file")
		for _, item := range items(envFiles) {
			checkEnvFile(s.Name, item, lookup, files, p)
		}
	}
	return access
}

// bindSource returns the interpolated source of a bind mount entry (short or long syntax) and whether it is
// read-only; ok is false for named volumes, tmpfs and the like.
func bindSource(item *yaml.Node, lookup template.Mapping) (src string, ro, ok bool) {
	if item.Kind == yaml.MappingNode {
		_, t := get(item, "type")
		_, s := get(item, "source")
		_, r := get(item, "read_only")
		if t == nil || s == nil || interpolate(t.Value, lookup) != types.VolumeTypeBind {
			return "", false, false
		}
		return interpolate(s.Value, lookup), r != nil && r.Value == "true", true
	}
	v, err := format.ParseVolume(interpolate(item.Value, lookup))
	if err != nil || v.Type != types.VolumeTypeBind {
		return "", false, false
	}
	return v.Source, v.ReadOnly, true
}

// interpolate substitutes variables as Compose would; errors were reported by checkVariables.
func interpolate(s string, lookup template.Mapping) string {
	out, err := template.SubstituteWithOptions(s, lookup, template.WithoutLogging)
	if err != nil {
		return s
	}
	return out
}

// rawSource returns a host-access reason for a bind source built from settings: users change settings at
// install, so such a bind (a path to scan) may point anywhere on the host.
func rawSource(svc string, item *yaml.Node) []string {
	raw := item.Value
	if item.Kind == yaml.MappingNode {
		if _, s := get(item, "source"); s != nil {
			raw = s.Value
		}
	} else {
		raw = strings.Join(splitColons(raw)[:1], "")
	}
	var out []string
	for _, name := range refNames(raw) {
		if isSettingName(name) {
			out = append(out, "service "+svc+" binds a host path that the setting "+name+" chooses")
		}
	}
	return out
}

// createsSource reports whether a missing bind source is created: always for the short syntax, unless
// bind.create_host_path is false for the long one.
func createsSource(item *yaml.Node) bool {
	_, b := get(item, "bind")
	_, c := get(b, "create_host_path")
	return c == nil || c.Value != "false"
}

// checkBind checks one bind source; it returns the host-access reason for an absolute source.
func checkBind(svc, src string, ro, create bool, line int, files map[string]string, p, w *problems) string {
	if strings.HasPrefix(src, "/") || strings.HasPrefix(src, "~") || strings.HasPrefix(src, `\\`) {
		clean := path.Clean(src)
		switch {
		case harmlessBinds[clean] && ro:
			return ""
		case dockerSockets[clean]:
			return "service " + svc + " binds the Docker socket (" + src + ")"
		default:
			return "service " + svc + " binds the host path " + src
		}
	}
	clean := path.Clean(strings.ReplaceAll(src, `\`, "/"))
	switch {
	case clean == ".." || strings.HasPrefix(clean, "../"):
		p.add(ComposeFile, line, "service %s binds %s, which leaves the project directory; keep bind sources inside it", svc, src)
	case fileOrDir(clean, files):
	case !create:
		p.add(ComposeFile, line, "service %s: bind source %s is not in the template's files, and create_host_path is false; "+
			"add it to the files or fix the path", svc, src)
	default:
		w.add(ComposeFile, line, "service %s: bind source %s is not in the template's files, so it is created as an empty "+
			"directory in the project", svc, src)
	}
	return ""
}

// checkEnvFile accepts env_file entries that are .env or one of the stack's files.
func checkEnvFile(svc string, item *yaml.Node, lookup template.Mapping, files map[string]string, p *problems) {
	raw := item.Value
	if item.Kind == yaml.MappingNode {
		_, v := get(item, "path")
		if v == nil {
			return
		}
		raw = v.Value
	}
	name := interpolate(raw, lookup)
	clean := path.Clean(name)
	_, inFiles := files[clean]
	switch {
	case clean == EnvFile || inFiles && !path.IsAbs(name):
	case path.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../"):
		p.add(ComposeFile, item.Line, "service %s reads env_file %s, which is outside the project; use .env", svc, name)
	default:
		p.add(ComposeFile, item.Line, "service %s reads env_file %s, which is not in the template's files; use .env", svc, name)
	}
}
