package catalog

import (
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"

	"go.yaml.in/yaml/v4"
)

// checkPorts checks the host ports of enabled services and returns the fixed ones. A port published through a
// *_PORT_SET variable defined in .env is a setting the engine books; any other host port (a number, or a variable
// without that suffix, or one only a :-default gives) is fixed: the engine books it at install too, and refuses
// the install only when it is taken. A port with no host part is fine: Docker picks a free one.
func checkPorts(c *composeDoc, env *envInfo, w *problems) []string {
	var fixed []string
	lookup := env.lookup()
	for _, s := range c.services {
		if !s.Enabled {
			continue
		}
		_, ports := get(s.Node, "ports")
		for _, item := range items(ports) {
			host, line := hostPort(item)
			if checkHostPort(s.Name, host, line, env, w) {
				fixed = append(fixed, fixedPorts(s.Name, item, lookup)...)
			}
		}
	}
	return fixed
}

// fixedPorts describes the host ports of one port entry as "service S publishes host port N/proto".
func fixedPorts(svc string, item *yaml.Node, lookup template.Mapping) []string {
	var out []string
	for _, pc := range portConfigs(item, lookup) {
		if pc.Published == "" {
			continue
		}
		proto := pc.Protocol
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, fmt.Sprintf("service %s publishes host port %s/%s", svc, pc.Published, proto))
	}
	return out
}

// portConfigs reads one port entry (short or long syntax), interpolated; a malformed one reads as none (compose-go
// reports it).
func portConfigs(item *yaml.Node, lookup template.Mapping) []types.ServicePortConfig {
	var cfgs []types.ServicePortConfig
	if item.Kind == yaml.MappingNode {
		_, pub := get(item, "published")
		_, proto := get(item, "protocol")
		pc := types.ServicePortConfig{Protocol: "tcp"}
		if pub != nil {
			pc.Published = interpolate(pub.Value, lookup)
		}
		if proto != nil {
			pc.Protocol = interpolate(proto.Value, lookup)
		}
		cfgs = []types.ServicePortConfig{pc}
	} else {
		cfgs, _ = types.ParsePortConfig(interpolate(item.Value, lookup))
	}
	return cfgs
}

// hostPort returns the raw host part of a port entry (short or long syntax) and its line; "" when none.
func hostPort(item *yaml.Node) (string, int) {
	if item.Kind == yaml.MappingNode {
		k, v := get(item, "published")
		if v == nil || v.Kind != yaml.ScalarNode {
			return "", item.Line
		}
		return v.Value, k.Line
	}
	return shortHostPort(item.Value), item.Line
}

// shortHostPort returns HOST of "[IP:]HOST:CONTAINER[/proto]", splitting on colons outside ${...} and
// keeping a bracketed IPv6 address whole.
func shortHostPort(spec string) string {
	if strings.HasPrefix(spec, "[") {
		if i := strings.Index(spec, "]:"); i >= 0 {
			parts := splitColons(spec[i+2:])
			if len(parts) >= 2 {
				return parts[0]
			}
			return ""
		}
	}
	parts := splitColons(spec)
	switch len(parts) {
	case 2:
		return parts[0]
	case 3:
		return parts[1]
	}
	return ""
}

// splitColons splits s on ':' that are not inside a ${...} reference.
func splitColons(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}' && depth > 0:
			depth--
		case s[i] == ':' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// checkHostPort checks one raw host port and reports whether it is fixed (not a booked port setting).
func checkHostPort(svc, host string, line int, env *envInfo, w *problems) bool {
	if host == "" {
		return false
	}
	r, ok := singleRef(host)
	switch {
	case !ok || !strings.HasSuffix(r.Name, PortSuffix) || !env.defined[r.Name] && r.HasDefault:
		return true
	case !env.defined[r.Name]:
		w.add(ComposeFile, line, "service %s publishes host port ${%s}, which .env does not define, so Docker "+
			"picks a free port; define it there with the default port so the engine can book it", svc, r.Name)
	}
	return false
}
