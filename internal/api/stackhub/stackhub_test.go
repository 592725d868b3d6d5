package stackhub_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/host"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

type envelope struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

type appInfo struct {
	Status, Port, DBPort, Info string
}

func (i *appInfo) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	i.Status, i.Port, i.DBPort, i.Info = m["status"], m["port"], m["db_port"], m["info"]
	return nil
}

// call posts JSON to a StackHub endpoint as the admin and decodes the envelope.
func call(t *testing.T, s *tu.Server, endpoint string, params map[string]any) envelope {
	t.Helper()
	r := s.Do(tu.Admin, "POST", "/"+endpoint, params)
	if r.Status != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", endpoint, r.Status, r.Body)
	}
	var env envelope
	r.JSON(t, &env)
	return env
}

func info(t *testing.T, s *tu.Server, name string) appInfo {
	t.Helper()
	env := call(t, s, "getAppInfo", map[string]any{"appName": name})
	var i appInfo
	if env.Code == "1" {
		if err := json.Unmarshal(env.Data, &i); err != nil {
			t.Fatal(err)
		}
	} else {
		i.Info = env.Message
	}
	return i
}

// waitStatus polls getAppInfo until the status is want; any other final status fails the test.
func waitStatus(t *testing.T, s *tu.Server, name, want string) appInfo {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		i := info(t, s, name)
		if i.Status == want {
			return i
		}
		if (i.Status == "2" && want != "2") || time.Now().After(deadline) {
			t.Fatalf("%s: status %q (%s), want %q", name, i.Status, i.Info, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// get reads url, retrying for a few seconds while nothing answers: a service
// without a healthcheck runs as soon as its container starts, a moment before
// its process listens (Docker's proxy then resets the connection).
func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	for deadline := time.Now().Add(10 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		res, err = http.Get(url)
	}
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return strings.TrimSpace(string(b))
}

func setup(t *testing.T, e tu.Engine) (*tu.Server, *tu.Library) {
	t.Helper()
	dockertest.Image(t, "stackhub-test/web:v1")
	s := tu.StartServer(t, e, tu.Options{})
	lib := tu.NewLibrary(t)
	lib.Add(t, "web", tu.WebCompose, "READY_AFTER=0\n")
	lib.Add(t, "slow", tu.WebCompose, "READY_AFTER=4\n")
	lib.Add(t, "webdb", tu.WebDBCompose, "")
	lib.Add(t, "crash", tu.CrashCompose, "")
	lib.Add(t, "missing", tu.MissingImageCompose, "")
	lib.Import(t, s.URL)
	return s, lib
}

func project(s *tu.Server, name string) string { return s.Prefix + "-" + name }

func dockerList(t *testing.T, kind, project string) []string {
	t.Helper()
	var out string
	switch kind {
	case "container":
		out = dockertest.Docker(t, "ps", "-aq", "--filter", "label=com.docker.compose.project="+project)
	case "network":
		out = dockertest.Docker(t, "network", "ls", "-q", "--filter", "label=com.docker.compose.project="+project)
	case "volume":
		out = dockertest.Docker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+project)
	}
	return strings.Fields(out)
}

func TestInstallRunUninstall(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s, lib := setup(t, e)
		// GET with query parameters works as well as POST.
		r := s.Want(200, tu.Anon, "GET", "/installApp?appName=web&token="+tu.AdminToken, nil)
		var env envelope
		r.JSON(t, &env)
		var data map[string]string
		if err := json.Unmarshal(env.Data, &data); err != nil || env.Code != "1" {
			t.Fatalf("installApp = %s", r.Body)
		}
		if data["containerName"] != project(s, "web") || data["port"] != fmt.Sprint(lib.BasePort) || data["info"] != "installing" || data["job"] == "" || data["db_port"] != "" {
			t.Errorf("installApp data = %v", data)
		}
		i := waitStatus(t, s, "web", "1")
		if got := get(t, "http://127.0.0.1:"+i.Port+"/"); got != "web v1" {
			t.Errorf("the app answered %q", got)
		}
		req, _ := http.NewRequest("PUT", "http://127.0.0.1:"+i.Port+"/data", strings.NewReader("kept across reinstalls"))
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode/100 != 2 {
			t.Fatalf("write data: %v %v", err, res)
		}

		var all []map[string]string
		env = call(t, s, "getAllAppInfo", nil)
		_ = json.Unmarshal(env.Data, &all)
		if len(all) != 1 || all[0]["appName"] != "web" || all[0]["status"] != "1" || all[0]["port"] != i.Port {
			t.Errorf("getAllAppInfo = %s", env.Data)
		}
		labels := dockertest.Docker(t, "ps", "--filter", "label=com.docker.compose.project="+project(s, "web"),
			"--format", `{{.Names}} {{.Label "io.stackhub.instance"}} {{.Label "io.stackhub.app"}} {{.Label "io.stackhub.version"}}`)
		if strings.TrimSpace(labels) != project(s, "web")+" web web v1" {
			t.Errorf("docker ps by project label: %q", labels)
		}

		// .env holds the generated secret, mode 0600; it never shows in lists or job logs.
		envPath := filepath.Join(s.DataDir, "apps", "web", ".env")
		fi, err := os.Stat(envPath)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf(".env: %v mode %v", err, fi.Mode().Perm())
		}
		creds := s.Want(200, tu.Admin, "GET", "/api/v1/installs/web/credentials", nil)
		var cr map[string]string
		creds.JSON(t, &cr)
		pw := cr["W9_POWER_PASSWORD"]
		envText, _ := os.ReadFile(envPath)
		if len(pw) < 16 || pw == "changeme" || !strings.Contains(string(envText), pw) {
			t.Errorf("power password %q not generated into .env", pw)
		}
		job := s.Want(200, tu.Admin, "GET", "/api/v1/jobs/"+data["job"], nil)
		list := s.Want(200, tu.Admin, "GET", "/api/v1/installs", nil)
		if strings.Contains(job.Text(), pw) || strings.Contains(list.Text(), pw) || strings.Contains(string(env.Data), pw) {
			t.Error("a secret leaked into a job log or a list")
		}

		// Uninstall keeps the volume; nothing else remains.
		if env := call(t, s, "uninstallApp", map[string]any{"appName": "web"}); env.Code != "1" {
			t.Fatalf("uninstallApp = %+v", env)
		}
		if c := dockerList(t, "container", project(s, "web")); len(c) != 0 {
			t.Errorf("containers left: %v", c)
		}
		if n := dockerList(t, "network", project(s, "web")); len(n) != 0 {
			t.Errorf("networks left: %v", n)
		}
		if out := dockertest.Docker(t, "network", "ls", "-q", "--filter", "name=^"+lib.Network+"$"); strings.TrimSpace(out) != "" {
			t.Errorf("the shared network StackHub created is left: %s", out)
		}
		if v := dockerList(t, "volume", project(s, "web")); len(v) != 1 {
			t.Errorf("volumes after uninstall without purge = %v, want the data volume", v)
		}
		if b, _ := s.Store.Q().PortBookings(t.Context(), ""); len(b) != 0 {
			t.Errorf("port bookings left: %+v", b)
		}
		if i := info(t, s, "web"); i.Info != "web is not installed" {
			t.Errorf("getAppInfo after uninstall = %+v", i)
		}

		// Reinstalled, it finds its data; purged, the volume goes.
		call(t, s, "installApp", map[string]any{"appName": "web"})
		i = waitStatus(t, s, "web", "1")
		if got := get(t, "http://127.0.0.1:"+i.Port+"/data"); got != "kept across reinstalls" {
			t.Errorf("data after reinstall = %q", got)
		}
		if env := call(t, s, "uninstallApp", map[string]any{"appName": "web", "purge": true}); env.Code != "1" {
			t.Fatalf("uninstallApp purge = %+v", env)
		}
		if v := dockerList(t, "volume", project(s, "web")); len(v) != 0 {
			t.Errorf("volumes after purge = %v", v)
		}
		if _, err := os.Stat(filepath.Join(s.DataDir, "apps", "web")); !os.IsNotExist(err) {
			t.Errorf("files after purge: %v", err)
		}
	})
}

