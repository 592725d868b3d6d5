package host_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/catalog"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// classesDir holds small templates, one per class of Compose usage the whole Websoft9 library has, in its layout.
const classesDir = "testdata/classes/apps"

// importClass copies the template key of classesDir into a fresh library and imports it; it returns the warnings.
func importClass(t *testing.T, s *tu.Server, lib *tu.Library, key string) []string {
	t.Helper()
	return importClassWith(t, s, lib, key, nil)
}

// importClassWith is importClass with extra files put in the template's folder (by relative path).
func importClassWith(t *testing.T, s *tu.Server, lib *tu.Library, key string, extra map[string][]byte) []string {
	t.Helper()
	lib.AddDir(t, key, filepath.Join(classesDir, key))
	for rel, b := range extra {
		if err := os.WriteFile(filepath.Join(lib.Dir, "apps", key, rel), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ts, refused, err := catalog.ReadWebsoft9(lib.Dir, false)
	if err != nil || len(refused) > 0 {
		t.Fatalf("read %s: %v %+v", key, err, refused)
	}
	var warnings []string
	c := client.New(s.URL, tu.AdminToken)
	for _, tpl := range ts {
		if tpl.Key != key {
			continue
		}
		res, err := c.ImportTemplate(t.Context(), tpl)
		if err != nil {
			t.Fatalf("import %s: %v", key, err)
		}
		warnings = res.Warnings
	}
	return warnings
}

// installClass installs app as name and waits for the job; it returns the instance (the server uninstalls it
// at the end of the test).
func installClass(t *testing.T, c *client.Client, app, name string, settings map[string]string) *client.Instance {
	t.Helper()
	res, err := c.Install(t.Context(), client.InstallRequest{App: app, Name: name, Settings: settings})
	if err != nil {
		t.Fatalf("install %s: %v", app, err)
	}
	if job := runJob(t, c, func() (*client.Job, error) { return res.Job, nil }); job.State != "succeeded" {
		t.Fatalf("install %s: %+v", app, job)
	}
	return res.Instance
}

// A .env with a key defined twice and a forward reference, and a compose file using an undefined variable, are
// read as Compose reads them (the last wins; empty; empty), with warnings kept with the version.
func TestEnvQuirksRunAsCompose(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	s := tu.StartServer(t, tu.Engines(t)[0], tu.Options{HealthTimeout: 30 * time.Second})
	lib := tu.NewLibrary(t)
	warnings := importClass(t, s, lib, "envquirks")
	want := []string{"EARLY refers to LATER", "TWICE is defined twice", "variable NOWHERE is not defined"}
	if len(warnings) != len(want) {
		t.Fatalf("warnings = %q, want %d", warnings, len(want))
	}
	for i, w := range want {
		if !strings.Contains(warnings[i], w) {
			t.Errorf("warning %d = %q, want %q in it", i, warnings[i], w)
		}
	}
	var versions []map[string]any
	s.Want(200, tu.Anon, "GET", "/app/1/updates", nil).JSON(t, &versions)
	if st, _ := versions[0]["stack"].(map[string]any); st == nil || len(st["warnings"].([]any)) != 3 {
		t.Errorf("the stored version lacks its warnings: %v", versions[0]["stack"])
	}
	c := client.New(s.URL, tu.AdminToken)
	in := installClass(t, c, "envquirks", "quirks", nil)
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%s/", in.Port)); got != "second [|]" {
		t.Errorf("the app sees %q, want %q", got, "second [|]")
	}
}

// Top-level configs are mounted read-only: a file config from the template's files, a content config (with its
// variables interpolated) from a file the engine writes in the project.
func TestConfigsMountReadOnly(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	s := tu.StartServer(t, tu.Engines(t)[0], tu.Options{HealthTimeout: 30 * time.Second})
	lib := tu.NewLibrary(t)
	if w := importClass(t, s, lib, "configs"); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	c := client.New(s.URL, tu.AdminToken)
	in := installClass(t, c, "configs", "cfg", nil)
	base := fmt.Sprintf("http://127.0.0.1:%s", in.Port)
	if got := httpGet(t, base+"/data"); got != "from a file" {
		t.Errorf("the file config reads %q", got)
	}
	want := "inline for " + s.Prefix + "-cfg"
	if got := waitBody(t, base+"/dep", want); got != want { // content has no healthcheck
		t.Errorf("the content config reads %q", got)
	}
	req, _ := http.NewRequest("PUT", base+"/data", strings.NewReader("overwritten"))
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusInternalServerError {
		t.Errorf("writing into a config: %v %v; want a refusal (read-only)", r, err)
	}
}

// A bind source missing from the template's files is created as an empty directory inside the project, as Compose
// creates it, with a warning.
func TestMissingBindSourceIsCreated(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	s := tu.StartServer(t, tu.Engines(t)[0], tu.Options{HealthTimeout: 30 * time.Second})
	lib := tu.NewLibrary(t)
	if w := importClass(t, s, lib, "missingbind"); len(w) != 1 || !strings.Contains(w[0], "bind source ./export is not in the template's files") {
		t.Errorf("warnings: %q", w)
	}
	c := client.New(s.URL, tu.AdminToken)
	in := installClass(t, c, "missingbind", "mb", nil)
	base := fmt.Sprintf("http://127.0.0.1:%s", in.Port)
	req, _ := http.NewRequest("PUT", base+"/data", strings.NewReader("exported"))
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode/100 != 2 {
		t.Fatalf("write into the created directory: %v %v", r, err)
	}
	b, err := os.ReadFile(filepath.Join(s.DataDir, "apps", "mb", "export", "data.txt"))
	if err != nil || string(b) != "exported" {
		t.Errorf("the project's export directory holds %q, %v", b, err)
	}
}

// A fixed container name never collides: two installs run side by side, every container has StackHub's name, and
// each install's services reach each other by the template's name, on a network private to the install.
func TestFixedContainerNamesSideBySide(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	s := tu.StartServer(t, tu.Engines(t)[0], tu.Options{HealthTimeout: 30 * time.Second})
	lib := tu.NewLibrary(t)
	if w := importClass(t, s, lib, "fixednames"); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	c := client.New(s.URL, tu.AdminToken)
	for i, name := range []string{"one", "two"} {
		in := installClass(t, c, "fixednames", name, map[string]string{"W9_HTTP_PORT_SET": fmt.Sprint(dockertest.FreePort(t))})
		project := s.Prefix + "-" + name
		if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%s/dep", in.Port)); got != "db-of-"+project+" v1" {
			t.Errorf("install %d reaches %q by the template's name, want its own db", i+1, got)
		}
		if out := dockertest.Docker(t, "inspect", "-f", "{{.Name}}", project+"-db"); strings.TrimSpace(out) != "/"+project+"-db" {
			t.Errorf("the db container of %s is %q", name, out)
		}
	}
	if out := dockertest.Docker(t, "ps", "-a", "-q", "--filter", "name=^fixednames-db$"); strings.TrimSpace(out) != "" {
		t.Errorf("a container has the template's fixed name: %s", out)
	}
}

