// Package client is the Go client of StackHub's /api/v1, used by the CLI and the integration tests.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/sources"
	"github.com/stackhub/stackhub/internal/store"
)

// Client talks to one StackHub server as the admin.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client of the server at base (such as http://127.0.0.1:8080) with the admin token.
func New(base, token string) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{}}
}

// Error is an error the server answered.
type Error struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *Error) Error() string { return e.Message }

// Instance, Job, JobEvent, Server, Node and ImportResult are the server's shapes.
type (
	Instance     = host.Info
	Job          = store.Job
	JobEvent     = store.JobEvent
	Server       = host.ServerInfo
	Node         = host.NodeInfo
	ImportResult = hub.ImportResult
)

// InstallRequest asks for an install.
type InstallRequest struct {
	App      string            `json:"app"`
	Name     string            `json:"name,omitempty"`
	Version  string            `json:"version,omitempty"`
	Store    string            `json:"store,omitempty"`
	Settings map[string]string `json:"settings,omitempty"`
	Force    bool              `json:"force,omitempty"`
	Domain   string            `json:"domain,omitempty"`
	Node     string            `json:"node,omitempty"`
}

// Installing is an install that has started.
type Installing struct {
	Instance *Instance `json:"instance"`
	Job      *Job      `json:"job"`
}