func TestAppWithDatabaseAndSlowHealth(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s, _ := setup(t, e)
		call(t, s, "installApp", map[string]any{"appName": "webdb"})
		call(t, s, "installApp", map[string]any{"appName": "slow"})
		if i := info(t, s, "slow"); i.Status != "0" {
			t.Errorf("a slow app right after installApp: %+v, want status 0", i)
		}
		i := waitStatus(t, s, "webdb", "1")
		if got := get(t, "http://127.0.0.1:"+i.Port+"/dep"); got != "db v1" {
			t.Errorf("web reached its database service: %q", got)
		}
		waitStatus(t, s, "slow", "1")
	})
}

func TestTenConcurrentInstalls(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s, lib := setup(t, e)
		// A process outside Docker holds the template's default port: it must be skipped.
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", lib.BasePort))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var wg sync.WaitGroup
		for n := range 10 {
			wg.Go(func() {
				if env := call(t, s, "installApp", map[string]any{"appName": "web", "appId": fmt.Sprintf("web%d", n)}); env.Code != "1" {
					t.Errorf("install web%d: %+v", n, env)
				}
			})
		}
		wg.Wait()
		ports := map[string]bool{}
		for n := range 10 {
			i := waitStatus(t, s, fmt.Sprintf("web%d", n), "1")
			if ports[i.Port] || i.Port == fmt.Sprint(lib.BasePort) {
				t.Errorf("web%d got port %s: taken twice or held outside Docker", n, i.Port)
			}
			ports[i.Port] = true
			if got := get(t, "http://127.0.0.1:"+i.Port+"/"); got != "web v1" {
				t.Errorf("web%d answered %q", n, got)
			}
		}
	})
}

