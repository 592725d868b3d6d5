package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
)

// BasicUser is one account of a `basic` route as given; the password is only ever stored hashed.
type BasicUser struct {
	User     string `json:"user" doc:"the user name"`
	Password string `json:"password" doc:"the password; stored as an argon2id hash, never returned"`
}

// RouteInput is a route to add (docs/edge.md §2).
type RouteInput struct {
	Domain     string      `json:"domain" doc:"a host name (IDNA accepted, stored in ASCII) or a one-label wildcard *.example.com"`
	Path       string      `json:"path,omitempty" doc:"path prefix, starting with /; default /"`
	StripPath  bool        `json:"strip_path,omitempty" doc:"remove the path prefix before the app sees the request"`
	Service    string      `json:"service,omitempty" doc:"the service to send traffic to; default the app's web port"`
	Port       int         `json:"port,omitempty" doc:"the service's container port (with service)"`
	HTTPS      string      `json:"https,omitempty" doc:"auto, internal, custom or off; default auto"`
	Redirect   *bool       `json:"redirect,omitempty" doc:"plain HTTP answers 308 to HTTPS; default true"`
	Access     string      `json:"access,omitempty" doc:"public, users, admin or basic; default public"`
	BasicUsers []BasicUser `json:"basic_users,omitempty" doc:"the accounts of basic access"`
	Allow      []string    `json:"allow,omitempty" doc:"CIDRs that may reach the route (with any access mode)"`
}

// Route is a route as the APIs show it: never a password or hash.
type Route struct {
	Instance   string     `json:"instance"`
	Domain     string     `json:"domain"`
	Path       string     `json:"path"`
	StripPath  bool       `json:"strip_path"`
	Service    string     `json:"service"`
	Port       int        `json:"port"`
	HTTPS      string     `json:"https"`
	Redirect   bool       `json:"redirect"`
	Access     string     `json:"access"`
	BasicUsers []string   `json:"basic_users"`
	Allow      []string   `json:"allow"`
	CreatedAt  int64      `json:"created_at"`
	URL        string     `json:"url"`
	Cert       *RouteCert `json:"certificate,omitempty"`
}

// RouteChange is the answer to adding or removing a route: the route, and the job that renders the app again
// with its new W9_URL (nil when none could start; Note says why).
type RouteChange struct {
	Route *Route     `json:"route,omitempty"`
	Job   *store.Job `json:"job,omitempty"`
	Note  string     `json:"note,omitempty"`
}

// AddRoute validates and records a route to an installed app, then reloads the proxy and re-renders the app.
func (e *Edge) AddRoute(ctx context.Context, a auth.Actor, instance string, in RouteInput) (*RouteChange, error) {
	if err := e.host.Authorize(a); err != nil {
		return nil, err
	}
	inst, err := e.store.Q().Instance(ctx, instance)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, apperr.Wrap(apperr.NotFound, err, "%s is not installed", instance)
		}
		return nil, err
	}
	r, err := e.check(ctx, inst.Name, in)
	if err != nil {
		return nil, err
	}
	if err := e.store.Q().CreateRoute(ctx, r); err != nil {
		return nil, conflict(err, r)
	}
	e.Changed(ctx)
	out := &RouteChange{Route: e.view(r)}
	out.Job, out.Note = e.reconfigure(ctx, a, instance)
	return out, nil
}

// NewRoute checks the domain of an install (host.Domains): a public route with the defaults.
func (e *Edge) NewRoute(ctx context.Context, instance, domain string) (*store.Route, error) {
	return e.check(ctx, instance, RouteInput{Domain: domain})
}

// Routes lists an installed app's routes.
func (e *Edge) Routes(ctx context.Context, a auth.Actor, instance string) ([]Route, error) {
	if err := e.host.CheckInstance(ctx, a, instance); err != nil {
		return nil, err
	}
	rs, err := e.store.Q().Routes(ctx, instance)
	if err != nil {
		return nil, err
	}
	out := make([]Route, 0, len(rs))
	for i := range rs {
		out = append(out, *e.view(&rs[i]))
	}
	return out, nil
}

