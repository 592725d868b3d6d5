package cli

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/catalog/builtin"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// TestSeedCatalogReadsTemplatesOnFirstStartOnly: the built-in templates are read, and imported, on the first
// start; a later start finds the catalog seeded and does not read them.
func TestSeedCatalogReadsTemplatesOnFirstStartOnly(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		reads := 0
		load := func() ([]catalog.Template, error) {
			reads++
			return builtin.Templates()
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		for start := 1; start <= 2; start++ {
			if err := seedCatalog(t.Context(), s.Hub, log, load); err != nil {
				t.Fatalf("start %d: %v", start, err)
			}
			if reads != 1 {
				t.Errorf("after start %d the templates were read %d times, want once", start, reads)
			}
		}
		var ids []int64
		s.Want(200, tu.Anon, "GET", "/app/all?max=1000", nil).JSON(t, &ids)
		if len(ids) < 12 {
			t.Errorf("%d apps after seeding, want the built-in catalog", len(ids))
		}
	})
}
