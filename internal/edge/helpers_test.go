package edge_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/client"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// TestMain stops the shared Chromium of testutil once the tests are done (the browser test runs its own).
func TestMain(m *testing.M) {
	code := m.Run()
	tu.StopBrowser()
	os.Exit(code)
}

// edgeImage is the test app's image under a name of this package's own: tests of other worktrees on the same
// engine tag stackhub-test/web onto their own build of the test app, which may lack the endpoints used here.
const edgeImage = "stackhub-test/edge-web"

// setup starts a server with the edge and imports the web test app, whose .env has a W9_URL.
func setup(t *testing.T, e tu.Engine, opt tu.Options) (*tu.Server, *tu.Library) {
	t.Helper()
	dockertest.Image(t, edgeImage+":v1")
	if opt.Edge == nil {
		opt.Edge = &tu.EdgeOptions{}
	}
	s := tu.StartServer(t, e, opt)
	lib := tu.NewLibrary(t)
	lib.Add(t, "web", strings.ReplaceAll(tu.WebCompose, "stackhub-test/web:", edgeImage+":"), "READY_AFTER=0\nW9_URL=appname.example.com\n")
	lib.Import(t, s.URL)
	return s, lib
}

// waitJob waits for a job to end and fails the test unless it succeeded.
func waitJob(t *testing.T, s *tu.Server, id int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	j, err := client.New(s.URL, tu.AdminToken).Follow(ctx, id, func(client.JobEvent) {})
	if err != nil {
		t.Fatalf("follow job %d: %v", id, err)
	}
	if j.State != "succeeded" {
		_, evs, _ := client.New(s.URL, tu.AdminToken).Job(ctx, id)
		t.Fatalf("job %d (%s) %s: %s; log %+v", id, j.Kind, j.State, j.Error, evs)
	}
}

// edgeClient sends every request to the edge's listener (HTTPS when secure), whatever name its URL holds, from
// the local address from ("" for any), trusting only the stand-in's root. It does not follow redirects.
func edgeClient(s *tu.Server, secure bool, from string) *http.Client {
	addr := s.EdgeHTTP
	if secure {
		addr = s.EdgeHTTPS
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: s.StandIn.Pool},
		ForceAttemptHTTP2: true,
	}
	return &http.Client{Transport: tr, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// at is the URL of path at name on the edge's listener (HTTPS when secure).
func at(s *tu.Server, secure bool, name, path string) string {
	addr, scheme := s.EdgeHTTP, "http://"
	if secure {
		addr, scheme = s.EdgeHTTPS, "https://"
	}
	_, port, _ := net.SplitHostPort(addr)
	return scheme + net.JoinHostPort(name, port) + path
}

// fetch sends a request and reads the whole answer.
func fetch(t *testing.T, c *http.Client, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Cookie" {
			req.Header.Add("Cookie", header[i+1])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return res, string(b)
}

// envValue reads KEY from an install's rendered .env.
func envValue(t *testing.T, s *tu.Server, name, key string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.DataDir, "apps", name, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k == key {
			return strings.Trim(v, `'"`)
		}
	}
	return ""
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
