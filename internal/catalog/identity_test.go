package catalog

import "testing"

func TestMainImage(t *testing.T) {
	for _, tc := range []struct{ name, compose, env, service, image string }{
		{"the service publishing W9_HTTP_PORT_SET", `services:
  db:
    image: mariadb:11
  app:
    image: docker.io/library/WordPress:$W9_VERSION
    ports: ["${W9_HTTP_PORT_SET}:80"]
`, "W9_VERSION=6.9\n", "app", "wordpress"},
		{"long port syntax", `services:
  db:
    image: postgres
  web:
    image: ghcr.io/acme/web@sha256:abc
    ports:
      - target: 80
        published: $W9_HTTP_PORT_SET
`, "", "web", "ghcr.io/acme/web"},
		{"container_name $W9_ID", `services:
  worker:
    image: redis
  main:
    container_name: ${W9_ID}
    image: $REPO:1.0
`, "REPO=registry.example:5000/team/main\n", "main", "registry.example:5000/team/main"},
		{"the first service", `services:
  b:
    image: nginx:1.27
  a:
    image: httpd
`, "", "b", "nginx"},
		{"an image from an undefined variable", `services:
  a:
    image: ${NOPE}:1
`, "", "a", ""},
		{"a build", `services:
  a:
    build: .
`, "", "a", ""},
	} {
		s := Stack{Compose: tc.compose, Env: tc.env}
		if got := MainService(s); got != tc.service {
			t.Errorf("%s: main service %q, want %q", tc.name, got, tc.service)
		}
		if got := MainImage(s); got != tc.image {
			t.Errorf("%s: main image %q, want %q", tc.name, got, tc.image)
		}
	}
}

// The same project from two registries has one path; a different owner or name does not.
func TestImagePath(t *testing.T) {
	for repo, want := range map[string]string{
		"lscr.io/linuxserver/bookstack":         "linuxserver/bookstack",
		"linuxserver/bookstack":                 "linuxserver/bookstack",
		"ghcr.io/miniflux/miniflux":             "miniflux/miniflux",
		"docker.n8n.io/n8nio/n8n":               "n8nio/n8n",
		"registry.example:5000/team/main":       "team/main",
		"localhost/app":                         "app",
		"quay.io/library/nginx":                 "nginx",
		"nginx":                                 "nginx",
		"acme/web":                              "acme/web", // "acme" is an owner, not a host
		"ghcr.io/acme/web":                      "acme/web",
		"":                                      "",
		"registry.gitlab.com/group/sub/project": "group/sub/project",
	} {
		if got := ImagePath(repo); got != want {
			t.Errorf("ImagePath(%q) = %q, want %q", repo, got, want)
		}
	}
}
