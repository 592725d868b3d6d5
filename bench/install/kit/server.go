package kit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// Server is a running `stackhub serve` on loopback, with its own data dir and admin token.
type Server struct {
	URL, Token, DataDir, LogPath string
	Bin                          string
	cmd                          *exec.Cmd
	done                         chan struct{}
	waitErr                      error
	http                         *http.Client
}

// RandomHex returns n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FreePort returns a TCP port that nothing listens on now, on any address.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartServer starts bin serve with dataDir (SQLite inside it), the project prefix and the default log level,
// its log in dataDir/../serve.log, and waits until GET /api/v1/health answers 200.
func StartServer(ctx context.Context, bin, dataDir, prefix string) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	wsPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Bin: bin, URL: "http://127.0.0.1:" + strconv.Itoa(port), Token: RandomHex(16), DataDir: dataDir,
		LogPath: filepath.Join(filepath.Dir(dataDir), "serve.log"), done: make(chan struct{}),
		http: &http.Client{Timeout: 2 * time.Minute}}
	logf, err := os.Create(s.LogPath)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "serve", "--listen", "127.0.0.1:"+strconv.Itoa(port),
		"--ws-listen", "127.0.0.1:"+strconv.Itoa(wsPort), "--data-dir", dataDir, "--prefix", prefix)
	s.cmd.Env = append(os.Environ(), "DOGETOK="+s.Token)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// If this benchmark dies without cleaning up, the server goes too (it does not take the apps with it).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	go func() { s.waitErr = s.cmd.Wait(); logf.Close(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := s.http.Get(s.URL + "/api/v1/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("stackhub serve exited: %v\n%s", s.waitErr, s.LogTail(20))
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("stackhub serve did not answer within 30 s\n%s", s.LogTail(20))
		}
	}
}

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Alive reports an error once the server has exited.
func (s *Server) Alive() error {
	select {
	case <-s.done:
		return fmt.Errorf("stackhub serve exited: %v\n%s", s.waitErr, s.LogTail(20))
	default:
		return nil
	}
}

// Stop sends SIGTERM, waits up to 20 s for a graceful exit, then kills.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// LogTail is the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	b, _ := os.ReadFile(s.LogPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ImportLibrary runs `stackhub catalog import DIR` against the server (STACKHUB_URL and DOGETOK), as an operator
// would, and fails on any refused template.
func (s *Server) ImportLibrary(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, s.Bin, "catalog", "import", dir)
	cmd.Env = append(os.Environ(), "STACKHUB_URL="+s.URL, "DOGETOK="+s.Token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("stackhub catalog import: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "refused ") {
		return string(out), fmt.Errorf("stackhub catalog import refused a template:\n%s", out)
	}
	return string(out), nil
}

// envelope is the StackHub contract's answer.
type envelope struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// call POSTs a JSON body to a contract endpoint and decodes data into out; code "0" is an error.
func (s *Server) call(ctx context.Context, path string, body map[string]any, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Token)
	res, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s: HTTP %d, not an envelope: %.200s", path, res.StatusCode, raw)
	}
	if env.Code != "1" {
		return fmt.Errorf("%s: %s", path, env.Message)
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("%s: data: %w", path, err)
		}
	}
	return nil
}

// Installing is installApp's answer.
type Installing struct {
	Container string `json:"containerName"`
	Port      string `json:"port"`
	Job       string `json:"job"`
}

// InstallApp asks for app as instance name (appId).
func (s *Server) InstallApp(ctx context.Context, app, name string) (*Installing, error) {
	var out Installing
	if err := s.call(ctx, "/installApp", map[string]any{"appName": app, "appId": name}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AppInfo is getAppInfo's answer.
type AppInfo struct {
	AppName string `json:"appName"`
	Status  string `json:"status"`
	Port    string `json:"port"`
	Info    string `json:"info"`
}

// GetAppInfo reads one instance's status.
func (s *Server) GetAppInfo(ctx context.Context, name string) (*AppInfo, error) {
	var out AppInfo
	if err := s.call(ctx, "/getAppInfo", map[string]any{"appName": name}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetAllAppInfo lists every instance.
func (s *Server) GetAllAppInfo(ctx context.Context) ([]AppInfo, error) {
	var out []AppInfo
	err := s.call(ctx, "/getAllAppInfo", nil, &out)
	return out, err
}

// UninstallApp removes an instance, with its volumes and files when purge.
func (s *Server) UninstallApp(ctx context.Context, name string, purge bool) error {
	return s.call(ctx, "/uninstallApp", map[string]any{"appName": name, "purge": purge}, nil)
}

// JobEvent is one line of a job's log; At is Unix milliseconds on the server's clock.
type JobEvent struct {
	At      int64  `json:"at"`
	Stage   string `json:"stage"`
	Message string `json:"message"`
}

// Job reads a job's state and log from GET /api/v1/jobs/{id}.
func (s *Server) Job(ctx context.Context, id string) (state string, events []JobEvent, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/jobs/"+id, nil)
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	res, err := s.http.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 500))
		return "", nil, fmt.Errorf("GET /api/v1/jobs/%s: %s: %s", id, res.Status, b)
	}
	var body struct {
		Job struct {
			State string `json:"state"`
		} `json:"job"`
		Events []JobEvent `json:"events"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return "", nil, err
	}
	return body.Job.State, body.Events, nil
}

// answerClient opens a fresh connection per probe, so a probe never rides on an earlier connection.
var answerClient = &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Answers reports whether GET http://127.0.0.1:port/ gets any HTTP answer — the condition StackHub itself uses
// for an app without a healthcheck (a TCP connect alone proves nothing: docker-proxy accepts it regardless).
func Answers(ctx context.Context, port string) bool { return Probe(ctx, port) == nil }

// Probe is Answers with the reason it failed.
func Probe(ctx context.Context, port string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/", nil)
	if err != nil {
		return err
	}
	res, err := answerClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return nil
}

// ErrTimeout is returned by waits that ran out of time.
var ErrTimeout = errors.New("timed out")
