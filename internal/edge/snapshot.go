package edge

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"

	"github.com/stackhub/stackhub/internal/store"
)

// entry is one route ready to serve: its parsed access rules and where its app answers.
type entry struct {
	route    store.Route
	users    []basicUser
	allow    []netip.Prefix
	upstream string // host:port; "" when it could not be found (upErr says why)
	upErr    string
}

// basicUser is one `basic` access account as stored: the name and its argon2id hash.
type basicUser struct {
	User string `json:"user"`
	Hash string `json:"hash"`
}

// snapshot is the route table in memory: requests read it without touching the database.
type snapshot struct {
	exact map[string][]*entry // domain → its routes, longest path first
	wild  map[string][]*entry // "example.com" → the routes of "*.example.com"
}

// build parses routes and resolves their upstreams once, so a request only reads maps.
func (e *Edge) build(ctx context.Context, routes []store.Route) *snapshot {
	s := &snapshot{exact: map[string][]*entry{}, wild: map[string][]*entry{}}
	for _, r := range routes {
		en := &entry{route: r}
		_ = json.Unmarshal([]byte(r.BasicUsers), &en.users)
		var allow []string
		_ = json.Unmarshal([]byte(r.Allow), &allow)
		for _, a := range allow {
			if p, err := parseCIDR(a); err == nil {
				en.allow = append(en.allow, p)
			}
		}
		up, err := e.host.Upstream(ctx, r.Instance, r.Service, r.Port)
		if err != nil {
			en.upErr = err.Error()
		}
		en.upstream = up
		m, name := s.exact, r.Domain
		if rest, ok := strings.CutPrefix(r.Domain, "*."); ok {
			m, name = s.wild, rest
		}
		m[name] = append(m[name], en)
	}
	for _, m := range []map[string][]*entry{s.exact, s.wild} {
		for _, es := range m {
			slices.SortStableFunc(es, func(a, b *entry) int { return len(b.route.Path) - len(a.route.Path) })
		}
	}
	return s
}

// lookup finds the route of host (lowercase, no port) and path: an exact name before a wildcard, then the
// longest path prefix.
func (s *snapshot) lookup(host, path string) *entry {
	if en := match(s.exact[host], path); en != nil {
		return en
	}
	if _, parent, ok := strings.Cut(host, "."); ok {
		return match(s.wild[parent], path)
	}
	return nil
}

func match(es []*entry, path string) *entry {
	for _, en := range es {
		if pathUnder(path, en.route.Path) {
			return en
		}
	}
	return nil
}

// pathUnder reports whether path is prefix or below it: "/app" covers "/app" and "/app/x", not "/apple".
func pathUnder(path, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// names is the set of names to hold certificates for: every routed name whose https is not off, and StackHub's
// own domain (auto).
func (s *snapshot) names(domain string) map[string]string {
	out := map[string]string{}
	if domain != "" {
		out[domain] = "auto"
	}
	add := func(name string, es []*entry) {
		for _, en := range es {
			if en.route.HTTPS != "off" {
				out[name] = en.route.HTTPS
			}
		}
	}
	for name, es := range s.exact {
		add(name, es)
	}
	for name, es := range s.wild {
		add("*."+name, es)
	}
	return out
}
