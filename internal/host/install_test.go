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
		up, st, err := pickVersion("app", version, ups)
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
		_, _, err := pickVersion("app", tc.version, tc.ups)
		if e := apperr.As(err); e.Kind != apperr.Invalid || e.Field != tc.field || e.Message != tc.message {
			t.Errorf("pickVersion(%q) error %+v, want %s: %s", tc.version, e, tc.field, tc.message)
		}
	}
	if _, _, err := pickVersion("app", "", []store.Update{{Version: "v1", Stack: stack("{")}}); err == nil {
		t.Error("a stack that is not JSON was accepted")
	}
}
