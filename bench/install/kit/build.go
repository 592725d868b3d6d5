// Package kit is the shared half of StackHub's host benchmarks, bench/install and bench/footprint: it builds the
// stackhub binary and the test app image, writes a Websoft9-layout template, runs `stackhub serve`, speaks the
// StackHub installer contract, and sweeps Docker of whatever a run created.
//
// Nothing is pulled: the app image is the static test app of internal/testutil/dockertest/testapp, built here
// and put on top of scratch, as the Docker tests do.
package kit

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Images are the two tags the benchmarks run, both the same test app binary.
const (
	// ImagePlain has no healthcheck: a deployer can only tell it is up by its port answering HTTP.
	ImagePlain = "stackhub-bench/web:v1"
	// ImageHealth carries the same HEALTHCHECK as testutil.WebCompose (the test app's own check of /health,
	// every second), baked into the image so `docker run` and a Compose service get the very same container.
	ImageHealth = "stackhub-bench/web-hc:v1"
)

const dockerfilePlain = `FROM scratch
COPY testapp /testapp
EXPOSE 8080
ENTRYPOINT ["/testapp"]
`

const healthcheck = `HEALTHCHECK --interval=1s --timeout=2s --retries=600 CMD ["/testapp", "check", "http://127.0.0.1:8080/health"]
`

// BuildImages builds the test app (static, stripped) and tags it as ImagePlain and ImageHealth, FROM scratch.
func BuildImages(ctx context.Context, c *client.Client, root, dir string) error {
	bin := filepath.Join(dir, "testapp")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = filepath.Join(root, "internal", "testutil", "dockertest", "testapp")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build testapp: %v\n%s", err, b)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	for tag, df := range map[string]string{ImagePlain: dockerfilePlain, ImageHealth: dockerfilePlain + healthcheck} {
		if err := buildImage(ctx, c, tag, df, b); err != nil {
			return err
		}
	}
	return nil
}

func buildImage(ctx context.Context, c *client.Client, tag, dockerfile string, bin []byte) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"testapp", 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	res, err := c.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true,
		Labels: map[string]string{"io.stackhub.bench": "testapp"}})
	if err != nil {
		return fmt.Errorf("docker build %s: %w", tag, err)
	}
	defer res.Body.Close()
	var log strings.Builder
	dec := json.NewDecoder(res.Body)
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("docker build %s: read output: %w", tag, err)
		}
		if msg.Error != "" {
			return fmt.Errorf("docker build %s: %s\n%s", tag, msg.Error, log.String())
		}
		log.WriteString(msg.Stream)
	}
	if _, err := c.ImageInspect(ctx, tag); err != nil {
		return fmt.Errorf("docker build left no %s: %w\n%s", tag, err, log.String())
	}
	return nil
}