// A fixed host port is booked at install like a port setting, and the install is refused, with nothing created,
// only while the port is taken.
func TestFixedHostPortIsBooked(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	s := tu.StartServer(t, tu.Engines(t)[0], tu.Options{HealthTimeout: 30 * time.Second})
	lib := tu.NewLibrary(t)
	port := dockertest.FreePort(t)
	lib.AddDir(t, "fixedport", filepath.Join(classesDir, "fixedport"))
	envFile := filepath.Join(lib.Dir, "apps", "fixedport", ".env")
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(envFile, []byte(strings.Replace(string(b), "ADMIN_PORT=18080", fmt.Sprintf("ADMIN_PORT=%d", port), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	lib.Import(t, s.URL)
	var versions []struct {
		Stack catalog.Stack `json:"stack"`
	}
	s.Want(200, tu.Anon, "GET", "/app/1/updates", nil).JSON(t, &versions)
	if want := fmt.Sprintf("service admin publishes host port %d/tcp", port); len(versions) != 1 ||
		len(versions[0].Stack.FixedPorts) != 1 || versions[0].Stack.FixedPorts[0] != want {
		t.Fatalf("stored versions %+v, want the fixed port %q", versions, want)
	}
	if page := httpGet(t, s.URL+"/ui/apps/1"); !strings.Contains(page, fmt.Sprintf("host port %d/tcp", port)) {
		t.Errorf("the app page does not mark the fixed port")
	}

	c := client.New(s.URL, tu.AdminToken)
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Install(t.Context(), client.InstallRequest{App: "fixedport", Name: "fp"})
	l.Close()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("port %d/tcp, which service admin publishes as a fixed host port, is already in use", port)) {
		t.Fatalf("install with the port taken: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "apps", "fp")); !os.IsNotExist(err) {
		t.Errorf("a refused install left its directory: %v", err)
	}
	if ins, err := c.Instances(t.Context()); err != nil || len(ins) != 0 {
		t.Errorf("a refused install left instances %+v, %v", ins, err)
	}

	installClass(t, c, "fixedport", "fp", nil)
	if got := waitBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "admin v1"); got != "admin v1" { // no healthcheck
		t.Errorf("the fixed port answers %q", got)
	}
	bs, err := s.Store.Q().PortBookings(t.Context(), "fp")
	if err != nil || len(bs) != 2 || bs[0].Port != port && bs[1].Port != port {
		t.Errorf("bookings %+v, %v; want the web port and %d", bs, err, port)
	}
	if _, err := c.Install(t.Context(), client.InstallRequest{App: "fixedport", Name: "fp2"}); err == nil ||
		!strings.Contains(err.Error(), "already in use") {
		t.Errorf("a second install with the same fixed port: %v", err)
	}
}

// cgroup, runtime, devices and a bind whose host path a setting chooses are host access: the admin's templates
// run with them, the app page lists them, and an ordinary user cannot publish them.
func TestHostAccessKindsRun(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	s := tu.StartServer(t, tu.Engines(t)[0], tu.Options{HealthTimeout: 30 * time.Second})
	lib := tu.NewLibrary(t)
	importClass(t, s, lib, "hostaccess")
	page := httpGet(t, s.URL+"/ui/apps/1")
	for _, want := range []string{"runs with the container runtime runc", "shares the host&#39;s namespace (cgroup: host)",
		"uses the host device /dev/null", "binds a host path that the setting W9_SCAN_PATH_SET chooses"} {
		if !strings.Contains(page, want) {
			t.Errorf("the app page does not list %q", want)
		}
	}
	scan := t.TempDir()
	if err := os.WriteFile(filepath.Join(scan, "data.txt"), []byte("scanned"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := client.New(s.URL, tu.AdminToken)
	in := installClass(t, c, "hostaccess", "ha", map[string]string{"W9_SCAN_PATH_SET": scan})
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%s/data", in.Port)); got != "scanned" {
		t.Errorf("the chosen host path reads %q", got)
	}
	out := dockertest.Docker(t, "inspect", "-f", "{{.HostConfig.Runtime}} {{.HostConfig.CgroupnsMode}} {{(index .HostConfig.Devices 0).PathInContainer}}", s.Prefix+"-ha")
	if strings.TrimSpace(out) != "runc host /dev/stackhub-null" {
		t.Errorf("the container runs with %q", out)
	}

	u := s.NewUser("publisher")
	aid := s.Want(200, u, "POST", "/app", map[string]any{"name": "Scanner", "package": "scanner"}).Int(t)
	b, _ := os.ReadFile(filepath.Join(classesDir, "hostaccess", "docker-compose.yml"))
	r := s.Do(u, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": "1", "stack": map[string]any{
		"compose": string(b), "env": "W9_SCAN_PATH_SET=/srv\nW9_HTTP_PORT_SET=9001\n"}})
	if r.Status != 400 || !strings.Contains(r.Text(), "needs access to the host") || !strings.Contains(r.Text(), "runtime runc") {
		t.Errorf("a user publishing host access: %d %s", r.Status, r.Body)
	}
}

// A runtime or GPU the host lacks is refused at install, before anything is created.
func TestMissingRuntimeOrGPUIsRefused(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	s := tu.StartServer(t, tu.Engines(t)[0], tu.Options{HealthTimeout: 30 * time.Second})
	lib := tu.NewLibrary(t)
	importClass(t, s, lib, "needsruntime")
	importClass(t, s, lib, "needsgpu")
	c := client.New(s.URL, tu.AdminToken)
	for app, want := range map[string]string{
		"needsruntime": "service web needs the container runtime stackhub-no-such-runtime, which this Docker Engine does not have",
		"needsgpu":     "service web reserves devices (gpu), and this Docker Engine has no GPU runtime",
	} {
		_, err := c.Install(t.Context(), client.InstallRequest{App: app, Name: app})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("install %s: %v; want %q", app, err, want)
		}
		if _, err := os.Stat(filepath.Join(s.DataDir, "apps", app)); !os.IsNotExist(err) {
			t.Errorf("a refused install of %s left its directory: %v", app, err)
		}
		if out := dockertest.Docker(t, "ps", "-a", "-q", "--filter", "label=com.docker.compose.project="+s.Prefix+"-"+app); strings.TrimSpace(out) != "" {
			t.Errorf("a refused install of %s left containers: %s", app, out)
		}
	}
	if ins, err := c.Instances(t.Context()); err != nil || len(ins) != 0 {
		t.Errorf("refused installs left instances %+v, %v", ins, err)
	}
}

