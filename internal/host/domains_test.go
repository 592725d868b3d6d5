package host

import (
	"testing"

	"github.com/stackhub/stackhub/internal/store"
)

// TestAppURL pins the one W9_URL rule: no scheme (the Websoft9 templates write `http://$W9_URL` themselves),
// the oldest non-wildcard route's domain and path, else the address and web port, the port left out when the
// template says W9_URL_WITH_PORT=false; an admin's W9_URL wins over the address, not over a domain.
func TestAppURL(t *testing.T) {
	s := &Service{cfg: Config{PublicAddress: "192.0.2.7"}}
	route := func(domain, path string) store.Route { return store.Route{Domain: domain, Path: path} }
	cases := []struct {
		name   string
		routes []store.Route
		env    string
		port   string
		given  string
		want   string
	}{
		{"address and port", nil, "W9_URL=appname.example.com\n", "9001", "", "192.0.2.7:9001"},
		{"no web port", nil, "", "", "", "192.0.2.7"},
		{"without port", nil, "W9_URL='internet_ip'\nW9_URL_WITH_PORT=false\n", "9001", "", "192.0.2.7"},
		{"given", nil, "", "9001", "wiki.lan:8080", "wiki.lan:8080"},
		{"domain", []store.Route{route("blog.example.com", "/")}, "", "9001", "wiki.lan", "blog.example.com"},
		{"domain and path", []store.Route{route("example.com", "/blog")}, "", "9001", "", "example.com/blog"},
		{"wildcard skipped", []store.Route{route("*.example.com", "/"), route("www.example.com", "/")}, "", "9001", "", "www.example.com"},
		{"only a wildcard", []store.Route{route("*.example.com", "/")}, "", "9001", "", "192.0.2.7:9001"},
	}
	for _, c := range cases {
		if got := s.appURL(c.routes, c.env, c.port, c.given); got != c.want {
			t.Errorf("%s: W9_URL = %q, want %q", c.name, got, c.want)
		}
	}
}
