package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/testutil"
)

// Can: a role holds its scopes; a token holds the intersection of its scopes and its owner's role; each refusal
// names what is missing.
func TestCan(t *testing.T) {
	member := auth.Actor{UID: 1, User: true, Enabled: true, Role: auth.RoleMember}
	operator := auth.Actor{UID: 2, User: true, Enabled: true, Role: auth.RoleOperator}
	adminTok := auth.Actor{TokenID: "x", Enabled: true, Role: auth.RoleAdmin, Scopes: auth.SetOf(auth.HostRead)}
	demoted := auth.Actor{UID: 3, User: true, Enabled: true, Role: auth.RoleMember, TokenID: "y",
		Scopes: auth.SetOf(auth.HostWrite)}
	disabled := auth.Actor{UID: 4, User: true, Role: auth.RoleAdmin}
	for _, c := range []struct {
		name  string
		a     auth.Actor
		s     auth.Scope
		kind  apperr.Kind
		names string
	}{
		{"anonymous", auth.Actor{}, auth.HubRead, apperr.Unauthorized, "sign in"},
		{"member reads the hub", member, auth.HubWrite, 0, ""},
		{"member installs", member, auth.HostWrite, apperr.Forbidden, "operator role"},
		{"operator installs", operator, auth.HostWrite, 0, ""},
		{"operator manages users", operator, auth.AdminAll, apperr.Forbidden, "admin role"},
		{"admin token", auth.System, auth.AdminAll, 0, ""},
		{"admin's host:read token reads", adminTok, auth.HostRead, 0, ""},
		{"admin's host:read token writes", adminTok, auth.HostWrite, apperr.Forbidden, "lacks scope host:write"},
		{"admin's host:read token is no admin", adminTok, auth.AdminAll, apperr.Forbidden, "lacks scope admin"},
		{"demoted owner's host:write token", demoted, auth.HostWrite, apperr.Forbidden, "operator role"},
		{"disabled admin user", disabled, auth.HubRead, apperr.Forbidden, "disabled"},
	} {
		err := auth.Can(c.a, c.s)
		if c.kind == 0 {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if e := apperr.As(err); err == nil || e.Kind != c.kind || !strings.Contains(e.Message, c.names) {
			t.Errorf("%s: %v, want kind %v naming %q", c.name, err, c.kind, c.names)
		}
	}
}

func TestParseLife(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "720h": 720 * time.Hour, "30d": 30 * 24 * time.Hour, "1m": time.Minute} {
		if got, err := auth.ParseLife(in); err != nil || got != want {
			t.Errorf("ParseLife(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"30s", "x", "3.5d", "-1h", "10000d", "d"} {
		if _, err := auth.ParseLife(in); err == nil || apperr.As(err).Field != "expires_in" {
			t.Errorf("ParseLife(%q): %v, want an error naming expires_in", in, err)
		}
	}
}

// BenchmarkTokenAuthenticate measures a request's token check: the first (argon2id) against later ones (the
// verified cache; the row is still read each time).
func BenchmarkTokenAuthenticate(b *testing.B) {
	for _, e := range testutil.Engines(b) {
		ctx := context.Background()
		st := testutil.OpenStore(b, e)
		s := auth.NewService(st, "admin-token-0123456789", auth.DefaultParams(), auth.NewLimiter(1000, time.Minute))
		nt, err := s.CreateToken(ctx, auth.System, "bench", []string{"host:read"}, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(e.Name+"/argon2id", func(b *testing.B) {
			for b.Loop() {
				s := auth.NewService(st, "admin-token-0123456789", auth.DefaultParams(), auth.NewLimiter(1000, time.Minute))
				if _, err := s.Authenticate(ctx, auth.Credentials{Token: nt.Token}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(e.Name+"/cached", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Authenticate(ctx, auth.Credentials{Token: nt.Token}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(e.Name+"/admin-token", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Authenticate(ctx, auth.Credentials{Token: "admin-token-0123456789"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
