package cli

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// TestCLIDomains runs `stackhub serve` with the edge's plain HTTP listener and --publish loopback, installs with
// --domain, and adds, lists and removes routes with `stackhub app domain`.
func TestCLIDomains(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		dockertest.Image(t, "stackhub-test/web:v1")
		lib := tu.NewLibrary(t)
		lib.Add(t, "web", tu.WebCompose, "READY_AFTER=0\n")
		prefix := fmt.Sprintf("d%06x", rand.Uint32()&0xffffff)
		edgeAddr := freeAddr(t)
		p := startServe(t, []string{"DOGETOK=" + cliToken}, "--data-dir", t.TempDir(), "--database", e.DSN(t),
			"--prefix", prefix, "--edge-http", edgeAddr, "--publish", "loopback")
		t.Cleanup(func() { dockertest.Cleanup(t, prefix+"-site") })
		mustCLI(t, p.url, "catalog", "import", lib.Dir)
		mustCLI(t, p.url, "app", "install", "web", "--id", "site", "--domain", "site.test")
		get := func(host string, auth ...string) (int, string) {
			req, _ := http.NewRequest("GET", "http://"+edgeAddr+"/", nil)
			req.Host = host
			if len(auth) == 2 {
				req.SetBasicAuth(auth[0], auth[1])
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET %s through the edge: %v", host, err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, strings.TrimSpace(string(b))
		}
		// No HTTPS listener here: plain HTTP serves the route.
		if code, body := get("site.test"); code != 200 || body != "web v1" {
			t.Errorf("site.test through the edge: %d %q", code, body)
		}
		out := mustCLI(t, p.url, "app", "domain", "add", "site", "private.test", "--access", "basic", "--basic-user",
			"ann:s3cret", "--https", "off", "--allow", "127.0.0.0/8")
		if !strings.Contains(out, "http://private.test/ routes to site (access basic, https off)") {
			t.Errorf("domain add:\n%s", out)
		}
		if code, _ := get("private.test"); code != 401 {
			t.Errorf("private.test without credentials: %d", code)
		}
		if code, body := get("private.test", "ann", "s3cret"); code != 200 || body != "web v1" {
			t.Errorf("private.test with credentials: %d %q", code, body)
		}
		out = mustCLI(t, p.url, "app", "domain", "list", "site")
		if !strings.Contains(out, "site.test") || !strings.Contains(out, "private.test") || !strings.Contains(out, "127.0.0.0/8") {
			t.Errorf("domain list:\n%s", out)
		}
		mustCLI(t, p.url, "app", "domain", "remove", "site", "private.test")
		if code, _ := get("private.test"); code != 404 {
			t.Errorf("a removed route: %d", code)
		}
		if _, errOut, code := runCLI(t, p.url, "app", "domain", "add", "site", "site.test"); code == 0 || !strings.Contains(errOut, "routed already") {
			t.Errorf("a taken name: exit %d, %q", code, errOut)
		}
		mustCLI(t, p.url, "app", "uninstall", "site", "--purge")
	})
}