// A service with a build section runs an image the Engine builds from the template's files: the build log is
// in the job's log, the image is labelled and named by its content, a second install reuses it, and it is removed
// with the last install that uses it.
func TestBuildFromTemplateFiles(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	s := tu.StartServer(t, tu.Engines(t)[0], tu.Options{HealthTimeout: 30 * time.Second})
	lib := tu.NewLibrary(t)
	// The Dockerfile copies a static binary, one of the template's files, onto scratch; at over 1 MiB it makes
	// the stack one only the administrator may import.
	bin := dockertest.Binary(t)
	if len(bin) <= 1<<20 {
		t.Fatalf("the testapp binary is %d bytes; the test wants a stack over 1 MiB", len(bin))
	}
	if w := importClassWith(t, s, lib, "buildapp", map[string][]byte{"testapp": bin}); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	c := client.New(s.URL, tu.AdminToken)
	install := func(name string) (*client.Instance, []string) {
		res, err := c.Install(t.Context(), client.InstallRequest{App: "buildapp", Name: name,
			Settings: map[string]string{"W9_HTTP_PORT_SET": fmt.Sprint(dockertest.FreePort(t))}})
		if err != nil {
			t.Fatal(err)
		}
		var log []string
		job, err := c.Follow(t.Context(), res.Job.ID, func(ev client.JobEvent) { log = append(log, ev.Stage+": "+ev.Message) })
		if err != nil || job.State != "succeeded" {
			t.Fatalf("install %s: %v %+v\n%s", name, err, job, strings.Join(log, "\n"))
		}
		return res.Instance, log
	}
	in, log := install("b1")
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%s/data", in.Port)); got != "hello from the template files" {
		t.Errorf("the built image serves %q", got)
	}
	if joined := strings.Join(log, "\n"); !strings.Contains(joined, "building: ") || !strings.Contains(joined, "COPY src/greeting.txt") {
		t.Errorf("the job log lacks the build's output:\n%s", joined)
	}
	image := strings.TrimSpace(dockertest.Docker(t, "inspect", "-f", "{{.Config.Image}}", s.Prefix+"-b1"))
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", image).Run() })
	if !strings.HasPrefix(image, "stackhub-build:") {
		t.Fatalf("the container runs %q, want a stackhub-build image", image)
	}
	labels := dockertest.Docker(t, "image", "inspect", "-f", `{{index .Config.Labels "io.stackhub.build"}} {{index .Config.Labels "greeting"}}`, image)
	if strings.TrimSpace(labels) != strings.TrimPrefix(image, "stackhub-build:")+" built" {
		t.Errorf("image labels %q", labels)
	}

	_, log = install("b2")
	if joined := strings.Join(log, "\n"); strings.Contains(joined, "COPY src/greeting.txt") {
		t.Errorf("the second install built again:\n%s", joined)
	}
	uninstall := func(name string) {
		if err := c.Uninstall(t.Context(), name, true); err != nil {
			t.Fatal(err)
		}
	}
	imageExists := func() bool {
		return exec.Command("docker", "image", "inspect", image).Run() == nil
	}
	uninstall("b1")
	if !imageExists() {
		t.Errorf("the image went with the first install, while the second uses it")
	}
	uninstall("b2")
	if imageExists() {
		t.Errorf("the image outlived the last install using it")
	}
}