func TestFailuresLeaveNothingHalfDone(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s, lib := setup(t, e)

		call(t, s, "installApp", map[string]any{"appName": "missing"})
		i := waitStatus(t, s, "missing", "2")
		if !strings.Contains(i.Info, "stackhub-test/missing:nope") {
			t.Errorf("missing image info = %q, want the image named", i.Info)
		}
		if c := dockerList(t, "container", project(s, "missing")); len(c) != 0 {
			t.Errorf("containers left by a failed pull: %v", c)
		}

		call(t, s, "installApp", map[string]any{"appName": "crash"})
		i = waitStatus(t, s, "crash", "2")
		if !strings.Contains(i.Info, "code 3") || !strings.Contains(i.Info, "fatal: cannot connect to database") {
			t.Errorf("crash info = %q, want the exit code and last log line", i.Info)
		}
		if c := dockerList(t, "container", project(s, "crash")); len(c) != 0 {
			t.Errorf("containers left by a crashed install: %v", c)
		}
		if b, _ := s.Store.Q().PortBookings(t.Context(), "crash"); len(b) != 0 {
			t.Errorf("ports still booked by a failed install: %+v", b)
		}
		// The failed instance stays in status 2 until uninstalled, which clears it.
		if env := call(t, s, "uninstallApp", map[string]any{"appName": "crash"}); env.Code != "1" {
			t.Errorf("uninstall a failed app: %+v", env)
		}

		call(t, s, "installApp", map[string]any{"appName": "web", "appId": "taken"})
		running := waitStatus(t, s, "taken", "1")
		env := call(t, s, "installApp", map[string]any{"appName": "web", "appId": "taken"})
		if env.Code != "0" || env.Message != "taken already exists" {
			t.Errorf("second install of a name: %+v", env)
		}
		if got := get(t, "http://127.0.0.1:"+running.Port+"/"); got != "web v1" || info(t, s, "taken").Status != "1" {
			t.Error("the running app was touched by a refused install")
		}

		entries := func() int {
			es, _ := os.ReadDir(filepath.Join(s.DataDir, "apps"))
			return len(es)
		}
		before := entries()
		for _, bad := range []string{"../x", "A B", "x;rm", strings.Repeat("a", 200), "-x", "x"} {
			env := call(t, s, "installApp", map[string]any{"appName": "web", "appId": bad})
			if env.Code != "0" || !strings.Contains(env.Message, "not a valid instance name") {
				t.Errorf("name %q: %+v", bad, env)
			}
		}
		for name, settings := range map[string]map[string]any{
			"unknown setting": {"EVIL": "1"},
			"bad port":        {"W9_HTTP_PORT_SET": "http"},
			"engine variable": {"W9_ID": "other"},
		} {
			env := call(t, s, "installApp", map[string]any{"appName": "web", "appId": "set", "settings": settings})
			if env.Code != "0" || !strings.Contains(env.Message, "setting") {
				t.Errorf("%s: %+v", name, env)
			}
		}
		if env := call(t, s, "installApp", map[string]any{"appName": "nope"}); env.Code != "0" || !strings.Contains(env.Message, "nope is not in the catalog") {
			t.Errorf("unknown app: %+v", env)
		}
		if after := entries(); after != before {
			t.Errorf("refused installs left %d directories", after-before)
		}
		var all []map[string]string
		_ = json.Unmarshal(call(t, s, "getAllAppInfo", nil).Data, &all)
		if len(all) != 2 { // missing (failed) and taken
			t.Errorf("instances after refusals = %v", all)
		}

		// Credentials: none is 401, a user is 403, both with code "0".
		for as, status := range map[*tu.As]int{&tu.Anon: 401, {Token: "wrong-token-wrong-token"}: 401} {
			r := s.Do(*as, "POST", "/installApp", map[string]any{"appName": "web", "appId": "noauth"})
			var env envelope
			r.JSON(t, &env)
			if r.Status != status || env.Code != "0" {
				t.Errorf("installApp as %+v: %d %s", *as, r.Status, r.Body)
			}
		}
		u := s.NewUser("someone")
		if r := s.Do(u, "GET", "/getAllAppInfo", nil); r.Status != 403 || !strings.Contains(r.Text(), `"code":"0"`) {
			t.Errorf("a user calling getAllAppInfo: %d %s", r.Status, r.Body)
		}
		_ = lib
	})
}

