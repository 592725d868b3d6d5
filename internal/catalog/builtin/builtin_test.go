package builtin

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/engine"
)

// testPassword is shaped like the engine's W9_POWER_PASSWORD: letters, digits and "!".
const testPassword = "Xq7!mR2pL9!vB4nK8sT1"

// testRCode is shaped like the engine's W9_RCODE: 12 letters and digits.
const testRCode = "a1B2c3D4e5F6"

// requiredKinds are the kinds of app the built-in catalog must cover, each with a template that provides it.
var requiredKinds = map[string]string{
	"web app with a database": "wordpress",
	"static site server":      "nginx",
	"Git service":             "gitea",
	"monitoring tool":         "uptime-kuma",
	"metrics monitoring":      "prometheus",
	"key-value store":         "redis",
}

// databaseImages are the repositories whose services must carry a healthcheck, so dependents can wait for them.
var databaseImages = []string{"mariadb", "mysql", "postgres", "redis"}

// installed is a template rendered into a project directory the way the host renders an install, and loaded.
type installed struct {
	dir     string
	env     map[string]string // the rendered .env as Compose reads it
	ports   map[string]int    // W9_*_PORT_SET variable → booked host port
	project *engine.Project
}

// install renders tpl at version into a temporary directory as project id on network, booking each port
// setting with port, and loads it.
func install(t *testing.T, tpl catalog.Template, version, id, network string, port func() int) installed {
	t.Helper()
	stack, err := tpl.StackFor(version)
	if err != nil {
		t.Fatal(err)
	}
	settings, err := stack.Settings()
	if err != nil {
		t.Fatalf("%s: %v", tpl.Key, err)
	}
	vars, err := catalog.ParseEnv(stack.Env)
	if err != nil {
		t.Fatalf("%s: %v", tpl.Key, err)
	}
	defined := map[string]bool{}
	for _, v := range vars {
		defined[v.Key] = true
	}
	values := map[string]string{catalog.VarID: id, catalog.VarAppName: tpl.Key, catalog.VarVersion: version,
		catalog.VarNetwork: network, catalog.VarPowerPassword: testPassword}
	in := installed{dir: t.TempDir(), ports: map[string]int{}}
	for _, s := range settings {
		if s.Port {
			in.ports[s.Name] = port()
			values[s.Name] = strconv.Itoa(in.ports[s.Name])
		}
	}
	if defined[catalog.VarRCode] {
		values[catalog.VarRCode] = testRCode
	}
	if defined[catalog.VarURL] {
		values[catalog.VarURL] = "127.0.0.1:" + values["W9_HTTP_PORT_SET"]
	}
	env, err := catalog.RenderEnv(stack.Env, values)
	if err != nil {
		t.Fatalf("%s: %v", tpl.Key, err)
	}
	write := func(rel, text string, mode os.FileMode) {
		path := filepath.Join(in.dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(engine.ComposeFile, stack.Compose, 0o644)
	write(".env", env, 0o600)
	for rel, text := range stack.Files {
		write(rel, text, 0o644)
	}
	if in.env, err = engine.ReadEnvFile(filepath.Join(in.dir, ".env")); err != nil {
		t.Fatal(err)
	}
	if in.project, err = engine.Load(t.Context(), id, in.dir); err != nil {
		t.Fatalf("%s %s: the rendered project does not load: %v", tpl.Key, version, err)
	}
	return in
}

// imageTag returns the tag of an image reference ("" when it has none, or only a digest).
func imageTag(ref string) string {
	if strings.Contains(ref, "@") {
		return ""
	}
	slash, colon := strings.LastIndexByte(ref, '/'), strings.LastIndexByte(ref, ':')
	if colon <= slash {
		return ""
	}
	return ref[colon+1:]
}

// isDatabase reports whether an image reference is one of databaseImages, on Docker Hub's library.
func isDatabase(ref string) bool {
	repo, _, _ := strings.Cut(ref, ":")
	return slices.Contains(databaseImages, repo)
}

func TestTemplatesValidate(t *testing.T) {
	ts, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) < 12 {
		t.Fatalf("%d built-in templates, want at least 12", len(ts))
	}
	keys := map[string]bool{}
	for _, tpl := range ts {
		keys[tpl.Key] = true
	}
	for kind, key := range requiredKinds {
		if !keys[key] {
			t.Errorf("no %s: template %s is missing", kind, key)
		}
	}
	defaults := map[string]string{} // default host port → the template using it
	next := 20000
	port := func() int { next++; return next }
	for _, tpl := range ts {
		t.Run(tpl.Key, func(t *testing.T) {
			checkMeta(t, tpl)
			settings, err := tpl.Stack.Settings()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range settings {
				if s.Port {
					if other, dup := defaults[s.Default]; dup {
						t.Errorf("%s defaults to port %s, like %s; give each template its own default", s.Name, s.Default, other)
					}
					defaults[s.Default] = tpl.Key
				}
			}
			for _, version := range tpl.Versions {
				stack, err := tpl.StackFor(version)
				if err != nil {
					t.Fatal(err)
				}
				if err := catalog.Validate(&stack, catalog.ValidateOptions{AllowHostAccess: false}); err != nil {
					t.Errorf("version %s is refused for a user stack: %v", version, err)
				}
				in := install(t, tpl, version, "sh-"+tpl.Key, "stackhub-test", port)
				checkProject(t, tpl, version, in)
			}
		})
	}
}

// checkMeta checks the template's metadata and description.
func checkMeta(t *testing.T, tpl catalog.Template) {
	t.Helper()
	if !tpl.Release || tpl.Name == "" {
		t.Errorf("release %v, trademark %q", tpl.Release, tpl.Name)
	}
	for _, part := range []string{"# " + tpl.Name + "\n", "## First login\n", "## Data\n"} {
		if !strings.Contains(tpl.Description, part) {
			t.Errorf("README.md has no %q: the description says what the app is, how to sign in and where data lives", part)
		}
	}
	for _, v := range tpl.Versions {
		if v == "latest" {
			t.Errorf("version %q: pin a tag", v)
		}
	}
	if r := tpl.Stack.Requirements; r.CPU <= 0 || r.Memory <= 0 || r.Disk <= 0 {
		t.Errorf("requirements %+v: give cpu, memory and disk", r)
	}
	if len(tpl.Stack.HostAccess) > 0 {
		t.Errorf("needs host access: %v", tpl.Stack.HostAccess)
	}
	env, _ := catalog.ParseEnv(tpl.Stack.Env)
	has := map[string]bool{}
	for _, e := range env {
		has[e.Key] = true
	}
	if has["W9_HTTP_PORT_SET"] != has[catalog.VarURL] {
		t.Errorf("W9_HTTP_PORT_SET defined %v but W9_URL %v: a web app defines both, other apps neither",
			has["W9_HTTP_PORT_SET"], has[catalog.VarURL])
	}
}

// checkProject checks a rendered, loaded project against the booked ports and the catalog conventions.
func checkProject(t *testing.T, tpl catalog.Template, version string, in installed) {
	t.Helper()
	p, id := in.project, in.env[catalog.VarID]
	var published, booked []int
	for _, n := range in.ports {
		booked = append(booked, n)
	}
	var main []string
	for name, s := range p.Services {
		for _, pc := range s.Ports {
			n, err := strconv.Atoi(pc.Published)
			if err != nil {
				t.Errorf("%s: service %s publishes %q", version, name, pc.Published)
			}
			published = append(published, n)
		}
		tag := imageTag(s.Image)
		if tag == "" || tag == "latest" {
			t.Errorf("%s: service %s runs %q; pin the image to a tag", version, name, s.Image)
		}
		switch s.ContainerName {
		case id:
			main = append(main, name)
			if tag != version {
				t.Errorf("%s: the main service %s runs %q, not the version's tag", version, name, s.Image)
			}
		case id + "-" + name:
		default:
			t.Errorf("%s: service %s is named %q; want %q for the main service or %q", version, name, s.ContainerName, id, id+"-"+name)
		}
		if s.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("%s: service %s restarts %q, want unless-stopped", version, name, s.Restart)
		}
		if _, ok := s.Networks["default"]; !ok || len(s.Networks) != 1 {
			t.Errorf("%s: service %s is on %v, want the default network only", version, name, s.Networks)
		}
		if isDatabase(s.Image) && (s.HealthCheck == nil || len(s.HealthCheck.Test) == 0) {
			t.Errorf("%s: database service %s has no healthcheck", version, name)
		}
		for dep, cond := range s.DependsOn {
			if hc := p.Services[dep].HealthCheck; hc != nil && len(hc.Test) > 0 && cond.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s: service %s waits for %s to be %s; it has a healthcheck, wait for service_healthy", version, name, dep, cond.Condition)
			}
		}
		for _, v := range s.Volumes {
			switch {
			case v.Type == types.VolumeTypeVolume && v.Source == "":
				t.Errorf("%s: service %s has an anonymous volume at %s; name it", version, name, v.Target)
			case v.Type == types.VolumeTypeBind && !strings.HasPrefix(v.Source, in.dir+string(filepath.Separator)):
				t.Errorf("%s: service %s binds %s, outside the project", version, name, v.Source)
			}
		}
	}
	if len(main) != 1 {
		t.Errorf("%s: main services (container_name ${W9_ID}) %v, want exactly one", version, main)
	}
	slices.Sort(published)
	slices.Sort(booked)
	if !slices.Equal(published, booked) {
		t.Errorf("%s: publishes host ports %v, but %v were booked (%v)", version, published, booked, in.ports)
	}
	n, ok := p.Networks["default"]
	if len(p.Networks) != 1 || !ok || !bool(n.External) || n.Name != in.env[catalog.VarNetwork] {
		t.Errorf("%s: networks %+v, want only default: the external network named W9_NETWORK", version, p.Networks)
	}
}