// RemoveRoute removes an app's route of domain and path (default "/"), then reloads and re-renders.
func (e *Edge) RemoveRoute(ctx context.Context, a auth.Actor, instance, domain, path string) (*RouteChange, error) {
	if err := auth.Can(a, auth.HostWrite); err != nil { // managing domains is the operator's work
		return nil, err
	}
	if err := e.host.CheckInstance(ctx, a, instance); err != nil {
		return nil, err
	}
	ascii, err := asciiDomain(domain)
	if err != nil {
		return nil, err
	}
	if path == "" {
		path = "/"
	}
	if err := e.store.Q().DeleteRoute(ctx, instance, ascii, cleanPath(path)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, apperr.Wrap(apperr.NotFound, err, "%s has no route %s%s", instance, ascii, path)
		}
		return nil, err
	}
	e.Changed(ctx)
	out := &RouteChange{}
	out.Job, out.Note = e.reconfigure(ctx, a, instance)
	return out, nil
}

// reconfigure starts the job that renders the app with its new W9_URL; a refusal (busy, not installed yet) is
// reported, not failed: the route itself is in place.
func (e *Edge) reconfigure(ctx context.Context, a auth.Actor, instance string) (*store.Job, string) {
	job, err := e.host.Reconfigure(ctx, a, instance)
	if err != nil {
		return nil, "W9_URL not updated now: " + apperr.As(err).Message
	}
	return job, ""
}

func conflict(err error, r *store.Route) error {
	if errors.Is(err, store.ErrConflict) {
		return apperr.Field(apperr.Conflict, "domain", "%s%s is routed already; remove that route first", r.Domain, r.Path)
	}
	return err
}

var labelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// asciiDomain is a host name in its ASCII form (IDNA), or a refusal naming the field.
func asciiDomain(d string) (string, error) {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if d == "" {
		return "", apperr.Field(apperr.Invalid, "domain", "domain is required: a host name such as blog.example.com")
	}
	wild := strings.HasPrefix(d, "*.")
	name := strings.TrimPrefix(d, "*.")
	if a, err := netip.ParseAddr(name); err == nil && !wild {
		return a.String(), nil // a bare IP, served with the internal CA
	}
	ascii, err := idna.Lookup.ToASCII(name)
	if err == nil && len(ascii) > 253 {
		err = errors.New("longer than 253 characters")
	}
	if err == nil {
		for _, l := range strings.Split(ascii, ".") {
			if !labelRe.MatchString(l) {
				err = fmt.Errorf("label %q", l)
				break
			}
		}
	}
	if err != nil {
		return "", apperr.Field(apperr.Invalid, "domain", "%q is not a valid host name (%v): use letters, digits and - in dot-separated labels, or *.example.com", d, err)
	}
	if wild {
		if !strings.Contains(ascii, ".") {
			return "", apperr.Field(apperr.Invalid, "domain", "%q: a wildcard covers one label under a name of two or more, such as *.example.com", d)
		}
		return "*." + ascii, nil
	}
	return ascii, nil
}

// cleanPath drops a trailing slash, so "/app/" and "/app" are one route.
func cleanPath(p string) string {
	if p == "/" {
		return p
	}
	return strings.TrimSuffix(p, "/")
}

