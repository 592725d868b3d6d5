package host_test

import (
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// TestPlanSuggestsWithoutBooking checks the install form's plan: newest version first, a free name and free
// ports, and that computing it books nothing.
func TestPlanSuggestsWithoutBooking(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		image := dockertest.Image(t, "stackhub-test/web:v1")
		s := tu.StartServer(t, e, tu.Options{})
		lib := tu.NewLibrary(t)
		owner := s.NewUser("planner")
		aid := s.Want(200, owner, "POST", "/app", map[string]any{"name": "Planned", "package": "planned"}).Int(t)
		for _, ver := range []string{"v1", "v2"} {
			s.Want(201, owner, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": ver, "updates": ver,
				"stack": stackFor(lib, "0")})
		}
		admin, ctx := auth.System, t.Context()

		if _, err := s.Host.Plan(ctx, auth.Actor{User: true, UID: owner.UID}, "planned", ""); apperr.As(err).Kind != apperr.Forbidden {
			t.Errorf("a user's plan: %v", err)
		}
		if _, err := s.Host.Plan(ctx, admin, "nosuchapp", ""); apperr.As(err).Kind != apperr.NotFound {
			t.Errorf("plan of a missing app: %v", err)
		}
		p, err := s.Host.Plan(ctx, admin, strconv.FormatInt(aid, 10), "")
		if err != nil {
			t.Fatal(err)
		}
		if p.App != "planned" || p.Version != "v2" || len(p.Versions) != 2 || p.Versions[0] != "v2" || p.Name != "planned" {
			t.Fatalf("plan = %+v", p)
		}
		port := 0
		for _, st := range p.Settings {
			if st.Name == "W9_HTTP_PORT_SET" && st.Port {
				port, _ = strconv.Atoi(st.Value)
			}
		}
		if port < lib.BasePort {
			t.Fatalf("suggested web port %d, want one from %d: %+v", port, lib.BasePort, p.Settings)
		}
		if bs, err := s.Store.Q().PortBookings(ctx, ""); err != nil || len(bs) != 0 {
			t.Errorf("a plan booked ports: %v %v", bs, err)
		}

		// A port in use and a name in use are both skipped.
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		taken := s.Prefix + "-planned"
		t.Cleanup(func() { dockertest.Docker(t, "rm", "-f", taken) })
		dockertest.Docker(t, "create", "--name", taken, image)
		p, err = s.Host.Plan(ctx, admin, "planned", "v1")
		if err != nil {
			t.Fatal(err)
		}
		if p.Version != "v1" || p.Name != "planned-2" {
			t.Errorf("plan with the name taken = %+v", p)
		}
		for _, st := range p.Settings {
			if st.Name == "W9_HTTP_PORT_SET" && st.Value == strconv.Itoa(port) {
				t.Errorf("the plan suggests port %d, which is in use", port)
			}
		}
	})
}