func (c *Client) request(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach StackHub at %s: %w", c.base, errors.Unwrap(err))
	}
	if res.StatusCode >= 400 {
		defer res.Body.Close()
		var p struct {
			Error Error `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		if json.Unmarshal(b, &p) != nil || p.Error.Message == "" {
			p.Error.Message = strings.TrimSpace(string(b))
		}
		p.Error.Status = res.StatusCode
		return nil, &p.Error
	}
	return res, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	res, err := c.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(res.Body).Decode(out)
}

// Install starts an install.
func (c *Client) Install(ctx context.Context, r InstallRequest) (*Installing, error) {
	var out Installing
	return &out, c.do(ctx, http.MethodPost, "/api/v1/installs", r, &out)
}

// Instances lists installed apps.
func (c *Client) Instances(ctx context.Context) ([]Instance, error) {
	var out []Instance
	return out, c.do(ctx, http.MethodGet, "/api/v1/installs", nil, &out)
}

// Instance reports one installed app.
func (c *Client) Instance(ctx context.Context, name string) (*Instance, error) {
	var out Instance
	return &out, c.do(ctx, http.MethodGet, "/api/v1/installs/"+url.PathEscape(name), nil, &out)
}

// Act starts, stops or restarts an app; it returns the job.
func (c *Client) Act(ctx context.Context, name, action string) (*Job, error) {
	var out Job
	return &out, c.do(ctx, http.MethodPost, "/api/v1/installs/"+url.PathEscape(name)+"/"+action, nil, &out)
}

// Uninstall removes an app; purge deletes its data too.
func (c *Client) Uninstall(ctx context.Context, name string, purge bool) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/installs/"+url.PathEscape(name)+"?purge="+strconv.FormatBool(purge), nil, nil)
}

// Credentials reveals an app's generated credentials.
func (c *Client) Credentials(ctx context.Context, name string) (map[string]string, error) {
	var out map[string]string
	return out, c.do(ctx, http.MethodGet, "/api/v1/installs/"+url.PathEscape(name)+"/credentials", nil, &out)
}

// Logs copies an app's logs to w; follow keeps copying until ctx ends.
func (c *Client) Logs(ctx context.Context, name string, tail int, follow bool, w io.Writer) error {
	res, err := c.request(ctx, http.MethodGet, fmt.Sprintf("/api/v1/installs/%s/logs?tail=%d&follow=%t",
		url.PathEscape(name), tail, follow), nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, err = io.Copy(w, res.Body)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Job reports a job and its log.
func (c *Client) Job(ctx context.Context, id int64) (*Job, []JobEvent, error) {
	var out struct {
		Job    *Job       `json:"job"`
		Events []JobEvent `json:"events"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/jobs/"+strconv.FormatInt(id, 10), nil, &out)
	return out.Job, out.Events, err
}

// Follow calls fn with each line of the job's log as it happens (Server-Sent Events) and returns the finished
// job.
func (c *Client) Follow(ctx context.Context, id int64, fn func(JobEvent)) (*Job, error) {
	res, err := c.request(ctx, http.MethodGet, "/api/v1/jobs/"+strconv.FormatInt(id, 10)+"/events", nil)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := []byte(strings.TrimPrefix(line, "data: "))
			if event == "result" {
				var j Job
				if err := json.Unmarshal(data, &j); err != nil {
					return nil, fmt.Errorf("job result: %w", err)
				}
				return &j, nil
			}
			var e JobEvent
			if json.Unmarshal(data, &e) == nil {
				fn(e)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("the server closed the event stream before the job ended")
}

// Nodes lists the nodes apps run on, with the apps on each.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var out []Node
	return out, c.do(ctx, http.MethodGet, "/api/v1/nodes", nil, &out)
}

// Server reports the server's health.
func (c *Client) Server(ctx context.Context) (*Server, error) {
	var out Server
	return &out, c.do(ctx, http.MethodGet, "/api/v1/server", nil, &out)
}

// ImportTemplate imports one catalog template.
func (c *Client) ImportTemplate(ctx context.Context, t catalog.Template) (*ImportResult, error) {
	var out ImportResult
	return &out, c.do(ctx, http.MethodPost, "/api/v1/catalog/templates", t, &out)
}

// CheckResult is how one installable version fared in a catalog check.
type CheckResult = host.CheckResult

// CheckCatalog renders and loads every installable version of apps (all when none), starting nothing.
func (c *Client) CheckCatalog(ctx context.Context, apps []string) ([]CheckResult, error) {
	q := url.Values{"app": apps}
	var out []CheckResult
	return out, c.do(ctx, http.MethodGet, "/api/v1/catalog/check?"+q.Encode(), nil, &out)
}

// Backup is a snapshot of an app.
type Backup = host.Backup

// Upgrade moves an app to another version; it returns the job.
func (c *Client) Upgrade(ctx context.Context, name, version string) (*Job, error) {
	var out Job
	return &out, c.do(ctx, http.MethodPost, "/api/v1/installs/"+url.PathEscape(name)+"/upgrade",
		map[string]string{"version": version}, &out)
}

// Rollback returns an app to the version before its last upgrade; it returns the job.
func (c *Client) Rollback(ctx context.Context, name string) (*Job, error) {
	var out Job
	return &out, c.do(ctx, http.MethodPost, "/api/v1/installs/"+url.PathEscape(name)+"/rollback", nil, &out)
}

// UpgradeRecord is one upgrade or rollback of an app, with the files it kept as the admin had edited them.
type UpgradeRecord = store.Upgrade

// Upgrades lists an app's upgrades and rollbacks, newest first.
func (c *Client) Upgrades(ctx context.Context, name string) ([]UpgradeRecord, error) {
	var out []UpgradeRecord
	return out, c.do(ctx, http.MethodGet, "/api/v1/installs/"+url.PathEscape(name)+"/upgrades", nil, &out)
}

// Backups lists an app's snapshots, newest first.
func (c *Client) Backups(ctx context.Context, name string) ([]Backup, error) {
	var out []Backup
	return out, c.do(ctx, http.MethodGet, "/api/v1/installs/"+url.PathEscape(name)+"/backups", nil, &out)
}

// Source is a store source; AddSource registers one.
type (
	Source    = store.Source
	AddSource = sources.AddInput
)

// Sources lists the store sources with their last sync.
func (c *Client) Sources(ctx context.Context) ([]Source, error) {
	var out []Source
	return out, c.do(ctx, http.MethodGet, "/api/v1/sources", nil, &out)
}

// AddSource registers a store source; its first sync runs in the background.
func (c *Client) AddSource(ctx context.Context, in AddSource) (*Source, error) {
	var out Source
	return &out, c.do(ctx, http.MethodPost, "/api/v1/sources", in, &out)
}

// SyncSource syncs a store source now and returns its result.
func (c *Client) SyncSource(ctx context.Context, id int64) (*Source, error) {
	var out Source
	return &out, c.do(ctx, http.MethodPost, "/api/v1/sources/"+strconv.FormatInt(id, 10)+"/sync", nil, &out)
}

// RemoveSource removes a store source; its apps leave the catalog, except versions installs use.
func (c *Client) RemoveSource(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/sources/"+strconv.FormatInt(id, 10), nil, nil)
}