// check validates a route for instance and returns the row to record. Every refusal names its field.
func (e *Edge) check(ctx context.Context, instance string, in RouteInput) (*store.Route, error) {
	domain, err := asciiDomain(in.Domain)
	if err != nil {
		return nil, err
	}
	r := &store.Route{Instance: instance, Domain: domain, Path: in.Path, StripPath: in.StripPath, Service: in.Service,
		Port: in.Port, HTTPS: in.HTTPS, Redirect: in.Redirect == nil || *in.Redirect, Access: in.Access,
		CreatedAt: time.Now().UnixMilli()}
	if r.Path == "" {
		r.Path = "/"
	}
	if !strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, "?#% \t") || strings.Contains(r.Path, "/../") ||
		strings.HasSuffix(r.Path, "/..") {
		return nil, apperr.Field(apperr.Invalid, "path", "path %q must start with / and hold no ?, #, %%, spaces or ..", in.Path)
	}
	r.Path = cleanPath(r.Path)
	if e.cfg.Domain != "" && domain == e.cfg.Domain {
		return nil, apperr.Field(apperr.Conflict, "domain", "%s is StackHub's own name (--domain)", domain)
	}
	if r.HTTPS == "" {
		r.HTTPS = "auto"
	}
	switch r.HTTPS {
	case "auto", "internal", "off":
	case "custom":
		if e.CustomCovers == nil {
			return nil, apperr.Field(apperr.Invalid, "https", "https custom needs an uploaded certificate covering %s, and this server manages none; use auto, internal or off", domain)
		}
		if err := e.CustomCovers(ctx, domain); err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "https: %s", apperr.As(err).Message).WithField("https")
		}
	default:
		return nil, apperr.Field(apperr.Invalid, "https", "https %q: want auto, internal, custom or off", r.HTTPS)
	}
	if strings.HasPrefix(domain, "*.") && r.HTTPS == "auto" && e.cfg.DNSProvider == "" {
		return nil, apperr.Field(apperr.Invalid, "domain", "%s is a wildcard: its certificate needs DNS-01, and no DNS provider is set (STACKHUB_DNS_PROVIDER); set one, or use https internal or off", domain)
	}
	if r.Access == "" {
		r.Access = "public"
	}
	users, err := e.basicUsers(r.Access, in.BasicUsers)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(users)
	r.BasicUsers = string(b)
	allow := []string{}
	for _, a := range in.Allow {
		p, err := parseCIDR(a)
		if err != nil {
			return nil, apperr.Field(apperr.Invalid, "allow", "allow %q is not a CIDR such as 192.168.1.0/24 or an address", a)
		}
		allow = append(allow, p.String())
	}
	b, _ = json.Marshal(allow)
	r.Allow = string(b)
	if r.Port < 0 || r.Port > 65535 || (r.Service != "" && r.Port == 0) || (r.Service == "" && r.Port != 0) {
		return nil, apperr.Field(apperr.Invalid, "port", "give service and port together (the container port, 1 to 65535), or neither for the app's web port")
	}
	if r.Service != "" { // the route must lead somewhere now
		if err := e.host.CheckUpstream(ctx, instance, r.Service, r.Port); err != nil {
			return nil, err
		}
	}
	if _, err := e.store.Q().RouteAt(ctx, r.Domain, r.Path); err == nil {
		return nil, conflict(store.ErrConflict, r)
	}
	return r, nil
}

// basicUsers checks the accounts against the access mode and hashes their passwords.
func (e *Edge) basicUsers(access string, in []BasicUser) ([]basicUser, error) {
	switch access {
	case "public", "users", "admin":
		if len(in) > 0 {
			return nil, apperr.Field(apperr.Invalid, "basic_users", "basic_users are for access basic, not %s", access)
		}
		return []basicUser{}, nil
	case "basic":
	default:
		return nil, apperr.Field(apperr.Invalid, "access", "access %q: want public, users, admin or basic", access)
	}
	if len(in) == 0 {
		return nil, apperr.Field(apperr.Invalid, "basic_users", "access basic needs at least one {\"user\", \"password\"}")
	}
	out := make([]basicUser, 0, len(in))
	for _, u := range in {
		if u.User == "" || strings.ContainsAny(u.User, ":\r\n") || u.Password == "" {
			return nil, apperr.Field(apperr.Invalid, "basic_users", "each basic user needs a user (without :) and a password")
		}
		h, err := e.auth.Hash(u.Password)
		if err != nil {
			return nil, err
		}
		out = append(out, basicUser{User: u.User, Hash: h})
	}
	return out, nil
}

// parseCIDR reads a CIDR, or an address as its own /32 or /128.
func parseCIDR(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// view is a route for the APIs.
func (e *Edge) view(r *store.Route) *Route {
	out := &Route{Instance: r.Instance, Domain: r.Domain, Path: r.Path, StripPath: r.StripPath, Service: r.Service,
		Port: r.Port, HTTPS: r.HTTPS, Redirect: r.Redirect, Access: r.Access, BasicUsers: []string{}, Allow: []string{},
		CreatedAt: r.CreatedAt}
	var users []basicUser
	_ = json.Unmarshal([]byte(r.BasicUsers), &users)
	for _, u := range users {
		out.BasicUsers = append(out.BasicUsers, u.User)
	}
	_ = json.Unmarshal([]byte(r.Allow), &out.Allow)
	scheme := "https://"
	if r.HTTPS == "off" {
		scheme = "http://"
	}
	out.URL = scheme + r.Domain + strings.TrimSuffix(r.Path, "/") + "/"
	if e.CertStatus != nil && r.HTTPS != "off" {
		out.Cert = e.CertStatus(r.Domain)
	}
	return out
}
