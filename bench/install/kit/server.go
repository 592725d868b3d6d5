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
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/stackhub/stackhub/bench/internal/serve"
)

// Server is a running `stackhub serve` on loopback (Base, Token, DataDir, PID, Stop… come from serve.Proc), with
// the installer API on top.
type Server struct {
	*serve.Proc
	Bin  string
	http *http.Client
}

// RandomHex returns n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// StartServer starts bin serve with its data dir (SQLite inside it) and log in dir, the project prefix and the
// default settings and log level, and waits until GET /api/v1/health answers 200.
func StartServer(ctx context.Context, bin, dir, prefix string) (*Server, error) {
	// SIGTERM if this benchmark dies without cleaning up: the server goes too (it does not take the apps with it).
	p, err := serve.Start(ctx, serve.Config{Bin: bin, Dir: dir, Args: []string{"--prefix", prefix},
		DeathSig: syscall.SIGTERM, HealthTimeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	return &Server{Proc: p, Bin: bin, http: &http.Client{Timeout: 2 * time.Minute}}, nil
}

// ImportLibrary runs `stackhub catalog import DIR` against the server (STACKHUB_URL and DOGETOK), as an operator
// would, and fails on any refused template.
func (s *Server) ImportLibrary(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, s.Bin, "catalog", "import", dir)
	cmd.Env = append(os.Environ(), "STACKHUB_URL="+s.Base, "DOGETOK="+s.Token)
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Base+path, bytes.NewReader(b))
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Base+"/api/v1/jobs/"+id, nil)
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

// Probe fails unless GET http://127.0.0.1:port/ gets an HTTP answer, of any status — the condition StackHub
// itself uses for an app without a healthcheck (a TCP connect alone proves nothing: docker-proxy accepts it
// regardless).
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
