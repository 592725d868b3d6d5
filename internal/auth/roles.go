package auth

import (
	"slices"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
)

// Role is a user's role (docs/accounts.md): what every face lets them do.
type Role string

// The roles, from least to most.
const (
	RoleMember   Role = "member"   // the community, as a user
	RoleOperator Role = "operator" // also the host: installs, upgrades, starts, stops, uninstalls, the server page
	RoleAdmin    Role = "admin"    // everything the admin token allows
)

// Roles lists the roles, least first.
var Roles = []Role{RoleMember, RoleOperator, RoleAdmin}

// Scope is one permission. A role holds a set of scopes; an API token holds some of its owner's.
type Scope string

// The scopes; each allows what it names and nothing more (admin does not imply host:write).
const (
	HubRead   Scope = "hub:read"   // read the hub as the user (notifications, own lists)
	HubWrite  Scope = "hub:write"  // act in the hub as the user: publish, comment, star, follow
	HostRead  Scope = "host:read"  // installed apps' status, logs, jobs, the server page
	HostWrite Scope = "host:write" // install, upgrade, roll back, start, stop, uninstall; app credentials
	AdminAll  Scope = "admin"      // users, roles, others' tokens, webhooks, sources, catalog import, audit
)

// Scopes lists every scope.
var Scopes = []Scope{HubRead, HubWrite, HostRead, HostWrite, AdminAll}

var roleScopes = map[Role][]Scope{
	RoleMember:   {HubRead, HubWrite},
	RoleOperator: {HubRead, HubWrite, HostRead, HostWrite},
	RoleAdmin:    Scopes,
}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(s))
	if _, ok := roleScopes[r]; !ok {
		return "", apperr.Field(apperr.Invalid, "role", "%q is not a role: use member, operator or admin", s)
	}
	return r, nil
}

// ParseScopes checks scope names; at least one is needed.
func ParseScopes(ss []string) ([]Scope, error) {
	if len(ss) == 0 {
		return nil, apperr.Field(apperr.Invalid, "scopes", "name at least one scope: hub:read, hub:write, host:read, host:write or admin")
	}
	out := make([]Scope, 0, len(ss))
	for _, s := range ss {
		sc := Scope(strings.TrimSpace(s))
		if !slices.Contains(Scopes, sc) {
			return nil, apperr.Field(apperr.Invalid, "scopes", "%q is not a scope: use hub:read, hub:write, host:read, host:write or admin", s)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// ScopeSet is a set of scopes, a bit each (so an Actor stays comparable).
type ScopeSet uint8

// SetOf makes a set of scopes.
func SetOf(sc ...Scope) ScopeSet {
	var set ScopeSet
	for _, s := range sc {
		if i := slices.Index(Scopes, s); i >= 0 {
			set |= 1 << i
		}
	}
	return set
}

// Has tells whether the set holds s.
func (set ScopeSet) Has(s Scope) bool {
	i := slices.Index(Scopes, s)
	return i >= 0 && set&(1<<i) != 0
}

// Holds tells whether role r includes scope s.
func (r Role) Holds(s Scope) bool { return slices.Contains(roleScopes[r], s) }

// minRole is the least role that holds s.
func minRole(s Scope) Role {
	for _, r := range Roles {
		if r.Holds(s) {
			return r
		}
	}
	return RoleAdmin
}

// Can is the one permission check every face goes through: nil when a may use scope s, else an Unauthorized
// (no credentials) or a Forbidden error that names what is missing: the role, or the token's scope.
func Can(a Actor, s Scope) error {
	role := roleOf(a)
	switch {
	case role == "":
		return apperr.New(apperr.Unauthorized, "Unauthorized: sign in, or send the admin token or an API token")
	case !a.Enabled && !a.Admin:
		return apperr.New(apperr.Forbidden, "User %d is disabled", a.UID)
	case a.NeedsSecondFactor:
		return apperr.New(apperr.Forbidden, "Your role (%s) needs a second factor on this server: set up an "+
			"authenticator app or a passkey on your account page (/ui/account) first", a.Role)
	case !role.Holds(s):
		who := map[Role]string{RoleOperator: "the admin or an operator", RoleAdmin: "the admin"}[minRole(s)]
		if who == "" {
			who = "a member"
		}
		if a.TokenID != "" {
			return apperr.New(apperr.Forbidden, "Only %s may do this: it needs the %s role, which the token's owner does not have", who, minRole(s))
		}
		return apperr.New(apperr.Forbidden, "Only %s may do this: it needs the %s role", who, minRole(s))
	case a.TokenID != "" && !a.Scopes.Has(s):
		return apperr.New(apperr.Forbidden, "Forbidden: the token lacks scope %s", s)
	}
	return nil
}

// roleOf is a's role: the admin token is admin, and a user without one (an Actor made by hand) is a member.
func roleOf(a Actor) Role {
	switch {
	case a.Admin:
		return RoleAdmin
	case a.Role == "" && a.User:
		return RoleMember
	}
	return a.Role
}

// IsAdmin tells whether a may do what the admin does: the admin token, or a user with the admin role (through
// a token with the admin scope, if a token).
func IsAdmin(a Actor) bool { return Can(a, AdminAll) == nil }

// System is the admin token's actor, for the server's own work (seeding the catalog, cleaning up).
var System = Actor{Admin: true, Enabled: true, Role: RoleAdmin}
