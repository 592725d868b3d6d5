package catalog

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readSample reads a store with its importer (detected from the layout) and indexes the result by key.
func readStoreSample(t *testing.T, dir, wantFormat string) (map[string]Template, map[string]string) {
	t.Helper()
	im, ts, refused, err := ReadStore(dir, "", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if im.Format() != wantFormat {
		t.Fatalf("detected %s, want %s", im.Format(), wantFormat)
	}
	got := map[string]Template{}
	for _, tm := range ts {
		if tm.Store != wantFormat {
			t.Errorf("%s: store %q", tm.Key, tm.Store)
		}
		if err := Validate(&tm.Stack, ValidateOptions{AllowHostAccess: true, MaxSize: MaxImportSize}); err != nil {
			t.Errorf("%s does not validate: %v", tm.Key, err)
		}
		got[tm.Key] = tm
	}
	reasons := map[string]string{}
	for _, r := range refused {
		reasons[r.Key] = r.Reason
	}
	return got, reasons
}

func has(s, sub string) bool { return strings.Contains(s, sub) }

func secretNames(tm Template) []string {
	var out []string
	for _, s := range tm.Stack.Secrets {
		out = append(out, s.Name)
	}
	return out
}

func wantEnv(t *testing.T, tm Template, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !slices.Contains(strings.Split(tm.Stack.Env, "\n"), l) {
			t.Errorf("%s: .env lacks %q:\n%s", tm.Key, l, tm.Stack.Env)
		}
	}
}

func wantCompose(t *testing.T, tm Template, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !has(tm.Stack.Compose, p) {
			t.Errorf("%s: compose lacks %q:\n%s", tm.Key, p, tm.Stack.Compose)
		}
	}
}

func TestUmbrelFixtures(t *testing.T) {
	got, refused := readStoreSample(t, filepath.Join("testdata", "umbrel"), "umbrel")
	for key, want := range map[string]string{"lnwallet": "depends on other Umbrel apps (lightning)",
		"oldapp": "disabled: true", "migrator": "hooks/pre-start line 4 runs"} {
		if !has(refused[key], want) {
			t.Errorf("%s: refusal %q, want one naming %q", key, refused[key], want)
		}
	}
	if len(got) != 4 {
		t.Fatalf("accepted %d apps, want webnote, sharebox, torlink, tidyhooks", len(got))
	}

	// app_proxy names the main service and port: published on the booked web port, the manifest's port its default.
	w := got["webnote"]
	if w.Versions[0] != "2.4.1" || w.Categories[0] != "productivity" || w.Icon != umbrelGallery+"webnote/icon.svg" ||
		w.Screenshots[1] != umbrelGallery+"webnote/2.jpg" || w.Homepage != "https://example.org/webnote" {
		t.Errorf("webnote metadata: %+v", w)
	}
	if has(w.Stack.Compose, "app_proxy") {
		t.Error("app_proxy is still a service")
	}
	wantCompose(t, w, "${W9_HTTP_PORT_SET}:8080", "container_name: $W9_ID", "- webnote_web_1",
		"container_name: webnote_db_1", "./data/notes:/data", "./data/db:/var/lib/db")
	wantEnv(t, w, "W9_HTTP_PORT_SET=3400", "W9_HTTP_PORT=8080", "W9_ADMIN_PATH=/login", "W9_LOGIN_USER=admin",
		"W9_LOGIN_PASSWORD=${APP_PASSWORD}", "W9_ADDRESS=localhost", "DEVICE_DOMAIN_NAME=${W9_ADDRESS}", "APP_PASSWORD=", "APP_SEED=")
	if !slices.Equal(secretNames(w), []string{"APP_PASSWORD", "APP_SEED"}) || w.Stack.Secrets[1].Encoding != "hex" {
		t.Errorf("webnote secrets = %+v", w.Stack.Secrets)
	}

	// exports.sh: a literal becomes .env (and resolves APP_HOST/APP_PORT), derive_entropy a secret, a command empty.
	s := got["sharebox"]
	wantEnv(t, s, `APP_SHAREBOX_PORT="9000"`, "APP_SHAREBOX_LOCAL_IPS=", "W9_HTTP_PORT_SET=3410", "W9_HTTP_PORT=9000",
		"SHARED_FOLDERS_SET=./shared", "W9_LOGIN_PASSWORD=changeme")
	wantCompose(t, s, "${SHARED_FOLDERS_SET}/downloads:/downloads", "./data/config:/config", "- sharebox_server_1")
	if !slices.Contains(secretNames(s), "APP_SHAREBOX_TOKEN") || s.Stack.Files["data/config/sharebox.conf"] == "" {
		t.Errorf("sharebox: secrets %v, files %v", secretNames(s), s.Stack.Files)
	}
	if !slices.ContainsFunc(s.Notes, func(n string) bool { return has(n, "APP_SHAREBOX_LOCAL_IPS") }) {
		t.Errorf("sharebox notes = %v", s.Notes)
	}

	// A template bound read-only becomes a config Compose renders; it is not a file of the stack.
	tl := got["torlink"]
	wantCompose(t, tl, "configs:", "content: |", "torlink_web_1:${APP_TORLINK_PORT}", "target: /etc/tor/torrc")
	if _, ok := tl.Stack.Files["torrc"]; ok || has(tl.Stack.Compose, "./torrc") {
		t.Errorf("torlink still binds the unrendered file: files %v\n%s", tl.Stack.Files, tl.Stack.Compose)
	}
}

