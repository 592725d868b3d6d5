package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/catalog/builtin"
	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// catalogCheck runs `stackhub catalog check args...` against the test server s.
func catalogCheck(t *testing.T, s *tu.Server, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"catalog", "check"}, args...)...)
	cmd.Env = append(os.Environ(), "STACKHUB_RUN_AS_MAIN=1", "STACKHUB_URL="+s.URL, "DOGETOK="+tu.AdminToken)
	var o bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &o
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), 0
}

// `catalog check` passes over the whole sample library and the built-in catalog, one line per version, and fails
// (non-zero, the version named) on a stored version that no longer renders.
func TestCatalogCheck(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		admin := auth.System
		sample, refused, err := catalog.ReadWebsoft9(filepath.Join("..", "..", "testdata", "websoft9-library"), false)
		if err != nil || len(refused) > 0 {
			t.Fatalf("sample library: %v %+v", err, refused)
		}
		built, err := builtin.Templates()
		if err != nil {
			t.Fatal(err)
		}
		versions := map[string]bool{}
		for _, tpl := range append(sample, built...) {
			if _, err := s.Hub.ImportTemplate(t.Context(), admin, tpl); err != nil {
				t.Fatalf("import %s: %v", tpl.Key, err)
			}
			for _, v := range tpl.Versions {
				versions[tpl.Key+" "+v] = true
			}
		}
		out, code := catalogCheck(t, s)
		if code != 0 || strings.Count(out, "\nok ")+boolInt(strings.HasPrefix(out, "ok ")) != len(versions) {
			t.Fatalf("catalog check: exit %d, want 0 and %d ok lines:\n%s", code, len(versions), out)
		}
		for v := range versions {
			if !strings.Contains(out, "ok "+v+"\n") {
				t.Errorf("no line for %s", v)
			}
		}

		// A version stored before a rule changed, which no longer renders, fails the check.
		wp, err := s.Store.Q().AppByPackage(t.Context(), "wordpress")
		if err != nil {
			t.Fatal(err)
		}
		bad := `{"compose":"services:\n  web:\n    image: nginx\n    depends_on: [nowhere]\n","env":""}`
		u := &store.Update{App: wp.ID, Reversion: 1000, Version: "broken", Stack: &bad, CreatedAt: time.Now().UnixMilli()}
		if err := s.Store.Tx(context.Background(), func(q *store.Q) error { return q.CreateUpdate(context.Background(), u) }); err != nil {
			t.Fatal(err)
		}
		out, code = catalogCheck(t, s, "wordpress")
		if code == 0 || !strings.Contains(out, "fail wordpress broken: docker-compose.yml") ||
			!strings.Contains(out, "depends on undefined service") || strings.Contains(out, "ok mysql") {
			t.Errorf("check of a broken version: exit %d\n%s", code, out)
		}
		if entries, _ := os.ReadDir(s.DataDir); len(entries) > 0 {
			for _, en := range entries {
				if strings.HasPrefix(en.Name(), "check-") {
					t.Errorf("the check left %s behind", en.Name())
				}
			}
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
