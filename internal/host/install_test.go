package host

import (
	"testing"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/store"
)

// TestPickVersion: Plan and resolve both choose a version from the store's list (newest first) with pickVersion.
func TestPickVersion(t *testing.T) {
	stack := func(s string) *string { return &s }
	ups := []store.Update{
		{Version: "v3"}, // no stack: not installable
		{Version: "v2", Stack: stack(`{"compose":"two"}`)},
		{Version: "v1", Stack: stack(`{"compose":"one"}`)},
	}
	if got := installable(ups); len(got) != 2 || got[0] != "v2" || got[1] != "v1" {
		t.Errorf("installable = %v, want [v2 v1]", got)
	}
	for version, want := range map[string]string{"": "v2", "v2": "v2", "v1": "v1"} {
		up, st, err := pickVersion("app", "", version, ups, nil)
		if err != nil || up.Version != want || st == nil {
			t.Errorf("pickVersion(%q) = %v, %v, %v; want %s", version, up, st, err, want)
		}
	}
	for _, tc := range []struct {
		version, field, message string
		ups                     []store.Update
	}{
		{"v3", "version", `app has no version "v3"; choose one of v2, v1`, ups},
		{"", "appName", "app has no installable version", ups[:1]},
	} {
		_, _, err := pickVersion("app", "", tc.version, tc.ups, nil)
		if e := apperr.As(err); e.Kind != apperr.Invalid || e.Field != tc.field || e.Message != tc.message {
			t.Errorf("pickVersion(%q) error %+v, want %s: %s", tc.version, e, tc.field, tc.message)
		}
	}
	if _, _, err := pickVersion("app", "", "", []store.Update{{Version: "v1", Stack: stack("{")}}, nil); err == nil {
		t.Error("a stack that is not JSON was accepted")
	}
}

// TestPickVersionStores: with versions from several stores, an install that names no store takes the newest
// version of the first store in the admin's order that has one; a named store or "store:version" picks that one.
func TestPickVersionStores(t *testing.T) {
	stack := func(s string) *string { return &s }
	ups := []store.Update{ // newest first
		{Reversion: 5, Version: "2.0", Store: "runtipi", Stack: stack(`{}`)},
		{Reversion: 4, Version: "1.2.3", Store: "runtipi", Stack: stack(`{}`)},
		{Reversion: 3, Version: "1.2.3", Store: "casaos", Stack: stack(`{}`)},
		{Reversion: 2, Version: "1.0", Store: "casaos", Stack: stack(`{}`)},
		{Reversion: 1, Version: "0.9", Store: "zeta", Stack: stack(`{}`)},
	}
	order := []string{"websoft9", "casaos", "runtipi"}
	for _, tc := range []struct {
		store, version string
		order          []string
		rev            int64
	}{
		{"", "", order, 3},                    // casaos is preferred: its newest
		{"", "", []string{"runtipi"}, 5},      // runtipi first
		{"", "", nil, 3},                      // no order: stores by name (casaos < runtipi < zeta)
		{"", "", []string{"zeta"}, 1},         // an unlisted store is still chosen when listed
		{"", "1.2.3", []string{"runtipi"}, 4}, // both have it: the preferred one's
		{"", "1.2.3", order, 3},
		{"runtipi", "", order, 5},
		{"runtipi", "1.2.3", order, 4},
		{"", "runtipi:1.2.3", order, 4},
		{"", "casaos:1.2.3", []string{"runtipi"}, 3},
		{"", "2.0", order, 5}, // only runtipi has it
	} {
		up, _, err := pickVersion("app", tc.store, tc.version, ups, tc.order)
		if err != nil || up.Reversion != tc.rev {
			t.Errorf("pickVersion(%q, %q, %v) = %+v, %v; want rev %d", tc.store, tc.version, tc.order, up, err, tc.rev)
		}
	}
	_, _, err := pickVersion("app", "casaos", "2.0", ups, order)
	if e := apperr.As(err); e.Field != "version" || e.Message != `app has no version "casaos:2.0"; choose one of runtipi:2.0, runtipi:1.2.3, casaos:1.2.3, casaos:1.0, zeta:0.9` {
		t.Errorf("a version the store lacks: %+v", e)
	}
	_, _, err = pickVersion("app", "umbrel", "", ups, order)
	if e := apperr.As(err); e.Field != "store" {
		t.Errorf("a store without the app: %+v", e)
	}
	if got := planChoices(ups, order); len(got) != 5 || got[0].Value != "casaos:1.2.3" || got[2].Value != "runtipi:2.0" || got[4].Value != "zeta:0.9" {
		t.Errorf("planChoices = %+v", got)
	}
	if got := planChoices(ups[:2], order); got[0].Value != "2.0" || got[1].Value != "1.2.3" {
		t.Errorf("one store's choices are named by their versions: %+v", got)
	}
}
