package catalog

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stackhub/stackhub/internal/engine"
)

// sampleLibrary is the sample of real Websoft9 templates in the repository's testdata.
const sampleLibrary = "../../testdata/websoft9-library"

// testPassword holds characters that need quoting in .env and must survive the round trip.
const testPassword = `a$b#c'd!@ e"f\g`

func TestSampleLibrary(t *testing.T) {
	templates, refused, err := ReadWebsoft9(sampleLibrary, false)
	if err != nil {
		t.Fatal(err)
	}
	var accepted []string
	for _, tpl := range templates {
		accepted = append(accepted, tpl.Key)
	}
	wantAccepted := []string{"appsmith", "discourse", "dolibarr", "drupal", "elasticsearch", "emqx", "focalboard",
		"ghost", "gitea", "gitlab", "grafana", "immich", "jenkins", "jitsi", "joomla", "kafka", "keycloak", "mariadb",
		"matomo", "mattermost", "metabase", "minio", "mongodb", "mysql", "n8n", "nextcloud", "nginx", "nocodb",
		"nodered", "odoo", "plausible", "portainer", "postgresql", "prometheus", "rabbitmq", "redis", "redmine", "supabase", "uptimekuma",
		"vaultwarden", "wikijs", "wordpress", "zabbix"}
	if diff := cmp.Diff(wantAccepted, accepted); diff != "" {
		t.Errorf("accepted templates (-want +got):\n%s", diff)
	}
	if len(refused) > 0 {
		t.Errorf("refused templates: %+v", refused)
	}
	for _, tpl := range templates {
		t.Run(tpl.Key, func(t *testing.T) {
			if !shellSplitSecret[tpl.Key] {
				checkRendered(t, tpl, testPassword)
				return
			}
			if _, _, err := loadRendered(t, tpl, testPassword); err == nil || !strings.Contains(err.Error(), "invalid command line string") {
				t.Errorf("load with a quoted password: %v, want an invalid command line", err)
			}
			checkRendered(t, tpl, shellSafePassword)
		})
	}
}

// shellSplitSecret lists templates whose string `command` holds a secret: Compose splits it like a shell
// line, so a quote or blank in the password breaks or splits the command. The engine's generated secrets use
// letters, digits and ! only, which such commands keep whole.
var shellSplitSecret = map[string]bool{"redis": true}

// upstreamStyle lists templates written as their upstream writes them: images with their own tags (not
// W9_VERSION) and no container named W9_ID.
var upstreamStyle = map[string]bool{"supabase": true}

// shellSafePassword still needs quoting in .env ($ and #) but has no quote or blank.
const shellSafePassword = `a$b#c!d@e`

