// Package kit is the shared half of StackHub's host benchmarks, bench/install and bench/footprint: it builds the
// stackhub binary and the test app image, writes a Websoft9-layout template, runs `stackhub serve`, speaks the
// StackHub installer contract, and sweeps Docker of whatever a run created.
//
// Nothing is pulled: the app image is the static test app of internal/testutil/dockertest/testapp, built here
// and put on top of scratch, as the Docker tests do.
package kit

import (
	"context"
	"path/filepath"
	"time"

	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/testutil/testappimage"
)

// Images are the two tags the benchmarks run, both the same test app binary.
const (
	// ImagePlain has no healthcheck: a deployer can only tell it is up by its port answering HTTP.
	ImagePlain = "stackhub-bench/web:v1"
	// ImageHealth carries the same HEALTHCHECK as testutil.WebCompose (the test app's own check of /health,
	// every second), baked into the image so `docker run` and a Compose service get the very same container.
	ImageHealth = "stackhub-bench/web-hc:v1"
)

const healthcheck = `HEALTHCHECK --interval=1s --timeout=2s --retries=600 CMD ["/testapp", "check", "http://127.0.0.1:8080/health"]
`

// BuildImages builds the test app (static, stripped) and tags it as ImagePlain and ImageHealth, FROM scratch.
func BuildImages(ctx context.Context, c *client.Client, root, dir string) error {
	bin, err := testappimage.BuildBinary(ctx, filepath.Join(root, "internal", "testutil", "dockertest", "testapp"), dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for tag, df := range map[string]string{ImagePlain: testappimage.Dockerfile, ImageHealth: testappimage.Dockerfile + healthcheck} {
		if err := testappimage.Build(ctx, c, tag, df, bin, map[string]string{"io.stackhub.bench": "testapp"}); err != nil {
			return err
		}
	}
	return nil
}
