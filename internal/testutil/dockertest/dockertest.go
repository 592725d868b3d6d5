// Package dockertest supports tests that run real containers on the local Docker Engine.
//
// Nothing can be pulled in the test environment, so every test container runs one image built here from
// ./testapp (a static HTTP server, see its package comment) on top of scratch. Image builds it once per test
// process, and not at all when the daemon already holds an image built from the same sources; the image can be
// tagged under several names so a project looks like it uses different images.
//
// Docker is part of the test environment: Require fails the test, it does not skip it, when the daemon does not
// answer. Every resource a test creates carries com.docker.compose.project=<project>; Project returns a fresh name
// and registers Cleanup, which removes everything with that label (and networks named after the project) even
// when the test fails.
package dockertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/testutil/testappimage"
	"github.com/stackhub/stackhub/internal/testutil/testports"
)

// LabelProject is Compose's project label, which the engine puts on everything it creates.
const LabelProject = "com.docker.compose.project"

// baseRepo is the repository of the content-addressed image; its tag is a hash of what the image is built from.
const baseRepo = "stackhub-test/testapp"

var (
	shared     *client.Client
	sharedErr  error
	sharedOnce sync.Once

	imageMu sync.Mutex
	baseRef string // stackhub-test/testapp:<hash>, once built or found
	baseErr error  // a failed build, reported to every later caller
	tagged  = map[string]bool{}
)

// sharedClient is the process's client for this package's own calls; it is never closed.
func sharedClient() (*client.Client, error) {
	sharedOnce.Do(func() {
		shared, sharedErr = client.New(client.FromEnv)
	})
	return shared, sharedErr
}

// Available reports why the Docker daemon named by the environment (DOCKER_HOST, default the local socket) cannot
// be used, or nil when it answers.
func Available() error {
	c, err := sharedClient()
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("docker daemon does not answer: %w", err)
	}
	return nil
}

