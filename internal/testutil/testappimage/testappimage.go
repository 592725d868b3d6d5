// Package testappimage builds Docker images of the static test app (internal/testutil/dockertest/testapp) on
// top of scratch, since nothing can be pulled where StackHub is tested. The Docker tests (through dockertest)
// and the host benchmarks (bench/install/kit) share it; it does not import testing, so commands can use it.
package testappimage

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

// Dockerfile puts the binary, named testapp in the build context, on scratch.
const Dockerfile = `FROM scratch
COPY testapp /testapp
EXPOSE 8080
ENTRYPOINT ["/testapp"]
`

// BuildBinary builds the test app from its sources in srcDir into outDir/testapp and returns the binary: static
// and stripped, for Linux on this machine's architecture (the daemon's), whatever the caller's GOOS or GOFLAGS.
func BuildBinary(ctx context.Context, srcDir, outDir string) ([]byte, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("find the go command: %w", err)
	}
	bin := filepath.Join(outDir, "testapp")
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build testapp: %w\n%s", err, b)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("read the testapp binary: %w", err)
	}
	return b, nil
}

// Build builds dockerfile, with bin as testapp in the context, tags the image as tag with labels, and checks the
// daemon holds it afterwards.
func Build(ctx context.Context, c *client.Client, tag, dockerfile string, bin []byte, labels map[string]string) error {
	bctx, err := buildContext(dockerfile, bin)
	if err != nil {
		return fmt.Errorf("docker build %s: context: %w", tag, err)
	}
	res, err := c.ImageBuild(ctx, bctx, client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true,
		Labels: labels})
	if err != nil {
		return fmt.Errorf("docker build %s: %w", tag, err)
	}
	defer res.Body.Close()
	// The daemon reports a failed step in the JSON stream, not as an error of the call.
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

// buildContext is a tar stream holding the Dockerfile and the binary, with fixed times so that the same inputs
// make the same context.
func buildContext(dockerfile string, bin []byte) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"testapp", 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	return &buf, tw.Close()
}
