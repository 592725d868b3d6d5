package dockertest

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestImageModes(t *testing.T) {
	img := Image(t, "stackhub-test/dockertest:v1")
	if again := Image(t, img); again != img {
		t.Fatalf("Image again = %q, want %q", again, img)
	}
	if id := strings.TrimSpace(Docker(t, "image", "inspect", "-f", "{{.Config.Entrypoint}}", img)); id != "[/testapp]" {
		t.Fatalf("entrypoint = %q", id)
	}
	name := Project(t)
	run := func(args ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		full := append([]string{"run", "--rm", "--label", LabelProject + "=" + name}, args...)
		out, err := exec.CommandContext(ctx, "docker", full...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatalf("docker run: %v", err)
		}
		return string(out), 0
	}
	if out, code := run(img, "once"); code != 0 || !strings.Contains(out, "init done") {
		t.Errorf("once: code %d, output %q", code, out)
	}
	if out, code := run("-e", "EXIT_CODE=5", img, "crash"); code != 5 || !strings.Contains(out, "fatal: cannot connect") {
		t.Errorf("crash: code %d, output %q", code, out)
	}
	if _, code := run(img, "check", "http://127.0.0.1:1/"); code != 1 {
		t.Errorf("check of a closed port: code %d, want 1", code)
	}
}

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if p <= 0 || seen[p] {
			t.Fatalf("FreePort returned %d twice or invalid", p)
		}
		seen[p] = true
	}
}