func TestSampleLibraryHostAccess(t *testing.T) {
	templates, _, err := ReadWebsoft9(sampleLibrary, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, tpl := range templates {
		if len(tpl.Stack.HostAccess) > 0 {
			got[tpl.Key] = tpl.Stack.HostAccess
		}
	}
	want := map[string][]string{
		"elasticsearch": {"service busybox runs privileged"},
		"gitlab":        {"service runner binds the Docker socket (/var/run/docker.sock)"},
		"portainer":     {"service portainer binds the Docker socket (/var/run/docker.sock)"},
		"wordpress":     {"service init binds the Docker socket (/var/run/docker.sock)"},
		"zabbix": {"service zabbix-agent binds the Docker socket (/var/run)",
			"service zabbix-agent binds the host path /", "service zabbix-agent runs privileged"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("host access (-want +got):\n%s", diff)
	}
}

// rendered is a template rendered for a test install.
type rendered struct {
	dir     string
	id      string
	version string
	values  map[string]string
	booked  []string // booked port settings and fixed ports
}

// loadRendered renders a template's default version with engine values into a fresh directory and loads it
// as the engine does.
func loadRendered(t *testing.T, tpl Template, password string) (rendered, *engine.Project, error) {
	t.Helper()
	r := rendered{id: "t-" + tpl.Key, version: tpl.Versions[0]}
	st, err := tpl.StackFor(r.version)
	if err != nil {
		t.Fatal(err)
	}
	settings, err := st.Settings()
	if err != nil {
		t.Fatal(err)
	}
	r.values = map[string]string{VarID: r.id, VarAppName: tpl.Key, VarDist: tpl.Dist, VarNetwork: "stackhub-test",
		VarPowerPassword: password, VarRCode: "Rc0de1234567", VarURL: "203.0.113.7"}
	for i, s := range settings {
		if s.Port {
			r.values[s.Name] = strconv.Itoa(21000 + i)
			r.booked = append(r.booked, r.values[s.Name])
		}
	}
	env, err := RenderEnv(st.Env, r.values)
	if err != nil {
		t.Fatal(err)
	}
	r.dir = writeProject(t, st, env)
	for _, f := range st.FixedPorts { // "service S publishes host port N/proto"
		r.booked = append(r.booked, strings.Split(f[strings.LastIndex(f, " ")+1:], "/")[0])
	}
	p, err := engine.Load(context.Background(), r.id, r.dir) // the project is named W9_ID, as an install names it
	return r, p, err
}

// checkRendered checks a rendered template: booked ports published, main container named W9_ID, an image
// tagged with the version, and every value (the password included) read back from .env.
func checkRendered(t *testing.T, tpl Template, password string) {
	r, p, err := loadRendered(t, tpl, password)
	if err != nil {
		t.Fatalf("load rendered %s: %v", tpl.Key, err)
	}
	if diff := cmp.Diff(sortedSet(r.booked), publishedPorts(p)); diff != "" {
		t.Errorf("published host ports (-booked +published):\n%s", diff)
	}
	var names, images []string
	for _, s := range p.Services {
		names = append(names, s.ContainerName)
		images = append(images, s.Image)
	}
	if !upstreamStyle[tpl.Key] && !slices.Contains(names, r.id) {
		t.Errorf("container names %v, want one to be W9_ID %q", names, r.id)
	}
	if !upstreamStyle[tpl.Key] && !slices.ContainsFunc(images, func(img string) bool { return strings.HasSuffix(img, ":"+r.version) }) {
		t.Errorf("images %v, want one tagged %q", images, r.version)
	}
	checkEnvRoundTrip(t, tpl.Stack.Env, r.dir, r.values)
}

// checkEnvRoundTrip checks that the rendered .env reads back every value, and that keys defined as
// $W9_POWER_PASSWORD in the template resolve to the password.
func checkEnvRoundTrip(t *testing.T, templateEnv, dir string, values map[string]string) {
	got, err := engine.ReadEnvFile(filepath.Join(dir, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range values {
		if got[k] != want {
			t.Errorf(".env %s = %q, want %q", k, got[k], want)
		}
	}
	vars, err := ParseEnv(templateEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vars {
		if (v.Value == "$W9_POWER_PASSWORD" || v.Value == "${W9_POWER_PASSWORD}") && got[v.Key] != values[VarPowerPassword] {
			t.Errorf(".env %s = %q, want the password %q", v.Key, got[v.Key], values[VarPowerPassword])
		}
	}
}

// writeProject writes a rendered stack into a fresh directory.
func writeProject(t *testing.T, st Stack, env string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"docker-compose.yml": st.Compose, ".env": env}
	for name, body := range st.Files {
		files[name] = body
	}
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// publishedPorts lists the host ports the enabled services publish, sorted.
func publishedPorts(p *engine.Project) []string {
	var out []string
	for _, s := range p.Services {
		for _, port := range s.Ports {
			if port.Published != "" {
				out = append(out, port.Published)
			}
		}
	}
	return sortedSet(out)
}

// sortedSet sorts and removes duplicates.
func sortedSet(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return slices.Compact(out)
}
