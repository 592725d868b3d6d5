package kit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/bench/internal/serve"
)

// Logf writes a time-stamped progress line to stderr.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// Options says what Setup prepares.
type Options struct {
	Name     string // names the temp dir, stackhub-<Name>-…
	Prefix   string // first letters of the project prefix ("shb"); Setup adds 4 random hex digits
	Stackhub string // a prebuilt stackhub binary; "" builds ./cmd/stackhub
	Keep     bool   // keep the temp dir (binaries, data dir, server log)
}

// Bench is what both host benchmarks run on: Docker with the test app images, a user-defined network, and
// `stackhub serve` with the benchmark templates imported.
type Bench struct {
	Docker          *client.Client
	Root, Dir       string // the module root; the temp dir
	Prefix, Network string // the project prefix (every resource is named after it); W9_NETWORK
	Server          *Server
	Header          []string // where the benchmark runs, for its report

	keep     bool
	leaks    []string
	swept    bool
	sweepErr error
}

// Setup builds the stackhub binary (unless given) and the images, creates the network, writes and imports the
// template library, and starts the server. On failure it tears down what it made.
func Setup(ctx context.Context, o Options) (b *Bench, err error) {
	root, err := serve.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	c, dockerVersion, err := Docker(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "stackhub-"+o.Name+"-")
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	b = &Bench{Docker: c, Root: root, Dir: dir, Prefix: o.Prefix + RandomHex(2), keep: o.Keep}
	b.Network = b.Prefix + "-net"
	defer func() {
		if err != nil {
			_ = b.Close() // its sweep warnings are logged; the setup error is the one to report
		}
	}()

	Logf("building stackhub and the test app image")
	bin := o.Stackhub
	if bin == "" {
		bin = filepath.Join(dir, "stackhub")
		if err := serve.GoBuild(ctx, root, bin, "./cmd/stackhub"); err != nil {
			return nil, err
		}
	}
	if err := BuildImages(ctx, c, root, dir); err != nil {
		return nil, err
	}
	if err := CreateNetwork(ctx, c, b.Network); err != nil {
		return nil, err
	}
	lib := filepath.Join(dir, "library")
	if err := WriteLibrary(lib, b.Network, 30000+rand.IntN(20000)); err != nil {
		return nil, fmt.Errorf("write the template library: %w", err)
	}
	b.Header = append(Machine(ctx, root), "Docker Engine: "+dockerVersion)
	Logf("starting stackhub serve (prefix %s)", b.Prefix)
	if b.Server, err = StartServer(ctx, bin, dir, b.Prefix); err != nil {
		return nil, err
	}
	out, err := b.Server.ImportLibrary(ctx, lib)
	if err != nil {
		return nil, err
	}
	Logf("stackhub catalog import: %s", strings.ReplaceAll(strings.TrimSpace(out), "\n", "; "))
	return b, nil
}

// Uninstall removes every instance with purge, and notes as left behind those that would not go and any
// project directory purge did not remove.
func (b *Bench) Uninstall() {
	if b.Server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ins, err := b.Server.GetAllAppInfo(ctx)
	if err != nil {
		Logf("list instances for cleanup: %v", err)
	}
	if len(ins) > 0 {
		Logf("uninstalling %d instances (purge)", len(ins))
	}
	for _, in := range ins {
		if err := b.Server.UninstallApp(ctx, in.AppName, true); err != nil {
			Logf("cleanup: uninstall %s: %v", in.AppName, err)
			b.leaks = append(b.leaks, "instance "+in.AppName+" (uninstall failed)")
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(b.Server.DataDir, "apps")); len(ents) > 0 {
		b.leaks = append(b.leaks, fmt.Sprintf("%d project directories under the data dir after uninstall with purge", len(ents)))
	}
}

// Sweep stops the server (so nothing it still does can create a container afterwards), removes whatever Docker
// still holds named after the run's prefix, and returns what was left behind: what Uninstall noted, and anything
// the sweep found besides the benchmark's own network.
func (b *Bench) Sweep() []string {
	b.swept = true
	if b.Server != nil {
		b.Server.Stop()
	}
	removed, err := sweep(b.Docker, b.Prefix)
	for _, r := range removed {
		if r != "network "+b.Network {
			b.leaks = append(b.leaks, r)
		}
	}
	if len(b.leaks) > 0 {
		Logf("WARNING: left behind and removed now: %s", strings.Join(b.leaks, ", "))
	}
	if err != nil {
		Logf("WARNING: %v", err)
		b.sweepErr = err
	}
	return b.leaks
}

// Close tears everything down, also after a failure or Ctrl-C: Uninstall and Sweep unless done, then the temp
// dir (unless kept) and the Docker client. It returns the sweep's error.
func (b *Bench) Close() error {
	if !b.swept {
		b.Uninstall()
		b.Sweep()
	}
	if b.keep {
		Logf("kept %s", b.Dir)
	} else {
		os.RemoveAll(b.Dir)
	}
	b.Docker.Close()
	return b.sweepErr
}