func TestCosmosSamples(t *testing.T) {
	got, refused := readStoreSample(t, filepath.Join("..", "..", "testdata", "cosmos-servapps"), "cosmos")
	if len(refused) > 0 {
		t.Errorf("refused: %v", refused)
	}
	// Mealie: the installer form's fields are settings with their initial values, a password field a secret,
	// {Hostnames...} the install's address, the route's target port the booked web port.
	m := got["mealie"]
	wantEnv(t, m, "SMTP_SERVER_SET=smtp.example.com", "SMTP_PORT_VALUE_SET=25", "SMTP_PASSWORD=",
		"W9_HTTP_PORT_SET=9000", "W9_HTTP_PORT=9000")
	wantCompose(t, m, "BASE_URL=${W9_URL}", "SMTP_HOST=${SMTP_SERVER_SET}", "${W9_HTTP_PORT_SET}:9000",
		"container_name: $W9_ID", "source: mealie-config")
	if has(m.Stack.Compose, "routes") || has(m.Stack.Compose, "cosmos-installer") {
		t.Errorf("Cosmos-only keys left:\n%s", m.Stack.Compose)
	}
	if m.Icon != cosmosImageBase+"Mealie/icon.png" || len(m.Screenshots) == 0 || len(m.Categories) == 0 {
		t.Errorf("mealie metadata: icon %q screenshots %v categories %v", m.Icon, m.Screenshots, m.Categories)
	}
	// Nextcloud: {Passwords.N} are generated secrets, stable names per N; {if Context.x} follows the default.
	n := got["nextcloud"]
	if !slices.Contains(secretNames(n), "PASSWORDS_0") || n.Stack.Secrets[0].Length != 24 {
		t.Errorf("nextcloud secrets = %+v", n.Stack.Secrets)
	}
	wantCompose(t, n, "${PASSWORDS_0}")
	// Durations in seconds and depends_on without a condition are written in Compose's form.
	wantCompose(t, got["paperless-ngx"], "condition: service_started")
	wantCompose(t, got["mastodon"], "stop_grace_period: 5s")
	// {DefaultDataPath} is the project's data directory.
	for key, tm := range got {
		if has(tm.Stack.Compose, "/cosmos-storage") || has(tm.Stack.Compose, "{ServiceName}") {
			t.Errorf("%s: an unrendered Cosmos path or tag:\n%s", key, tm.Stack.Compose)
		}
	}
}

