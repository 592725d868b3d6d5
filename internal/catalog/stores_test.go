package catalog

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readSample reads a testdata store through ReadStore with format detection, and returns its templates by key.
func readSample(t *testing.T, dir, format string) (map[string]Template, []Refusal) {
	t.Helper()
	im, ts, refused, err := ReadStore(filepath.Join("..", "..", "testdata", dir), "", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if im.Format() != format {
		t.Fatalf("detected %s, want %s", im.Format(), format)
	}
	out := map[string]Template{}
	for _, tm := range ts {
		if tm.Store != format {
			t.Errorf("%s: store %q", tm.Key, tm.Store)
		}
		out[tm.Key] = tm
	}
	return out, refused
}

// settingsOf returns a template's settings as name → default.
func settingsOf(t *testing.T, tm Template) map[string]string {
	t.Helper()
	st, err := tm.Stack.Settings()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range st {
		out[s.Name] = s.Default
	}
	return out
}

func wantSettings(t *testing.T, tm Template, want map[string]string) {
	t.Helper()
	got := settingsOf(t, tm)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: setting %s = %q, want %q (settings %v)", tm.Key, k, got[k], v, got)
		}
	}
}

func wantContains(t *testing.T, what, text string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(text, s) {
			t.Errorf("%s lacks %q:\n%s", what, s, text)
		}
	}
}