// An upgrade checks the new version against the host as an install does, before anything stops: a version that
// adds a fixed host port which is taken fails with nothing changed (the old version's container untouched, no
// snapshot); once the port is free, the upgrade books it and the new version publishes it.
func TestUpgradeChecksTheHost(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	dockertest.Image(t, "stackhub-test/web:v2")
	s := tu.StartServer(t, tu.Engines(t)[0], tu.Options{HealthTimeout: 30 * time.Second})
	lib := tu.NewLibrary(t)
	owner := s.NewUser("owner")
	aid := s.Want(200, owner, "POST", "/app", map[string]any{"name": "Versioned", "package": "versioned"}).Int(t)
	fixed := dockertest.FreePort(t)
	for _, ver := range []string{"v1", "v2"} {
		st := stackFor(lib, "0")
		if ver == "v2" {
			st["compose"] = strings.Replace(tu.WebCompose, `- "${W9_HTTP_PORT_SET}:8080"`,
				fmt.Sprintf("- \"${W9_HTTP_PORT_SET}:8080\"\n      - \"%d:8080\"", fixed), 1)
		}
		s.Want(201, owner, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": ver, "stack": st})
	}
	c := client.New(s.URL, tu.AdminToken)
	ctx := t.Context()
	res, err := c.Install(ctx, client.InstallRequest{App: "versioned", Name: "up", Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if job := runJob(t, c, func() (*client.Job, error) { return res.Job, nil }); job.State != "succeeded" {
		t.Fatalf("install v1: %+v", job)
	}
	started := func() string {
		return strings.TrimSpace(dockertest.Docker(t, "inspect", "-f", "{{.Id}} {{.State.StartedAt}}", s.Prefix+"-up"))
	}
	before := started()

	l, err := net.Listen("tcp", fmt.Sprintf(":%d", fixed))
	if err != nil {
		t.Fatal(err)
	}
	job := runJob(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "up", "v2") })
	l.Close()
	if job.State != "failed" || !strings.Contains(job.Error, fmt.Sprintf("port %d/tcp, which service web publishes as a fixed host port, is already in use", fixed)) ||
		!strings.Contains(job.Error, "nothing was changed") {
		t.Fatalf("upgrade with the new fixed port taken: %+v", job)
	}
	if in, err := c.Instance(ctx, "up"); err != nil || in.Version != "v1" || in.State != "installed" {
		t.Errorf("after the refused upgrade: %+v, %v", in, err)
	}
	if after := started(); after != before {
		t.Errorf("the refused upgrade touched the container: %s, was %s", after, before)
	}
	if bs, err := c.Backups(ctx, "up"); err != nil || len(bs) != 0 {
		t.Errorf("the refused upgrade took snapshots %+v, %v", bs, err)
	}

	if job := runJob(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "up", "v2") }); job.State != "succeeded" {
		t.Fatalf("upgrade with the port free: %+v", job)
	}
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", fixed)); got != "web v2" {
		t.Errorf("the new fixed port answers %q", got)
	}
	bs, err := s.Store.Q().PortBookings(ctx, "up")
	if err != nil || len(bs) != 2 {
		t.Errorf("bookings %+v, %v; want the web port and %d", bs, err, fixed)
	}
}
