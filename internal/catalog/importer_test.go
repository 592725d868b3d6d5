package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadStoreDetectsWebsoft9(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "websoft9-library")
	im, ts, _, err := ReadStore(dir, "", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if im.Format() != "websoft9" || len(ts) == 0 {
		t.Fatalf("format %s, %d templates; want websoft9 and some", im.Format(), len(ts))
	}
	for _, tm := range ts {
		if tm.Store != "websoft9" {
			t.Fatalf("%s: store %q, want websoft9", tm.Key, tm.Store)
		}
	}
}

func TestReadStoreRefusesUnknownLayoutAndFormat(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := ReadStore(dir, "", ReadOptions{}); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Fatalf("unknown layout: %v; want an error naming --format", err)
	}
	if _, _, _, err := ReadStore(dir, "nosuch", ReadOptions{}); err == nil || !strings.Contains(err.Error(), "websoft9") {
		t.Fatalf("unknown format: %v; want an error listing the formats", err)
	}
}

func TestCheckSecrets(t *testing.T) {
	base := Stack{Compose: "services:\n  a:\n    image: x\n    environment:\n      P: ${DB_PASS}\n", Env: "DB_PASS=\nW9_X_SET=1\n"}
	for _, tc := range []struct {
		name    string
		secrets []Secret
		want    string // "" = accepted
	}{
		{"ok", []Secret{{Name: "DB_PASS"}}, ""},
		{"hex", []Secret{{Name: "DB_PASS", Length: 16, Encoding: "hex"}}, ""},
		{"undefined", []Secret{{Name: "NOPE"}}, "not defined in .env"},
		{"setting", []Secret{{Name: "W9_X_SET"}}, "engine variable or a setting"},
		{"engine", []Secret{{Name: "W9_POWER_PASSWORD"}}, "engine variable or a setting"},
		{"twice", []Secret{{Name: "DB_PASS"}, {Name: "DB_PASS"}}, "listed twice"},
		{"short", []Secret{{Name: "DB_PASS", Length: 4}}, "secrets[0].length 4"},
		{"encoding", []Secret{{Name: "DB_PASS", Encoding: "rot13"}}, `secrets[0].encoding "rot13"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			s.Secrets = tc.secrets
			err := Validate(&s, ValidateOptions{})
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate = %v; want %q", err, tc.want)
			}
		})
	}
}

func TestAppKey(t *testing.T) {
	for in, want := range map[string]string{"Home-Assistant": "home-assistant", "adguard_home": "adguard-home",
		"2fauth": "app-2fauth", "  Nextcloud  ": "nextcloud", "Jellyfin.Server": "jellyfin-server"} {
		if got, err := AppKey(in); err != nil || got != want {
			t.Errorf("AppKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "_", "x", strings.Repeat("a", 40)} {
		if got, err := AppKey(bad); err == nil {
			t.Errorf("AppKey(%q) = %q; want an error", bad, got)
		}
	}
}
