package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is the `stackhub serve` process under test.
type server struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	ws     string // ws://127.0.0.1:port (the GeekApk listener)
	token  string
	done   chan struct{}
	err    error
	logTo  string
	stderr *os.File
}

// build compiles ./cmd/stackhub as `make build` does (static, CGO off).
func build(ctx context.Context, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/stackhub")
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/stackhub: %w", err)
	}
	return nil
}

// startServer runs bin on free loopback ports over database and waits for it to be healthy.
func startServer(ctx context.Context, bin, tmp, database string) (*server, error) {
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	wsListen, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{base: "http://" + listen, ws: "ws://" + wsListen, token: "bench-admin-token-0123456789abcdef",
		logTo: filepath.Join(tmp, "server.log"), done: make(chan struct{})}
	if s.stderr, err = os.Create(s.logTo); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "serve", "--listen", listen, "--ws-listen", wsListen,
		"--data-dir", filepath.Join(tmp, "data"), "--database", database, "--log-level", "warn")
	// Only our settings: drop any STACKHUB_*, DATABASE_URL, DOGETOK or WEBHOOKS of the calling shell.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "STACKHUB_") && name != "DATABASE_URL" && name != "DOGETOK" && name != "WEBHOOKS" {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Env = append(s.cmd.Env, "DOGETOK="+s.token)
	s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
	// The kernel kills the server if this generator dies first, so no server outlives a run.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(s.base + "/api/v1/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("stackhub serve exited: %v (log: %s)", s.err, s.logTo)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("stackhub serve not healthy within 60 s (log: %s)", s.logTo)
		}
	}
}

// stop asks the server to shut down, then kills it if it takes more than 20 s.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.stderr.Close()
}

// alive fails when the server has exited.
func (s *server) alive() error {
	select {
	case <-s.done:
		return fmt.Errorf("stackhub serve exited: %v (log: %s)", s.err, s.logTo)
	default:
		return nil
	}
}

// rss returns VmRSS (resident now) and VmHWM (peak) of the server, in bytes.
func (s *server) rss() (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		f := strings.Fields(v)
		if !ok || len(f) != 2 || f[1] != "kB" || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			peak = n << 10
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc/<pid>/status")
	}
	return rss, peak, nil
}

// fds counts the server's open file descriptors.
func (s *server) fds() int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	return len(ents)
}

// freePort asks the kernel for a free loopback port.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// moduleRoot is the directory of the go.mod that `go` sees from here.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run bench/ws inside the StackHub module (go env GOMOD is empty)")
	}
	return filepath.Dir(mod), nil
}
