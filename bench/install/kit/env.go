package kit

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where a benchmark ran, for the report's header.
func Machine(ctx context.Context, root string) []string {
	// run.sh says what it benchmarks: under BENCH_REV the tree it extracted has no .git to ask.
	source := os.Getenv("BENCH_SOURCE")
	if source == "" {
		commit := "unknown"
		if out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
			commit = strings.TrimSpace(string(out))
			if st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain").Output(); err == nil && len(st) > 0 {
				commit += " (with uncommitted changes)"
			}
		}
		source = "working tree at commit " + commit
	}
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return []string{
		"source: " + source,
		"Go: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		"CPU: " + cpu + " × " + strconv.Itoa(runtime.NumCPU()) + " (shared with whatever else runs on this machine)",
		"load average at start: " + LoadAvg(),
	}
}

// LoadAvg is the first three fields of /proc/loadavg.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
