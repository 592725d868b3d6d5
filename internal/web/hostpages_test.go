package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// hostSetup starts a server with the test web app in its catalog and returns it with the app's catalog id.
func hostSetup(t *testing.T, e testutil.Engine) (*testutil.Server, *testutil.Library, int64) {
	t.Helper()
	dockertest.Image(t, "stackhub-test/web:v1")
	s := testutil.StartServer(t, e, testutil.Options{})
	lib := testutil.NewLibrary(t)
	lib.Add(t, "web", testutil.WebCompose, "READY_AFTER=0\n")
	lib.Add(t, "crash", testutil.CrashCompose, "")
	lib.Import(t, s.URL)
	app, err := s.Store.Q().AppByPackage(context.Background(), "web")
	if err != nil {
		t.Fatalf("the web app is not in the catalog: %v", err)
	}
	return s, lib, app.ID
}

// waitInstance polls the API until the instance's status is want ("1" running, "0" not started).
func waitInstance(t *testing.T, s *testutil.Server, name, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var in map[string]any
		r := s.Do(testutil.Admin, "GET", "/api/v1/installs/"+name, nil)
		if r.Status == 200 {
			r.JSON(t, &in)
			if in["status"] == want {
				return in
			}
			if in["status"] == "2" {
				t.Fatalf("%s failed: %v", name, in["info"])
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %s, want status %s", name, r.Status, r.Body, want)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// waitJob polls the API until the job ends and returns its state.
func waitJob(t *testing.T, s *testutil.Server, id string) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var r struct {
			Job struct {
				State string `json:"state"`
				Error string `json:"error"`
			} `json:"job"`
		}
		s.Want(200, testutil.Admin, "GET", "/api/v1/jobs/"+id, nil).JSON(t, &r)
		if r.Job.State != "running" {
			if r.Job.State != "succeeded" {
				t.Fatalf("job %s %s: %s", id, r.Job.State, r.Job.Error)
			}
			return r.Job.State
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still runs", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jobOf is the job id in a redirect to a job page or to My apps following a job.
func jobOf(t *testing.T, res *http.Response) string {
	t.Helper()
	loc := res.Header.Get("Location")
	if m := jobRe.FindStringSubmatch(loc); m != nil {
		return m[1]
	}
	u, err := url.Parse(loc)
	if res.StatusCode != http.StatusSeeOther || err != nil || u.Query().Get("job") == "" {
		t.Fatalf("no job in the answer: %d %q", res.StatusCode, loc)
	}
	return u.Query().Get("job")
}

func dockerIDs(t *testing.T, kind, project string) []string {
	t.Helper()
	args := map[string][]string{
		"container": {"ps", "-aq"},
		"volume":    {"volume", "ls", "-q"},
	}[kind]
	args = append(args, "--filter", "label=com.docker.compose.project="+project)
	return strings.Fields(dockertest.Docker(t, args...))
}

var jobRe = regexp.MustCompile(`^/ui/jobs/(\d+)$`)

func TestHostPagesRefuseOthers(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		s.NewUser("mallory")
		users := map[string]*http.Client{"anonymous": browserClient(t), "mallory": signIn(t, s, "mallory")}
		want := map[string]int{"anonymous": http.StatusUnauthorized, "mallory": http.StatusForbidden}
		gets := []string{"/ui/apps/1/install", "/ui/apps/web/install", "/ui/jobs/1", "/ui/my-apps", "/ui/my-apps/web",
			"/ui/server", "/ui/server/metrics"}
		posts := []string{"/ui/install", "/ui/my-apps/web/start", "/ui/my-apps/web/stop", "/ui/my-apps/web/restart",
			"/ui/my-apps/web/uninstall", "/ui/my-apps/web/upgrade", "/ui/my-apps/web/rollback"}
		for who, c := range users {
			for _, p := range gets {
				res, body := get(t, c, s.URL+p)
				if res.StatusCode != want[who] {
					t.Errorf("%s GET %s: %d, want %d", who, p, res.StatusCode, want[who])
				}
				if strings.Contains(body, `action="/ui/install"`) || strings.Contains(body, "/uninstall") {
					t.Errorf("%s GET %s shows install controls", who, p)
				}
			}
			for _, p := range posts {
				form := url.Values{"app": {"web"}, "name": {"web"}, "version": {"v1"}, "purge": {"1"}}
				if res, _ := post(t, c, s.URL+p, form); res.StatusCode != want[who] {
					t.Errorf("%s POST %s: %d, want %d", who, p, res.StatusCode, want[who])
				}
			}
		}
	})
}

func TestInstallFormPlansAndRefuses(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s, lib, aid := hostSetup(t, e)
		c := signIn(t, s, "admin")
		res, body := get(t, c, fmt.Sprintf("%s/ui/apps/%d/install", s.URL, aid))
		if res.StatusCode != 200 {
			t.Fatalf("install page: %d\n%s", res.StatusCode, body)
		}
		for _, want := range []string{`<dialog id="install-dialog"`, `name="name"`, `value="web"`, `<option value="v1" selected>`,
			`name="set_W9_HTTP_PORT_SET"`, `for="install-name"`, `for="set-W9_HTTP_PORT_SET"`} {
			if !strings.Contains(body, want) {
				t.Errorf("install page lacks %s", want)
			}
		}
		if !regexp.MustCompile(`name="set_W9_HTTP_PORT_SET" value="\d+"`).MatchString(body) {
			t.Error("install page suggests no port")
		}
		if strings.Contains(body, "style=") || strings.Contains(body, "<script>") || regexp.MustCompile(` on[a-z]+=`).MatchString(body) {
			t.Error("install page has inline style or script")
		}

		// A bad name: the error is next to the name field, and nothing exists.
		form := url.Values{"app": {"web"}, "version": {"v1"}, "name": {"Bad_Name"}, "set_W9_HTTP_PORT_SET": {""}}
		res, body = post(t, c, s.URL+"/ui/install", form)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="name-error"`) ||
			!strings.Contains(body, "not a valid instance name") || !strings.Contains(body, `value="Bad_Name"`) {
			t.Fatalf("bad name: %d\n%s", res.StatusCode, body)
		}

		// A taken port: the error is next to the port field, and nothing is left behind.
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		taken := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		form = url.Values{"app": {"web"}, "version": {"v1"}, "name": {"portclash"}, "set_W9_HTTP_PORT_SET": {taken}}
		res, body = post(t, c, s.URL+"/ui/install", form)
		if res.StatusCode != http.StatusConflict || !strings.Contains(body, `id="set_W9_HTTP_PORT_SET-error"`) ||
			!strings.Contains(body, "port "+taken) {
			t.Fatalf("taken port: %d\n%s", res.StatusCode, body)
		}
		for _, name := range []string{"portclash", "bad_name"} {
			if r := s.Do(testutil.Admin, "GET", "/api/v1/installs/"+name, nil); r.Status != 404 {
				t.Errorf("refused install %s left an instance: %d %s", name, r.Status, r.Body)
			}
			if ids := dockerIDs(t, "container", s.Prefix+"-"+name); len(ids) > 0 {
				t.Errorf("refused install %s left containers %v", name, ids)
			}
		}
		_ = lib

		// An install whose app crashes: the job page gives the cause and says nothing was left behind.
		res, _ = post(t, c, s.URL+"/ui/install", url.Values{"app": {"crash"}, "name": {"crash"}})
		id := jobOf(t, res)
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, body = get(t, c, s.URL+"/ui/jobs/"+id)
			if strings.Contains(body, `data-state="failed"`) || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !strings.Contains(body, "Failed: ") || !strings.Contains(body, "exited with code 3") ||
			!strings.Contains(body, "Nothing was left behind") {
			t.Errorf("the failed job's page:\n%s", body)
		}
		if ids := dockerIDs(t, "container", s.Prefix+"-crash"); len(ids) > 0 {
			t.Errorf("the failed install left containers %v", ids)
		}
	})
}

// TestInstallMyAppsLifecycle installs through the form with real Docker, then drives My apps' forms.
func TestInstallMyAppsLifecycle(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s, _, aid := hostSetup(t, e)
		c := signIn(t, s, "admin")
		_, page := get(t, c, fmt.Sprintf("%s/ui/apps/%d/install", s.URL, aid))
		port := regexp.MustCompile(`name="set_W9_HTTP_PORT_SET" value="(\d+)"`).FindStringSubmatch(page)
		if port == nil {
			t.Fatal("no suggested port")
		}
		form := url.Values{"app": {"web"}, "version": {"v1"}, "name": {"web"}, "set_W9_HTTP_PORT_SET": {port[1]}}
		res, body := post(t, c, s.URL+"/ui/install", form)
		m := jobRe.FindStringSubmatch(res.Header.Get("Location"))
		if res.StatusCode != http.StatusSeeOther || m == nil {
			t.Fatalf("install: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
		}
		_, jobPage := get(t, c, s.URL+"/ui/jobs/"+m[1])
		if !strings.Contains(jobPage, `id="job-progress"`) || !strings.Contains(jobPage, `data-job="`+m[1]+`"`) {
			t.Fatalf("job page:\n%s", jobPage)
		}
		waitJob(t, s, m[1])
		waitInstance(t, s, "web", "1")
		_, jobPage = get(t, c, s.URL+"/ui/jobs/"+m[1])
		if !strings.Contains(jobPage, "web is running") || !strings.Contains(jobPage, `href="http://127.0.0.1:`+port[1]+`"`) {
			t.Errorf("the finished job page shows no result and Open link:\n%s", jobPage)
		}

		// My apps lists it with its port and Open link, and never a secret.
		_, list := get(t, c, s.URL+"/ui/my-apps")
		for _, want := range []string{`id="app-web"`, ">running<", ">" + port[1] + "<", `href="http://127.0.0.1:` + port[1] + `"`,
			`action="/ui/my-apps/web/stop"`, `action="/ui/my-apps/web/uninstall"`, `name="purge"`} {
			if !strings.Contains(list, want) {
				t.Errorf("my apps lacks %s", want)
			}
		}
		var creds map[string]string
		s.Want(200, testutil.Admin, "GET", "/api/v1/installs/web/credentials", nil).JSON(t, &creds)
		_, detail := get(t, c, s.URL+"/ui/my-apps/web")
		for k, v := range creds {
			if len(v) >= 8 && (strings.Contains(list, v) || strings.Contains(detail, v)) {
				t.Errorf("the pages show the secret %s", k)
			}
		}
		if !strings.Contains(detail, `id="creds-show"`) || !strings.Contains(detail, `id="logs"`) {
			t.Errorf("detail page lacks credentials button or logs")
		}

		// Stop and start through the forms.
		res, _ = post(t, c, s.URL+"/ui/my-apps/web/stop", nil)
		waitJob(t, s, jobOf(t, res))
		waitInstance(t, s, "web", "0")
		_, list = get(t, c, s.URL+"/ui/my-apps")
		if !strings.Contains(list, ">not started<") {
			t.Errorf("my apps after stop:\n%s", list)
		}
		res, _ = post(t, c, s.URL+"/ui/my-apps/web/start", nil)
		waitJob(t, s, jobOf(t, res))
		waitInstance(t, s, "web", "1")

		// Uninstall with the default (keep data) keeps the volume; the same name again, with purge, removes it.
		project := s.Prefix + "-web"
		if vols := dockerIDs(t, "volume", project); len(vols) != 1 {
			t.Fatalf("volumes before uninstall: %v", vols)
		}
		res, _ = post(t, c, s.URL+"/ui/my-apps/web/uninstall", url.Values{})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ui/my-apps" || s.Do(testutil.Admin, "GET", "/api/v1/installs/web", nil).Status != 404 {
			t.Fatalf("uninstall: %d", res.StatusCode)
		}
		if ids := dockerIDs(t, "container", project); len(ids) > 0 {
			t.Errorf("containers after uninstall: %v", ids)
		}
		if vols := dockerIDs(t, "volume", project); len(vols) != 1 {
			t.Errorf("uninstall keeping data removed the volume: %v", vols)
		}
		res, _ = post(t, c, s.URL+"/ui/install", url.Values{"app": {"web"}, "name": {"web"}})
		waitJob(t, s, jobOf(t, res))
		res, _ = post(t, c, s.URL+"/ui/my-apps/web/uninstall", url.Values{"purge": {"1"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("uninstall with purge: %d", res.StatusCode)
		}
		if vols := dockerIDs(t, "volume", project); len(vols) != 0 {
			t.Errorf("uninstall with purge kept volumes %v", vols)
		}
	})
}

func TestServerPageAndMetricsStream(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{Metrics: true})
		c := signIn(t, s, "admin")
		res, body := get(t, c, s.URL+"/ui/server")
		if res.StatusCode != 200 {
			t.Fatalf("server page: %d\n%s", res.StatusCode, body)
		}
		me, _ := os.Hostname() // a single engine is one node, this server
		for _, want := range []string{`id="server-live"`, `data-stream="/ui/server/metrics"`, `<polyline`, `id="docker-version"`, `id="risks"`,
			`id="nodes"`, `data-node="` + me + `"`} {
			if !strings.Contains(body, want) {
				t.Errorf("server page lacks %s", want)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/ui/server/metrics", nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("metrics stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		sc := bufio.NewScanner(res.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				event = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok && event == "sample" {
				var d struct {
					Sample struct {
						T        int64 `json:"t"`
						CPUCores int   `json:"cpu_cores"`
					} `json:"sample"`
					Point []float64 `json:"point"`
				}
				if err := json.Unmarshal([]byte(v), &d); err != nil || d.Sample.T == 0 || d.Sample.CPUCores == 0 || len(d.Point) != 5 {
					t.Fatalf("sample %s: %v", v, err)
				}
				return
			}
		}
		t.Fatalf("the stream ended without a sample: %v", sc.Err())
	})
}