func TestContainersRemovedByHand(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s, _ := setup(t, e)
		call(t, s, "installApp", map[string]any{"appName": "web", "appId": "gone"})
		waitStatus(t, s, "gone", "1")
		dockertest.Docker(t, "rm", "-f", project(s, "gone"))
		i := info(t, s, "gone")
		if i.Status != "2" || !strings.Contains(i.Info, "removed outside StackHub") {
			t.Errorf("after docker rm by hand: %+v", i)
		}
	})
}

func TestSearchServer(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s, _ := setup(t, e)
		env := call(t, s, "searchServer", nil)
		var d map[string]any
		if err := json.Unmarshal(env.Data, &d); err != nil || env.Code != "1" {
			t.Fatalf("searchServer = %+v", env)
		}
		for _, k := range []string{"cpu", "memory", "hdd"} {
			if v, _ := d[k].(string); !strings.HasSuffix(v, "%") {
				t.Errorf("%s = %v, want a percentage", k, d[k])
			}
		}
		if d["docker"] == "" || d["cpu_cores"].(float64) < 1 || d["mem_total"].(float64) <= 0 || d["risk"] == nil {
			t.Errorf("searchServer data = %v", d)
		}
		// One engine is one node, this server: /api/v1/nodes answers it, and installApp may name no other.
		me, _ := os.Hostname()
		var nodes []host.NodeInfo
		s.Want(200, tu.Admin, "GET", "/api/v1/nodes", nil).JSON(t, &nodes)
		if len(nodes) != 1 || nodes[0].Hostname != me || nodes[0].State != "ready" || nodes[0].Role != "manager" ||
			nodes[0].EngineVersion == "" || nodes[0].CPUs < 1 || nodes[0].Apps == nil {
			t.Errorf("nodes of a single engine: %+v, want this server (%s), ready", nodes, me)
		}
		if env := call(t, s, "installApp", map[string]any{"appName": "web", "node": "elsewhere"}); env.Code != "0" ||
			!strings.Contains(env.Message, "node "+me) {
			t.Errorf("installApp on another node of a single engine: %+v", env)
		}
	})
}