// Require fails the test when Docker is not available (in CI and locally alike: Docker is part of the test
// environment, see scripts/testenv.sh) and returns a client closed when the test ends.
func Require(t testing.TB) *client.Client {
	t.Helper()
	if err := Available(); err != nil {
		t.Fatalf("these tests need a Docker Engine (DOCKER_HOST=%q): %v", os.Getenv("DOCKER_HOST"), err)
	}
	c, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Image returns name (such as "stackhub-test/web:v1") tagged onto the testapp image, building the image first
// if this process has not yet done so and the daemon does not already hold it.
func Image(t testing.TB, name string) string {
	t.Helper()
	if err := Available(); err != nil {
		t.Fatalf("these tests need a Docker Engine (DOCKER_HOST=%q): %v", os.Getenv("DOCKER_HOST"), err)
	}
	c, _ := sharedClient()
	imageMu.Lock()
	defer imageMu.Unlock()
	if baseRef == "" && baseErr == nil {
		baseRef, baseErr = ensureBase(c)
	}
	if baseErr != nil {
		t.Fatalf("build the testapp image: %v", baseErr)
	}
	if name == baseRef || tagged[name] {
		return name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.ImageTag(ctx, client.ImageTagOptions{Source: baseRef, Target: name}); err != nil {
		t.Fatalf("tag %s as %s: %v", baseRef, name, err)
	}
	tagged[name] = true
	return name
}

// ImageOn is Image on the daemon at host (a Swarm node's, which cannot pull either): the testapp image is built
// there unless that daemon already holds the current one, then tagged name.
func ImageOn(t testing.TB, host, name string) string {
	t.Helper()
	c, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		t.Fatalf("docker client for %s: %v", host, err)
	}
	defer c.Close()
	imageMu.Lock()
	defer imageMu.Unlock()
	ref, err := ensureBase(c)
	if err != nil {
		t.Fatalf("build the testapp image on %s: %v", host, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.ImageTag(ctx, client.ImageTagOptions{Source: ref, Target: name}); err != nil {
		t.Fatalf("tag %s as %s on %s: %v", ref, name, host, err)
	}
	return name
}

var (
	binMu  sync.Mutex
	binary []byte // the testapp binary, once built
)

// Binary returns the testapp's static Linux binary, built once per process: a template's Dockerfile can copy it
// onto scratch, as the images of the tests are made.
func Binary(t testing.TB) []byte {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if binary != nil {
		return binary
	}
	dir, err := testappDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := testappimage.BuildBinary(ctx, dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	binary = b
	return b
}

// lent counts, per name, the running tests that Lend gave it to.
var lent = map[string]int{}

// Lend returns name tagged onto the testapp image, as Image does, until the test ends; the name is removed
// (Untag) when the last test of the process that borrowed it ends, so tests running at the same time can borrow
// one name (say a template's postgres:16) without one's cleanup pulling it from under another's install.
func Lend(t testing.TB, name string) string {
	t.Helper()
	Image(t, name)
	imageMu.Lock()
	lent[name]++
	imageMu.Unlock()
	t.Cleanup(func() {
		imageMu.Lock()
		defer imageMu.Unlock()
		if lent[name]--; lent[name] > 0 {
			return
		}
		delete(lent, name)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := untagLocked(ctx, name); err != nil {
			t.Errorf("give back the image name %s: %v", name, err)
		}
	})
	return name
}

// Untag removes the name Image gave (the testapp image stays), so that a later Image tags it again: a test that
// lends real image names to the testapp gives them back this way.
func Untag(ctx context.Context, name string) error {
	imageMu.Lock()
	defer imageMu.Unlock()
	return untagLocked(ctx, name)
}

// untagLocked is Untag, with imageMu held.
func untagLocked(ctx context.Context, name string) error {
	c, err := sharedClient()
	if err != nil {
		return err
	}
	delete(tagged, name)
	if _, err := c.ImageRemove(ctx, name, client.ImageRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("untag %s: %w", name, err)
	}
	return nil
}

// ensureBase finds or builds the image for the current testapp sources and returns its content-hash reference.
func ensureBase(c *client.Client) (string, error) {
	dir, err := testappDir()
	if err != nil {
		return "", err
	}
	srcs, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(srcs) == 0 {
		return "", fmt.Errorf("no testapp sources in %s: %v", dir, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", runtime.Version(), runtime.GOARCH, testappimage.Dockerfile)
	for _, f := range srcs { // Glob sorts
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	ref := baseRepo + ":" + hex.EncodeToString(h.Sum(nil))[:16]

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := c.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	} else if !errdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspect %s: %w", ref, err)
	}

	out, err := os.MkdirTemp("", "dockertest-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(out)
	bin, err := testappimage.BuildBinary(ctx, dir, out)
	if err != nil {
		return "", err
	}
	if err := testappimage.Build(ctx, c, ref, testappimage.Dockerfile, bin, map[string]string{"io.stackhub.test": "testapp"}); err != nil {
		return "", err
	}
	return ref, nil
}

// testappDir is the directory of testapp's sources.
func testappDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "testapp")
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err == nil {
			return dir, nil
		}
	}
	// Built with -trimpath: ask the go command, run from inside the module.
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "github.com/stackhub/stackhub/internal/testutil/dockertest/testapp").Output()
	if err != nil {
		return "", fmt.Errorf("locate testapp sources: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// FreePort returns a port free on every interface that no other test of any process holds, outside the kernel's
// ephemeral range (see testports), never the same one twice in a process.
func FreePort(t testing.TB) int {
	t.Helper()
	return testports.Port(t)
}

// Project returns a fresh project name, sh-test-<random>, and registers Cleanup for it.
func Project(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "sh-test-" + hex.EncodeToString(b)
	t.Cleanup(func() { Cleanup(t, name) })
	return name
}

// Cleanup removes every container, network and volume labelled com.docker.compose.project=project, and every
// network whose name starts with project (so a test names a shared external network "<project>-net" and gets it
// removed too). Meant for t.Cleanup: it reports failures with t.Errorf and goes on.
func Cleanup(t testing.TB, project string) {
	t.Helper()
	if project == "" {
		t.Errorf("cleanup: empty project name")
		return
	}
	c, err := sharedClient()
	if err != nil {
		t.Errorf("cleanup %s: %v", project, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := client.Filters{}.Add("label", LabelProject+"="+project)
	report := func(what string, err error) {
		if err != nil && !errdefs.IsNotFound(err) {
			t.Errorf("cleanup %s: %s: %v", project, what, err)
		}
	}
	cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	report("list containers", err)
	for _, ct := range cs.Items {
		_, err := c.ContainerRemove(ctx, ct.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		report("remove container "+strings.Join(ct.Names, ","), err)
	}
	ns, err := c.NetworkList(ctx, client.NetworkListOptions{})
	report("list networks", err)
	for _, n := range ns.Items {
		if n.Labels[LabelProject] == project || strings.HasPrefix(n.Name, project) {
			_, err := c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			report("remove network "+n.Name, err)
		}
	}
	vs, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	report("list volumes", err)
	for _, v := range vs.Items {
		_, err := c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
		report("remove volume "+v.Name, err)
	}
}

// CleanupVolumes removes the volumes of every Compose project named <prefix>-…: the data a test's uninstall kept
// on purpose (without purge), which no later step of the test removes. Meant for t.Cleanup, like Cleanup.
func CleanupVolumes(t testing.TB, prefix string) {
	t.Helper()
	c, err := sharedClient()
	if err != nil {
		t.Errorf("cleanup volumes of %s-*: %v", prefix, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vs, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", LabelProject)})
	if err != nil {
		t.Errorf("cleanup volumes of %s-*: %v", prefix, err)
		return
	}
	for _, v := range vs.Items {
		if strings.HasPrefix(v.Labels[LabelProject], prefix+"-") {
			if _, err := c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
				t.Errorf("cleanup volume %s: %v", v.Name, err)
			}
		}
	}
}

// Docker runs the docker CLI and returns its standard output, failing the test when it fails.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
