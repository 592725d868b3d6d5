package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// The store's search matches the folded copies of name, package and description (migration 00021) exactly as
// folding each row at search time did: case-insensitively over all of Unicode, with % and _ taken literally, on
// both engines, and the copies follow every write of those columns.
func TestSearchFoldedCopies(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		pkg := func(s string) *string { return &s }
		apps := []*store.App{
			{Name: "Café Ünïcode", Package: pkg("cafe-unicode"), Desc: "A Straße of ÉCOLES"},
			{Name: "ÉCOLE", Package: pkg("ecole"), Desc: "Mixed CASE description, 100% sure"},
			{Name: "plain", Package: nil, Desc: "ΣΊΣΥΦΟΣ and snake_case"},
			{Name: "Nextcloud", Package: pkg("nextcloud"), Desc: "files"},
		}
		err := st.Tx(ctx, func(q *store.Q) error {
			u := &store.User{SimpleName: "u", Name: "U", CreatedAt: 1, OnlineAt: 1, Enabled: true}
			if err := q.CreateUser(ctx, u, "hash"); err != nil {
				return err
			}
			for _, a := range apps {
				a.Author, a.CreatedAt, a.UpdatedAt = u.ID, 1, 1
				if err := q.CreateApp(ctx, a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The reference is the search as it was: fold() of each row at query time, on the same engine (so
		// PostgreSQL's ICU folding, which writes a final sigma, is compared with itself).
		want := func(field, kw string) []int64 {
			t.Helper()
			ids, err := st.SearchFoldingRows(ctx, field, kw)
			if err != nil {
				t.Fatal(err)
			}
			return ids
		}
		check := func(when string) {
			t.Helper()
			matched := 0
			for _, kw := range []string{"ÜNÏ", "café", "CAFÉ", "école", "STRASSE", "straße", "σίσυφος", "ΣΊΣΥΦΟΣ",
				"100%", "snake_", "e_c", "mixed case", "NEXT", "files", "zzzz", "e"} {
				got, err := st.Q().BrowseApps(ctx, store.Browse{Keyword: kw, Sort: store.Sort{Key: "id"}, Page: store.Page{Limit: 50}})
				if err != nil {
					t.Fatal(err)
				}
				var ids []int64
				for _, a := range got {
					ids = append(ids, a.ID)
				}
				if w := want("", kw); !slices.Equal(ids, w) {
					t.Errorf("%s: BrowseApps(%q) = %v, want %v", when, kw, ids, w)
				}
				matched += len(ids)
				for _, field := range []string{"name", "pkg", "desc"} {
					ids, err := st.Q().SearchApps(ctx, field, kw, nil, store.Sort{Key: "id"}, store.Page{Limit: 50})
					if err != nil {
						t.Fatal(err)
					}
					if w := want(field, kw); !slices.Equal(ids, w) {
						t.Errorf("%s: SearchApps(%s, %q) = %v, want %v", when, field, kw, ids, w)
					}
				}
			}
			if matched < 10 {
				t.Errorf("%s: only %d matches over all keywords; the fixture no longer exercises the search", when, matched)
			}
		}
		check("created")

		// An update rewrites the folded copies: the old words no longer match, the new ones do.
		a := apps[3]
		a.Name, a.Package, a.Desc = "Σίσυφος Files", pkg("sisyphus"), "Über ALLES"
		if err := st.Tx(ctx, func(q *store.Q) error { return q.UpdateApp(ctx, a) }); err != nil {
			t.Fatal(err)
		}
		check("updated")
		for _, kw := range []string{"nextcloud", "über"} {
			got, err := st.Q().BrowseApps(ctx, store.Browse{Keyword: kw, Sort: store.Sort{Key: "id"}, Page: store.Page{Limit: 50}})
			if err != nil {
				t.Fatal(err)
			}
			if hit := len(got) == 1 && got[0].ID == a.ID; hit != (kw == "über") {
				t.Errorf("after the update, BrowseApps(%q) = %d apps", kw, len(got))
			}
		}
	})
}
