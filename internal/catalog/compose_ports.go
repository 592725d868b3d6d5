package catalog

import (
	"strings"

	"go.yaml.in/yaml/v4"
)

// checkPorts checks that enabled services publish host ports only through *_PORT_SET variables defined in
// .env, which the engine books before install. A port with no host part is fine: Docker picks a free one.
func checkPorts(c *composeDoc, env *envInfo, p, w *problems) {
	for _, s := range c.services {
		if !s.Enabled {
			continue
		}
		_, ports := get(s.Node, "ports")
		for _, item := range items(ports) {
			host, line := hostPort(item)
			checkHostPort(s.Name, host, line, env, p, w)
		}
	}
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

// checkHostPort checks one raw host port.
func checkHostPort(svc, host string, line int, env *envInfo, p, w *problems) {
	if host == "" {
		return
	}
	r, ok := singleRef(host)
	switch {
	case !ok:
		p.add(ComposeFile, line, "service %s publishes host port %s directly; use a variable such as ${W9_HTTP%s}",
			svc, host, PortSuffix)
	case !strings.HasSuffix(r.Name, PortSuffix):
		p.add(ComposeFile, line, "service %s publishes a host port through ${%s}, which the engine cannot book; "+
			"name the variable with the %s suffix, such as ${W9_%s%s}", svc, r.Name, PortSuffix,
			strings.TrimPrefix(strings.TrimSuffix(r.Name, "_PORT"), "W9_"), PortSuffix)
	case !env.defined[r.Name] && r.HasDefault:
		p.add(ComposeFile, line, "service %s publishes host port ${%s}, which .env does not define; "+
			"define it there with the default port so the engine can book it", svc, r.Name)
	case !env.defined[r.Name]:
		w.add(ComposeFile, line, "service %s publishes host port ${%s}, which .env does not define, so Docker "+
			"picks a free port; define it there with the default port so the engine can book it", svc, r.Name)
	}
}
