package host_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/testports"
)

// recorder is an Engine that runs nothing: it records the projects it is asked to run and reports them running.
// It is enough to test what the host renders, which is pure logic over files.
type recorder struct {
	mu       sync.Mutex
	projects map[string]*engine.Project
}

func (r *recorder) Version(context.Context) (string, error)                            { return "recorder", nil }
func (r *recorder) Pull(context.Context, *engine.Project, func(engine.Progress)) error { return nil }
func (r *recorder) Up(_ context.Context, p *engine.Project, _ map[string]string, _ func(engine.Progress)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.projects[p.Name] = p
	return nil
}
func (r *recorder) Converge(ctx context.Context, p *engine.Project, l map[string]string, f func(engine.Progress)) ([]string, error) {
	return nil, r.Up(ctx, p, l, f)
}
func (r *recorder) VolumeMountpoint(context.Context, string) (string, error) { return "", nil }
func (r *recorder) Down(_ context.Context, name string, _ bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.projects, name)
	return nil
}
func (r *recorder) Start(context.Context, string) error   { return nil }
func (r *recorder) Stop(context.Context, string) error    { return nil }
func (r *recorder) Restart(context.Context, string) error { return nil }
func (r *recorder) Status(_ context.Context, name string) (*engine.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &engine.Status{Project: name}
	if p, ok := r.projects[name]; ok {
		for svc := range p.Services {
			st.Services = append(st.Services, engine.ServiceState{Service: svc, State: "running", Health: "healthy"})
		}
	}
	return st, nil
}
func (r *recorder) Logs(context.Context, string, int, bool, io.Writer) error { return nil }
func (r *recorder) PublishedPorts(context.Context) (map[int]bool, error)     { return map[int]bool{}, nil }
func (r *recorder) Exists(context.Context, string, ...string) (bool, error)  { return false, nil }
func (r *recorder) Volumes(context.Context, string) ([]string, error)        { return nil, nil }
func (r *recorder) RemoveVolume(context.Context, string) error               { return nil }

// fixedPortRe reads the port out of a catalog.Stack.FixedPorts entry.
var fixedPortRe = regexp.MustCompile(`host port (\d+)/`)

// holdFixedPorts gives each fixed host port of tpl (supabase publishes 5432, where this machine's PostgreSQL may
// listen) a port this test holds, by rewriting the .env value it comes from, so the install's outcome never
// depends on what else runs here. It returns the ports given; a fixed port no .env line sets fails the test.
func holdFixedPorts(t *testing.T, tpl *catalog.Template) []int {
	var out []int
	for _, f := range tpl.Stack.FixedPorts {
		m := fixedPortRe.FindStringSubmatch(f)
		if m == nil {
			t.Fatalf("%s: fixed port %q does not read as one", tpl.Key, f)
		}
		line := regexp.MustCompile(`(?m)^([A-Za-z0-9_]+)=` + m[1] + `$`)
		if !line.MatchString(tpl.Stack.Env) {
			t.Fatalf("%s: fixed port %s comes from no .env value the test could point at a port it holds", tpl.Key, m[1])
		}
		p := testports.Port(t)
		tpl.Stack.Env = line.ReplaceAllString(tpl.Stack.Env, "${1}="+strconv.Itoa(p))
		out = append(out, p)
	}
	return out
}

var sampleLibrary = filepath.Join("..", "..", "testdata", "websoft9-library")

// Every sample template imports, renders and validates: ports are booked, secrets generated, .env is 0600, and
// the rendered project loads with compose-go using the booked ports.
func TestSampleTemplatesRender(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		rec := &recorder{projects: map[string]*engine.Project{}}
		s := tu.StartServer(t, e, tu.Options{Engine: rec, HealthTimeout: 10 * time.Second})
		ts, refused, err := catalog.ReadWebsoft9(sampleLibrary, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) < 40 {
			t.Fatalf("only %d sample templates accepted (refused: %+v)", len(ts), refused)
		}
		c := client.New(s.URL, tu.AdminToken)
		ctx := t.Context()
		seen := map[int]string{}
		secretRe := regexp.MustCompile(`^[A-Za-z0-9!]{16,}$`)
		for _, tpl := range ts {
			fixed := holdFixedPorts(t, &tpl)
			if _, err := c.ImportTemplate(ctx, tpl); err != nil {
				t.Fatalf("import %s: %v", tpl.Key, err)
			}
			name := "s-" + tpl.Key
			if len(name) > 31 {
				name = name[:31]
			}
			res, err := c.Install(ctx, client.InstallRequest{App: tpl.Key, Name: name, Force: true})
			if err != nil {
				t.Errorf("install %s: %v", tpl.Key, err)
				continue
			}
			job, err := c.Follow(ctx, res.Job.ID, func(client.JobEvent) {})
			if err != nil || job.State != "succeeded" {
				t.Errorf("install job of %s: %v %+v", tpl.Key, err, job)
				continue
			}
			dir := filepath.Join(s.DataDir, "apps", name)
			fi, err := os.Stat(filepath.Join(dir, ".env"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: .env %v mode %v", tpl.Key, err, fi.Mode().Perm())
			}
			env, err := engine.ReadEnvFile(filepath.Join(dir, ".env"))
			if err != nil {
				t.Fatal(err)
			}
			if env["W9_ID"] != s.Prefix+"-"+name || env["W9_VERSION"] != tpl.Versions[0] {
				t.Errorf("%s: W9_ID %q W9_VERSION %q", tpl.Key, env["W9_ID"], env["W9_VERSION"])
			}
			if pw, ok := env["W9_POWER_PASSWORD"]; ok && !secretRe.MatchString(pw) {
				t.Errorf("%s: W9_POWER_PASSWORD %q is not a generated secret", tpl.Key, pw)
			}
			if strings.Contains(tpl.Stack.Env, "W9_RCODE") && len(env["W9_RCODE"]) != 12 {
				t.Errorf("%s: W9_RCODE %q", tpl.Key, env["W9_RCODE"])
			}
			// Every booked port is unique across all installs and is what the rendered project publishes.
			p := rec.projects[s.Prefix+"-"+name]
			if p == nil {
				t.Errorf("%s: nothing was run", tpl.Key)
				continue
			}
			var published []int
			for _, svc := range p.Services {
				for _, pc := range svc.Ports {
					if n, err := strconv.Atoi(pc.Published); err == nil {
						published = append(published, n)
					}
				}
			}
			for _, want := range fixed {
				if !slices.ContainsFunc(res.Instance.Ports, func(b store.PortBooking) bool { return b.Port == want }) {
					t.Errorf("%s: its fixed port %d is not booked: %+v", tpl.Key, want, res.Instance.Ports)
				}
			}
			for _, b := range res.Instance.Ports {
				if other, dup := seen[b.Port]; dup && b.Protocol == "tcp" {
					t.Errorf("%s: port %d booked again (first by %s)", tpl.Key, b.Port, other)
				}
				seen[b.Port] = tpl.Key
				if !slices.Contains(published, b.Port) {
					t.Errorf("%s: booked %s=%d, but the project publishes %v", tpl.Key, b.Variable, b.Port, published)
				}
			}
		}
	})
}
