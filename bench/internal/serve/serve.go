// Package serve builds and runs `stackhub serve` for the benchmarks: on free loopback ports, in a data dir of its
// own, with a random admin token and none of the caller's StackHub settings, so every benchmark measures the same
// default server. It needs no Docker.
package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// ModuleRoot is the directory of the go.mod that the go command sees from the working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run this inside the StackHub module (go env GOMOD is empty)")
	}
	return filepath.Dir(mod), nil
}

// GoBuild runs `go build flags... -o out pkg` in root with CGO_ENABLED=0: static, as `make build` does.
func GoBuild(ctx context.Context, root, out, pkg string, flags ...string) error {
	args := append(append([]string{"build"}, flags...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// FreePort returns a TCP port that nothing listens on now, on any address. Another process could take it before
// the server binds it; on loopback in a benchmark that race is theoretical.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Config says how to start `stackhub serve`.
type Config struct {
	Bin string // the stackhub binary
	// Dir holds the server's data dir (Dir/data) and its log (Dir/server.log).
	Dir string
	// Args are more flags for serve, after --listen, --ws-listen and --data-dir (e.g. --database, --prefix).
	Args []string
	// DeathSig is sent to the server if the benchmark dies first (Linux only); 0 means SIGKILL.
	DeathSig syscall.Signal
	// HealthTimeout bounds the wait for GET /api/v1/health; 0 means 60 s.
	HealthTimeout time.Duration
}

// Proc is a process a benchmark started: `stackhub serve` from Start, or any command given to Watch.
type Proc struct {
	Base    string // http://127.0.0.1:port
	WS      string // ws://127.0.0.1:port, the GeekApk listener (Start only)
	Token   string // the admin token, DOGETOK (Start only)
	DataDir string // (Start only)
	LogPath string // its output ("" for none)

	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, set when done closes
}

// Start runs cfg.Bin serve and waits until it answers GET /api/v1/health with 200.
func Start(ctx context.Context, cfg Config) (*Proc, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	wsPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	listen, wsListen := "127.0.0.1:"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(wsPort)
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	dataDir, logPath := filepath.Join(cfg.Dir, "data"), filepath.Join(cfg.Dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	defer logFile.Close() // the server holds its own copy

	args := append([]string{"serve", "--listen", listen, "--ws-listen", wsListen, "--data-dir", dataDir}, cfg.Args...)
	cmd := exec.Command(cfg.Bin, args...)
	cmd.Env = append(cleanEnv(), "DOGETOK="+token)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	sig := cfg.DeathSig
	if sig == 0 {
		sig = syscall.SIGKILL
	}
	DieWithParent(cmd, sig)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", cfg.Bin, err)
	}
	p := Watch(cmd, "stackhub serve")
	p.Base, p.WS, p.Token, p.DataDir, p.LogPath = "http://"+listen, "ws://"+wsListen, token, dataDir, logPath

	timeout := cfg.HealthTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	if err := waitHealthy(ctx, p.Base, timeout, p.done); err != nil {
		if aerr := p.Alive(); aerr != nil {
			return nil, aerr // it exited by itself: its error and log say why
		}
		p.Stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("stackhub serve: %w\n%s", err, p.LogTail(20))
	}
	return p, nil
}

// cleanEnv is this process's environment without the settings a server would take from it: the benchmark's
// server runs on its own flags and defaults, whatever the calling shell exports.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "STACKHUB_") && name != "DATABASE_URL" && name != "DOGETOK" && name != "WEBHOOKS" {
			env = append(env, kv)
		}
	}
	return env
}

// Watch follows cmd, already started, so that Alive, Stop and PID work; name is for messages.
func Watch(cmd *exec.Cmd, name string) *Proc {
	p := &Proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

// WaitHealthy polls GET base/api/v1/health until it answers 200, for up to timeout.
func WaitHealthy(ctx context.Context, base string, timeout time.Duration) error {
	return waitHealthy(ctx, base, timeout, nil)
}

// waitHealthy is WaitHealthy that also gives up when exited closes (nil: never).
func waitHealthy(ctx context.Context, base string, timeout time.Duration, exited <-chan struct{}) error {
	// No proxy from the environment, and a fresh connection per try: the server may not listen yet.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for {
		res, err := hc.Get(base + "/api/v1/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /api/v1/health: %s", res.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy within %s: %w", timeout, err)
		}
		select {
		case <-exited:
			return errors.New("exited before it was healthy")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Alive fails once the process has exited.
func (p *Proc) Alive() error {
	select {
	case <-p.done:
		if tail := p.LogTail(20); tail != "" {
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, tail)
		}
		return fmt.Errorf("%s exited: %v", p.name, p.err)
	default:
		return nil
	}
}

// Stop sends SIGTERM, waits up to 20 s for a graceful exit, then kills. It does nothing once the process is gone.
func (p *Proc) Stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// LogTail is the last n lines of the process's log ("" without one).
func (p *Proc) LogTail(n int) string {
	if p.LogPath == "" {
		return ""
	}
	b, _ := os.ReadFile(p.LogPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
