package hub_test

import (
	"testing"

	"github.com/stackhub/stackhub/internal/catalog/builtin"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// The built-in catalog is imported on the first start only, and its apps are installable versions.
func TestSeedCatalogOnFirstStart(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		ts, err := builtin.Templates()
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.Hub.SeedCatalog(t.Context(), ts)
		if err != nil || n != len(ts) || n < 12 {
			t.Fatalf("first seed: %d, %v", n, err)
		}
		var ids []int64
		s.Want(200, tu.Anon, "GET", "/app/all?max=1000", nil).JSON(t, &ids)
		if len(ids) != len(ts) {
			t.Errorf("apps after seeding = %d, want %d", len(ids), len(ts))
		}
		var versions []map[string]any
		s.Want(200, tu.Anon, "GET", "/app/1/updates", nil).JSON(t, &versions)
		if len(versions) == 0 || versions[0]["stack"] == nil {
			t.Errorf("a built-in app has no installable version: %v", versions)
		}
		// Deleting one and starting again does not bring it back, nor add anything.
		s.Want(410, tu.Admin, "DELETE", "/doge/app/1", nil)
		if n, err := s.Hub.SeedCatalog(t.Context(), ts); err != nil || n != 0 {
			t.Errorf("second seed: %d, %v", n, err)
		}
		s.Want(200, tu.Anon, "GET", "/app/all?max=1000", nil).JSON(t, &ids)
		if len(ids) != len(ts)-1 {
			t.Errorf("apps after the second start = %d, want %d", len(ids), len(ts)-1)
		}
	})
}