// TestRefusalsInEnvelope: every refusal of the installer endpoints, credentials or request, is the envelope with
// code "0" and a message naming the cause: 401 without a valid credential, 403 for a user who is not the admin or
// a write from another origin, 429 with Retry-After after too many failures, 405 for another method, and HTTP 200
// for a body that cannot be used.
func TestRefusalsInEnvelope(t *testing.T) {
	t.Parallel()
	endpoints := []string{"installApp", "uninstallApp", "getAppInfo", "getAllAppInfo", "uninstallAllApp", "searchServer"}
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{Limiter: auth.NewLimiter(20, time.Minute)})
		user := s.NewUser("someone")
		want := func(what string, r *tu.Resp, status int, mentions string) {
			t.Helper()
			var env struct {
				Code    string          `json:"code"`
				Message string          `json:"message"`
				Data    json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(r.Body, &env); err != nil || r.Status != status || env.Code != "0" ||
				!strings.Contains(env.Message, mentions) || string(env.Data) != "{}" ||
				!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s: HTTP %d %s; want %d, code \"0\" and a message naming %q", what, r.Status, r.Body, status, mentions)
			}
		}
		for _, ep := range endpoints {
			body := map[string]any{"appName": "web"}
			want(ep+" without credentials", s.Do(tu.Anon, "POST", "/"+ep, body), 401, "admin token")
			want(ep+" with a wrong token", s.Do(tu.As{Token: "wrong-token-wrong-token"}, "GET", "/"+ep, nil), 401, "admin token")
			want(ep+" with a wrong passhash", s.Do(tu.As{UID: user.UID, Passhash: tu.Passhash("wrong")}, "POST", "/"+ep, body),
				401, "geekapk_passhash")
			want(ep+" as a user", s.Do(user, "POST", "/"+ep, body), 403, "Only the admin")
			r := s.Do(tu.Admin, "PUT", "/"+ep, body)
			want(ep+" by PUT", r, 405, "POST")
			if r.Header.Get("Allow") != "GET, HEAD, POST" {
				t.Errorf("%s by PUT: Allow %q", ep, r.Header.Get("Allow"))
			}
			want(ep+" from another origin", s.Do(tu.Admin, "POST", "/"+ep, body, "Origin", "http://evil.example",
				"Sec-Fetch-Site", "cross-site"), 403, "cross-origin")
			want(ep+" with a malformed body", s.Do(tu.Admin, "POST", "/"+ep, []byte(`{"appName":`), "Content-Type",
				"application/json"), 200, "not a JSON object")
			want(ep+" with a body over 1 MiB", s.Do(tu.Admin, "POST", "/"+ep, []byte(`{"appName":"`+strings.Repeat("a", 1<<20)+`"}`),
				"Content-Type", "application/json"), 200, "1 MiB")
			want(ep+" with XML", s.Do(tu.Admin, "POST", "/"+ep, []byte(`<appName/>`), "Content-Type", "application/xml"),
				200, "application/xml")
		}
		// Failed token checks from one address: after the limit, even the right token waits.
		var limited *tu.Resp
		for range 30 {
			if r := s.Do(tu.As{Token: "wrong-token-wrong-token"}, "GET", "/getAllAppInfo", nil); r.Status == 429 {
				limited = r
				break
			}
		}
		if limited == nil {
			t.Fatal("30 wrong tokens were never limited")
		}
		for _, ep := range endpoints {
			r := s.Do(tu.Admin, "GET", "/"+ep, nil)
			want(ep+" after too many failures", r, 429, "Too many failed attempts")
			if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 || n > 60 {
				t.Errorf("%s: Retry-After %q, want 1 to 60 seconds", ep, r.Header.Get("Retry-After"))
			}
		}
	})
}