func TestCasaOSSamples(t *testing.T) {
	ts, refused := readSample(t, "casaos-appstore", "casaos")
	if len(refused) > 0 || len(ts) != 26 {
		t.Fatalf("%d accepted, refused %+v; want all 26", len(ts), refused)
	}
	for _, tm := range ts { // each version's stack is valid (StackFor sets W9_VERSION)
		st, err := tm.StackFor(tm.Versions[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(&st, ValidateOptions{AllowHostAccess: true, MaxSize: MaxImportSize}); err != nil {
			t.Errorf("%s %s: %v", tm.Key, tm.Versions[0], err)
		}
	}

	pg := ts["postgresql"]
	if !slices.Equal(pg.Versions, []string{"17.4"}) || pg.Name != "PostgreSQL" || !slices.Equal(pg.Categories, []string{"Developer"}) {
		t.Errorf("postgresql: versions %v name %q categories %v", pg.Versions, pg.Name, pg.Categories)
	}
	if !slices.Equal(pg.Stack.Secrets, []Secret{{Name: "POSTGRES_PASSWORD", Length: 16}}) {
		t.Errorf("postgresql secrets %+v", pg.Stack.Secrets)
	}
	wantSettings(t, pg, map[string]string{"W9_HTTP_PORT_SET": "5432", "POSTGRES_USER_SET": "casaos",
		"POSTGRES_DB_SET": "casaos", "PUID_SET": "1000", "PGID_SET": "1000", "TZ_SET": "UTC"})
	wantContains(t, "postgresql compose", pg.Stack.Compose, "image: postgres:${W9_VERSION}", "container_name: ${W9_ID}",
		"POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}", "source: ./data/data", "${W9_HTTP_PORT_SET}:5432/tcp")
	wantContains(t, "postgresql description", pg.Description, "## Before you install", "Default user: `casaos`",
		"Default password: `(generated at install: POSTGRES_PASSWORD in the credentials)`")
	if len(pg.Stack.HostAccess) > 0 || strings.Contains(pg.Stack.Env, "W9_URL") {
		t.Errorf("postgresql: host access %v; a database without port_map or scheme is no web app:\n%s", pg.Stack.HostAccess, pg.Stack.Env)
	}
	if len(pg.Notes) != 1 || !strings.Contains(pg.Notes[0], "POSTGRES_PASSWORD") {
		t.Errorf("postgresql notes %v", pg.Notes)
	}

	fa := ts["app-2fauth"] // folder 2FAuth, compose name 2fauth: AppKey's rule for a leading digit
	if !slices.Equal(fa.Stack.Secrets, []Secret{{Name: "APP_KEY", Length: 32}}) {
		t.Errorf("2fauth secrets %+v (Laravel's APP_KEY must keep its 32 characters)", fa.Stack.Secrets)
	}
	wantSettings(t, fa, map[string]string{"W9_HTTP_PORT_SET": "8000", VarURL: ""})
	wantContains(t, "2fauth env", fa.Stack.Env, "W9_HTTP_PORT=8000")
	wantContains(t, "2fauth compose", fa.Stack.Compose, "source: ./data\n")
	if !strings.HasPrefix(fa.Icon, "https://") || len(fa.Screenshots) != 3 || !slices.Contains(fa.Architectures, "arm64") ||
		!strings.HasPrefix(fa.Tagline, "A web app to manage") || fa.Homepage != "https://2fauth.app" {
		t.Errorf("2fauth metadata: icon %q screenshots %v arch %v tagline %q homepage %q", fa.Icon, fa.Screenshots,
			fa.Architectures, fa.Tagline, fa.Homepage)
	}

	so := ts["sonarr"] // shared folders: under the shared dir variable, inside the project, no host access
	wantContains(t, "sonarr compose", so.Stack.Compose, "${STACKHUB_SHARED_DIR}/Media/TV Shows", "${STACKHUB_SHARED_DIR}/Downloads",
		"source: ./data/config", "PUID: $PUID")
	wantContains(t, "sonarr env", so.Stack.Env, "STACKHUB_SHARED_DIR=./shared")
	if len(so.Stack.HostAccess) > 0 {
		t.Errorf("sonarr host access %v", so.Stack.HostAccess)
	}

	jf := ts["jellyfin"] // devices stay, as host access checked at install, with a note
	if !slices.ContainsFunc(jf.Stack.HostAccess, func(s string) bool { return strings.Contains(s, "/dev/") }) ||
		!slices.ContainsFunc(jf.Notes, func(s string) bool { return strings.Contains(s, "devices") }) {
		t.Errorf("jellyfin: host access %v notes %v", jf.Stack.HostAccess, jf.Notes)
	}

	// The same hard-coded literal in two services is one secret, so the app still reaches its database.
	for _, tm := range ts {
		seen := map[string]bool{}
		for _, s := range tm.Stack.Secrets {
			if seen[s.Name] {
				t.Errorf("%s: secret %s twice", tm.Key, s.Name)
			}
			seen[s.Name] = true
		}
	}
}

func TestRuntipiSamples(t *testing.T) {
	ts, refused := readSample(t, "runtipi-appstore", "runtipi")
	if len(ts) != 26 || len(refused) != 2 {
		t.Fatalf("%d accepted, refused %+v; want 26 and electrs, mempool", len(ts), refused)
	}
	for _, r := range refused {
		if !strings.Contains(r.Reason, "another app's data") {
			t.Errorf("refused %s: %s", r.Key, r.Reason)
		}
	}
	for _, tm := range ts {
		st, err := tm.StackFor(tm.Versions[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(&st, ValidateOptions{AllowHostAccess: true, MaxSize: MaxImportSize}); err != nil {
			t.Errorf("%s %s: %v", tm.Key, tm.Versions[0], err)
		}
	}

	bs := ts["bookstack"] // docker-compose.json: random fields with min and base64
	if !slices.Equal(bs.Stack.Secrets, []Secret{{Name: "APP_KEY", Length: 32, Encoding: "base64"},
		{Name: "ROOT_ACCESS_PASSWORD", Length: 32}, {Name: "BOOKSTACK_DB_PASS", Length: 32}}) {
		t.Errorf("bookstack secrets %+v", bs.Stack.Secrets)
	}
	if !slices.Equal(bs.Versions, []string{"26.05.20260608"}) || !slices.Equal(bs.Categories, []string{"data"}) ||
		!strings.HasPrefix(bs.Icon, "data:image/jpeg;base64,") || bs.Hidden || len(bs.Stack.HostAccess) > 0 {
		t.Errorf("bookstack: versions %v categories %v icon %.30q hidden %v host access %v", bs.Versions, bs.Categories,
			bs.Icon, bs.Hidden, bs.Stack.HostAccess)
	}
	wantSettings(t, bs, map[string]string{"W9_HTTP_PORT_SET": "8119", VarURL: "", "TZ_SET": "UTC"})
	wantContains(t, "bookstack env", bs.Stack.Env, "W9_HTTP_PORT=80", "APP_DATA_DIR=.", "APP_DOMAIN=${W9_URL}")
	wantContains(t, "bookstack compose", bs.Stack.Compose, "lscr.io/linuxserver/bookstack:${W9_VERSION}",
		"${W9_HTTP_PORT_SET}:${W9_HTTP_PORT}", "source: ${APP_DATA_DIR}/data/config", "DB_PASSWORD: ${BOOKSTACK_DB_PASS}")
	wantContains(t, "bookstack description", bs.Description, "BookStack")

	fa := ts["app-2fauth"] // docker-compose.yml with x-runtipi
	wantContains(t, "2fauth compose", fa.Stack.Compose, "${W9_HTTP_PORT_SET}:${W9_HTTP_PORT}", "container_name: ${W9_ID}")
	wantContains(t, "2fauth env", fa.Stack.Env, "W9_HTTP_PORT=8000", "W9_HTTP_PORT_SET=8235")
	if strings.Contains(fa.Stack.Compose, "x-runtipi") {
		t.Errorf("2fauth compose keeps x-runtipi:\n%s", fa.Stack.Compose)
	}

	if !ts["chatgpt-ui"].Hidden {
		t.Error("chatgpt-ui is deprecated upstream: want Hidden")
	}
	wantSettings(t, ts["bitcoind"], map[string]string{"BITCOIND_LISTEN_SET": ""})

	ad := ts["adguard"] // literal host ports behind ${NETWORK_INTERFACE}: booked settings, tcp and udp one each
	wantSettings(t, ad, map[string]string{"W9_ADGUARD_53_PORT_SET": "53", "W9_ADGUARD_853_PORT_SET": "853"})
	wantContains(t, "adguard compose", ad.Stack.Compose, "${NETWORK_INTERFACE:-0.0.0.0}:${W9_ADGUARD_53_PORT_SET}:53/udp")
}
