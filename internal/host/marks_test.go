package host_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/sysinfo"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// TestMarksAndServerRisks: instances of one app share its newest version (Marks reads it once per app), each is
// compared with its own version; the server's risks name the failed instances.
func TestMarksAndServerRisks(t *testing.T) {
	t.Parallel()
	dockertest.Require(t) // the server's risks come from the engine: Docker is part of the test environment
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		owner := s.NewUser("marker")
		aid := s.Want(200, owner, "POST", "/app", map[string]any{"name": "Marked", "package": "marked"}).Int(t)
		ctx, admin := t.Context(), auth.System
		stack := `{"compose":"services: {}","env":""}`
		err := s.Store.Tx(ctx, func(q *store.Q) error {
			for rev := int64(1); rev <= 2; rev++ {
				u := &store.Update{App: aid, Reversion: rev, Version: fmt.Sprint("v", rev), Stack: &stack, CreatedAt: rev}
				if err := q.CreateUpdate(ctx, u); err != nil {
					return err
				}
			}
			for _, in := range []struct {
				name  string
				rev   int64
				state string
			}{{"marked-old", 1, store.StateFailed}, {"marked-new", 2, store.StateFailed}, {"marked-going", 1, store.StateUninstalling}} {
				if err := q.CreateInstance(ctx, &store.Instance{Name: in.name, Project: s.Prefix + "-" + in.name, App: aid,
					AppKey: "marked", Reversion: in.rev, Version: fmt.Sprint("v", in.rev), State: in.state, Cause: "broken " + in.name,
					Settings: "{}", Secrets: "{}", CreatedAt: 1, UpdatedAt: 1}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		marks, err := s.Host.Marks(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		if m := marks[aid]; m.Instances != 2 || !m.UpdateAvailable || m.Latest != "v2" {
			t.Errorf("mark = %+v, want 2 instances, v2 latest, an update available", m)
		}

		info, err := s.Host.ServerWith(ctx, admin, false, sysinfo.Snapshot{CPUCores: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !info.DockerOK {
			t.Fatalf("Docker does not answer: %s", info.Docker)
		}
		if info.Instances != 3 {
			t.Errorf("instances = %d, want 3", info.Instances)
		}
		var failed []string
		for _, r := range info.Risks {
			if strings.Contains(r, "has failed") {
				failed = append(failed, r)
			}
		}
		slices.Sort(failed)
		if want := []string{"marked-new has failed: broken marked-new", "marked-old has failed: broken marked-old"}; !slices.Equal(failed, want) {
			t.Errorf("failed risks = %q, want %q", failed, want)
		}
	})
}
