package host_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stackhub/stackhub/client"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// replicasCompose is the web app calling a worker service that runs two replicas, reached by its service name.
var replicasCompose = strings.NewReplacer("      DATA_DIR: /data\n", "      DATA_DIR: /data\n      DEPENDS_URL: http://worker:8080/\n",
	"volumes:\n  data:\n", `  worker:
    image: stackhub-test/web:$W9_VERSION
    environment:
      APP_NAME: worker
    deploy:
      replicas: 2
    healthcheck:
      test: ["CMD", "/testapp", "check", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 2s
      retries: 600
volumes:
  data:
`).Replace(tu.WebCompose)

// TestInstallReplicas installs an app whose worker has deploy.replicas: 2: both replicas run and answer to the
// service name, the install is running only while both are there, and uninstalling removes both.
func TestInstallReplicas(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		lib := tu.NewLibrary(t)
		owner := s.NewUser("publisher")
		aid := s.Want(200, owner, "POST", "/app", map[string]any{"name": "Replicas", "package": "replicas"}).Int(t)
		st := stackFor(lib, "0")
		st["compose"] = replicasCompose
		s.Want(201, owner, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": "v1", "updates": "first",
			"stack": st})
		c := client.New(s.URL, tu.AdminToken)
		ctx := t.Context()
		res, err := c.Install(ctx, client.InstallRequest{App: "replicas", Name: "rp", Version: "v1"})
		if err != nil {
			t.Fatal(err)
		}
		if job := runJob(t, c, func() (*client.Job, error) { return res.Job, nil }); job.State != "succeeded" {
			t.Fatalf("install: %+v", job)
		}
		inst, err := c.Instance(ctx, "rp")
		if err != nil {
			t.Fatal(err)
		}
		if inst.Status != "1" {
			t.Errorf("status %s %q, want 1 (running)", inst.Status, inst.Info)
		}
		project := inst.Container // the main container is named after the project (W9_ID)
		ps := func() []string {
			out := dockertest.Docker(t, "ps", "-a", "--filter", "label=com.docker.compose.project="+project, "--format", "{{.Names}}")
			names := strings.Fields(out)
			slices.Sort(names)
			return names
		}
		if got, want := ps(), []string{project, project + "-worker-1", project + "-worker-2"}; !slices.Equal(got, want) {
			t.Fatalf("containers %v, want %v", got, want)
		}
		if got := httpGet(t, "http://127.0.0.1:"+inst.Port+"/dep"); got != "worker v1" {
			t.Errorf("web -> worker by service name: %q", got)
		}

		dockertest.Docker(t, "rm", "-f", project+"-worker-2")
		if inst, err = c.Instance(ctx, "rp"); err != nil {
			t.Fatal(err)
		}
		if want := "1 of the 2 containers of service worker were removed outside StackHub"; inst.Status != "2" || inst.Info != want {
			t.Errorf("with a replica removed: status %s %q, want 2 %q", inst.Status, inst.Info, want)
		}

		if err := c.Uninstall(ctx, "rp", true); err != nil {
			t.Fatal(err)
		}
		if got := ps(); len(got) != 0 {
			t.Errorf("containers left after uninstall: %v", got)
		}
	})
}
