package sources_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/stackhub/stackhub/client"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// TestRemovedSourceKeepsInstall: removing a source takes its apps out of the catalog, but the version an install
// runs stays: the app keeps running on the real Docker Engine and can be uninstalled; the next sync then sweeps
// the kept version and its app away.
func TestRemovedSourceKeepsInstall(t *testing.T) {
	dockertest.Image(t, "stackhub-test/web:v1")
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		ev := openStream(t, s)
		lib := tu.NewLibrary(t)
		lib.Add(t, "srcweb", tu.WebCompose, "READY_AFTER=0\n", "v1")
		lib.Add(t, "srcother", tu.WebCompose, "READY_AFTER=0\n", "v1")
		_, url := serveStore(t, forgeArchive(t, lib.Dir))
		c := client.New(s.URL, tu.AdminToken)
		ctx := t.Context()
		src, err := c.AddSource(ctx, client.AddSource{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		if typ, p := ev.next(); typ != "source.synced" || p.Source.AppsAccepted != 2 {
			t.Fatalf("first sync: %s %+v", typ, p)
		}
		inst, err := c.Install(ctx, client.InstallRequest{App: "srcweb", Name: "kept"})
		if err != nil {
			t.Fatal(err)
		}
		if job, err := c.Follow(ctx, inst.Job.ID, func(client.JobEvent) {}); err != nil || job.State != "succeeded" {
			t.Fatalf("install: %+v, %v", job, err)
		}

		if err := c.RemoveSource(ctx, src.ID); err != nil {
			t.Fatal(err)
		}
		if got := versionsOf(catalogOf(t, s)); !slices.Equal(mapsKeys(got), []string{"srcweb"}) || !slices.Equal(got["srcweb"], []string{"v1"}) {
			t.Fatalf("catalog after removing the source: %v, want only the installed srcweb v1", got)
		}
		info, err := c.Instance(ctx, "kept")
		if err != nil || info.Status != "1" {
			t.Fatalf("the install after its source went: %+v, %v", info, err)
		}
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%s/", info.Port))
		if err != nil {
			t.Fatalf("the installed app does not answer: %v", err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("the installed app answered %s", res.Status)
		}
		if err := c.Uninstall(ctx, "kept", true); err != nil {
			t.Fatalf("uninstall: %v", err)
		}

		// The next sync of any source sweeps the version no install uses any more.
		other := tu.NewLibrary(t)
		other.Add(t, "srcthird", tu.WebCompose, "READY_AFTER=0\n", "v1")
		_, url2 := serveStore(t, forgeArchive(t, other.Dir))
		if _, err := c.AddSource(ctx, client.AddSource{URL: url2}); err != nil {
			t.Fatal(err)
		}
		if typ, p := ev.next(); typ != "source.synced" || p.Source.AppsAccepted != 1 {
			t.Fatalf("second source: %s %+v", typ, p)
		}
		if got := mapsKeys(catalogOf(t, s)); !slices.Equal(got, []string{"srcthird"}) {
			t.Errorf("catalog after the sweep: %v, want only srcthird", got)
		}
	})
}