func TestCosmosWhiskers(t *testing.T) {
	r := &cosmosRender{key: "app", b: newStoreStack(nil), context: map[string]cosmosValue{
		"on": {ref: "true", truth: true}, "path": {ref: "${PATH_SET}", truth: false}}}
	for in, want := range map[string]string{
		"{ServiceName}-db":                             "app-db",
		"{if Context.on}a{else}b{/if}":                 "a",
		"{if not Context.on}a{else}b{/if}":             "b",
		"{if Context.path}{Context.path}{/if}x":        "x",
		"{if Context.on}{if Context.path}1{/if}2{/if}": "2",
		"{!comment!}k":                                 "k",
		`\{ServiceName}`:                               "{ServiceName}",
		"{process.exit(1)}":                            "{process.exit(1)}",
		"{Hostnames.{StaticServiceName}.x.host}":       "${W9_URL}",
		"{DefaultDataPath}/data":                       "./data",
		"{Passwords.2}":                                "${PASSWORDS_2}",
	} {
		if got := r.render(in); got != want {
			t.Errorf("render(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPortainerSamples(t *testing.T) {
	got, refused := readStoreSample(t, filepath.Join("..", "..", "testdata", "portainer-templates"), "portainer")
	for key, want := range map[string]string{"cockroachdb": "type 4", "sql-server": "platform windows",
		"fetchcord": "not available offline", "servas": "not available offline"} {
		if !has(refused[key], want) {
			t.Errorf("%s: refusal %q, want one naming %q", key, refused[key], want)
		}
	}
	// MySQL (type 1): a container-only port is booked, an env without default named like a password a secret,
	// a preset a fixed value, a volume without bind a named volume.
	my := got["mysql"]
	wantCompose(t, my, "${W9_HTTP_PORT_SET}:3306/tcp", "MYSQL_ROOT_PASSWORD: ${MYSQL_ROOT_PASSWORD}",
		"var-lib-mysql:/var/lib/mysql", "image: mysql/mysql-server:5.7")
	wantEnv(t, my, "W9_HTTP_PORT_SET=3306", "MYSQL_ROOT_HOST=%", "MYSQL_ROOT_PASSWORD=")
	if my.Versions[0] != "5.7" || !slices.Equal(my.Categories, []string{"Database"}) || !has(my.Icon, "mysql.png") {
		t.Errorf("mysql: %v %v %q", my.Versions, my.Categories, my.Icon)
	}
	// Baserow: a bind into the host's folders becomes the install's data directory; the key drops "(container)".
	wantCompose(t, got["baserow"], "./data/opt/mediadepot/apps/baserow:/baserow/data", "${W9_HTTP_PORT_SET}:80/tcp")
	if got["baserow"].Name != "Baserow" {
		t.Errorf("baserow name %q", got["baserow"].Name)
	}
	// Pi-Hole: a select's default choice is the setting's default.
	wantEnv(t, got["pihole-unbound"], "DNSSEC_SET=true")
	// Dozzle keeps the Docker socket (host access).
	if !slices.ContainsFunc(got["dozzle"].Stack.HostAccess, func(h string) bool { return has(h, "docker.sock") }) {
		t.Errorf("dozzle host access = %v", got["dozzle"].Stack.HostAccess)
	}
	// Type 3 with the stack file in the list's own repository; duplicates of one key are one app.
	wantCompose(t, got["planka"], "container_name: $W9_ID")
	if !slices.ContainsFunc(got["nextcloud"].Notes, func(n string) bool { return has(n, "Nextcloud (stack)") }) {
		t.Errorf("nextcloud notes = %v", got["nextcloud"].Notes)
	}
}

func TestPortainerSingleFile(t *testing.T) {
	im, ts, _, err := ReadStore(filepath.Join("..", "..", "testdata", "portainer-templates", "templates.json"), "", ReadOptions{})
	if err != nil || im.Format() != "portainer" || len(ts) < 10 {
		t.Fatalf("single file: %v, %d templates", err, len(ts))
	}
}
