package catalog

import (
	"strings"

	"go.yaml.in/yaml/v4"
)

// varHTTPPortSet is the setting of the main web port (catalog.md, "Variable naming").
const varHTTPPortSet = "W9_HTTP_PORT_SET"

// MainService names the stack's main service, the one the app is: the service that publishes the main web port
// (its ports use W9_HTTP_PORT_SET), else the one named ${W9_ID} (the catalog's convention for the main
// container), else the first service in the file. "" when the compose text has no service.
func MainService(s Stack) string {
	c, err := parseCompose(s.Compose)
	if err != nil || len(c.services) == 0 {
		return ""
	}
	for _, svc := range c.services {
		_, ports := get(svc.Node, "ports")
		for _, item := range items(ports) {
			if strings.Contains(rawText(item), varHTTPPortSet) {
				return svc.Name
			}
		}
	}
	for _, svc := range c.services {
		if _, n := get(svc.Node, "container_name"); n != nil && n.Kind == yaml.ScalarNode {
			if v := strings.TrimSpace(n.Value); v == "$"+VarID || v == "${"+VarID+"}" {
				return svc.Name
			}
		}
	}
	return c.services[0].Name
}

// rawText is a port item's text: a short-syntax scalar, or the values of a long-syntax mapping.
func rawText(n *yaml.Node) string {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	var b strings.Builder
	for _, kv := range pairs(n) {
		b.WriteString(kv.Value.Value + " ")
	}
	return b.String()
}

// MainImage is the app's identity in a store (docs/stores.md §2): the image repository of its main service, with
// the .env's values substituted, without tag or digest, and with Docker Hub's implicit parts removed
// ("docker.io/library/wordpress:6.9" → "wordpress"), lowercase. "" when it cannot be told (no image, or a
// variable that the .env does not define).
func MainImage(s Stack) string {
	main := MainService(s)
	if main == "" {
		return ""
	}
	c, err := parseCompose(s.Compose)
	if err != nil {
		return ""
	}
	svc, _ := c.lookup(main)
	_, img := get(svc.Node, "image")
	if img == nil || img.Kind != yaml.ScalarNode {
		return ""
	}
	env, err := resolveEnv(s.Env)
	if err != nil {
		env = map[string]string{}
	}
	ref := interpolate(img.Value, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	return ImageRepository(ref)
}

// ImageRepository is an image reference's repository, normalised as MainImage says; "" when the reference still
// holds a variable.
func ImageRepository(ref string) string {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if ref == "" || strings.Contains(ref, "$") {
		return ""
	}
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i] // a tag, not a registry's port
	}
	for _, hub := range []string{"docker.io/", "index.docker.io/", "registry-1.docker.io/"} {
		ref = strings.TrimPrefix(ref, hub)
	}
	return strings.TrimPrefix(ref, "library/")
}

// ImagePath is an image repository (as ImageRepository gives it) without its registry host: the first path part
// when it names a host (it holds a dot or a port, or is localhost), then Docker Hub's "library/". Projects publish
// the same image to several registries (Docker Hub, ghcr.io, lscr.io, quay.io, their own) and stores pick
// different ones, so two stores' apps are the same app when their images' paths are equal
// ("lscr.io/linuxserver/bookstack" and "linuxserver/bookstack").
func ImagePath(repo string) string {
	if host, rest, ok := strings.Cut(repo, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		repo = rest
	}
	return strings.TrimPrefix(repo, "library/")
}
