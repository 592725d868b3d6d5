package host_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/cli"
	"github.com/stackhub/stackhub/internal/engine"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// confCompose is the web testapp reading its data from the project's conf/ directory, bind-mounted: GET /data
// answers conf/data.txt, the configuration file an admin edits in these tests.
var confCompose = strings.NewReplacer("DATA_DIR: /data", "DATA_DIR: /conf", "- data:/data", "- ./conf:/conf").
	Replace(tu.WebCompose)

// confStack is a version of the conf app whose files say which version rendered them.
func confStack(lib *tu.Library, ver string, files ...string) map[string]any {
	st := stackFor(lib, "0")
	st["compose"] = confCompose
	fs := map[string]string{}
	for _, f := range files {
		fs["conf/"+f] = fmt.Sprintf("%s %s\n", f, ver)
	}
	st["files"] = fs
	return st
}

// installConf publishes the conf app's versions, each with the given files, and installs the first as cf.
func installConf(t *testing.T, s *tu.Server, versions []string, files ...string) (*client.Client, *client.Installing) {
	t.Helper()
	lib := tu.NewLibrary(t)
	owner := s.NewUser("publisher")
	aid := s.Want(200, owner, "POST", "/app", map[string]any{"name": "Conf", "package": "conf"}).Int(t)
	for _, v := range versions {
		s.Want(201, owner, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": v, "updates": "release " + v,
			"stack": confStack(lib, v, files...)})
	}
	c := client.New(s.URL, tu.AdminToken)
	res, err := c.Install(t.Context(), client.InstallRequest{App: "conf", Name: "cf", Version: versions[0]})
	if err != nil {
		t.Fatal(err)
	}
	if job := runJob(t, c, func() (*client.Job, error) { return res.Job, nil }); job.State != "succeeded" {
		t.Fatalf("install: %+v", job)
	}
	return c, res
}

// jobWithLog runs a job to its end and returns it with its log's messages.
func jobWithLog(t *testing.T, c *client.Client, start func() (*client.Job, error)) (*client.Job, string) {
	t.Helper()
	job, err := start()
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	done, err := c.Follow(t.Context(), job.ID, func(e client.JobEvent) { log.WriteString(e.Message + "\n") })
	if err != nil {
		t.Fatal(err)
	}
	return done, log.String()
}

// dirState is every file under dir with its mode and content, to compare a directory before and after.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[rel] = fmt.Sprintf("%v %s", info.Mode(), b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastUpgrade(t *testing.T, c *client.Client, name string) client.UpgradeRecord {
	t.Helper()
	recs, err := c.Upgrades(t.Context(), name)
	if err != nil || len(recs) == 0 {
		t.Fatalf("upgrades of %s: %v %v", name, recs, err)
	}
	return recs[0]
}

// failingRecorder is a recorder on which one version fails to start, as an app that rejects its config would.
type failingRecorder struct {
	*recorder
	version string
}

func (f failingRecorder) Converge(ctx context.Context, p *engine.Project, l map[string]string, fn func(engine.Progress)) ([]string, error) {
	if l[engine.LabelAppVersion] == f.version {
		return nil, fmt.Errorf("%s refuses its configuration", f.version)
	}
	return f.recorder.Converge(ctx, p, l, fn)
}

// TestUpgradeKeepsEditedFiles follows the rule for the template's files through upgrades and rollbacks, on an
// engine that runs nothing (the rule is about files): edited files are kept with the new rendering beside them,
// unedited ones replaced, removed ones written again, the owned Compose file's edits replaced and reported; a
// rollback restores the directory exactly; a .new the admin has taken over goes at the next upgrade; an instance
// without a record falls back to its version's template.
func TestUpgradeKeepsEditedFiles(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		rec := failingRecorder{recorder: &recorder{projects: map[string]*engine.Project{}}, version: "v4"}
		s := tu.StartServer(t, e, tu.Options{Engine: rec, HealthTimeout: 10 * time.Second})
		c, _ := installConf(t, s, []string{"v1", "v2", "v3", "v4"}, "data.txt", "plain.txt", "gone.txt")
		ctx := t.Context()
		dir := filepath.Join(s.DataDir, "apps", "cf")
		conf := func(f string) string { return filepath.Join(dir, "conf", f) }
		inst, err := s.Store.Q().Instance(ctx, "cf")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"docker-compose.yml", ".env", "conf/data.txt", "conf/plain.txt", "conf/gone.txt"} {
			if !strings.Contains(inst.Rendered, `"`+f+`"`) {
				t.Errorf("the install recorded no hash of %s: %s", f, inst.Rendered)
			}
		}

		writeFile(t, conf("data.txt"), "edited by the admin\n")
		if err := os.Remove(conf("gone.txt")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "docker-compose.yml"), confCompose+"# the admin's comment\n")
		before := dirState(t, dir)

		job, log := jobWithLog(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "cf", "v2") })
		if job.State != "succeeded" {
			t.Fatalf("upgrade to v2: %+v\n%s", job, log)
		}
		for path, want := range map[string]string{
			conf("data.txt"): "edited by the admin\n", conf("data.txt.new"): "data.txt v2\n",
			conf("plain.txt"): "plain.txt v2\n", conf("gone.txt"): "gone.txt v2\n",
			filepath.Join(dir, "docker-compose.yml"): confCompose,
		} {
			if got := readFile(t, path); got != want {
				t.Errorf("after the upgrade %s = %q, want %q", path, got, want)
			}
		}
		up := lastUpgrade(t, c, "cf")
		if !slices.Equal(up.Kept, []string{"conf/data.txt"}) || !slices.Equal(up.Replaced, []string{"docker-compose.yml"}) {
			t.Errorf("upgrade record: kept %q, replaced %q", up.Kept, up.Replaced)
		}
		for _, want := range []string{"kept conf/data.txt as edited here; the new version's copy is conf/data.txt.new",
			"replaced the local edits to docker-compose.yml", "wrote again conf/gone.txt", "kept as edited here: conf/data.txt"} {
			if !strings.Contains(log, want) {
				t.Errorf("the job log does not say %q:\n%s", want, log)
			}
		}

		// The rollback puts back exactly the directory before the upgrade: the admin's edit, the removal, the
		// edited Compose file, and no .new.
		if job := runJob(t, c, func() (*client.Job, error) { return c.Rollback(ctx, "cf") }); job.State != "succeeded" {
			t.Fatalf("rollback: %+v", job)
		}
		if diff := cmp.Diff(before, dirState(t, dir)); diff != "" {
			t.Errorf("after the rollback the project directory differs from before the upgrade (-before +after):\n%s", diff)
		}
		// A version that fails to start is rolled back by itself, exactly as well; the cause names the kept
		// file, and the record lists none, since none stays kept.
		job, log = jobWithLog(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "cf", "v4") })
		if job.State != "failed" || !strings.Contains(job.Error, "v4 refuses its configuration (it had kept conf/data.txt as edited here)") {
			t.Errorf("upgrade to v4: %+v\n%s", job, log)
		}
		if diff := cmp.Diff(before, dirState(t, dir)); diff != "" {
			t.Errorf("after the automatic rollback the project directory differs from before (-before +after):\n%s", diff)
		}
		if up := lastUpgrade(t, c, "cf"); up.Result != "rolled_back" || len(up.Kept) != 0 || len(up.Replaced) != 0 {
			t.Errorf("the rolled-back upgrade's record: %+v", up)
		}
		// ...and the record that describes it: the next upgrade keeps the edit again.
		if job := runJob(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "cf", "v2") }); job.State != "succeeded" {
			t.Fatalf("upgrade to v2 again: %+v", job)
		}
		if up := lastUpgrade(t, c, "cf"); !slices.Equal(up.Kept, []string{"conf/data.txt"}) {
			t.Errorf("the second upgrade kept %q", up.Kept)
		}

		// The admin takes the new version's copy over: the next upgrade replaces the file and removes that
		// copy; a .new the admin edited stays.
		if err := os.Rename(conf("data.txt.new"), conf("data.txt")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, conf("data.txt.new"), "data.txt v2\n")
		writeFile(t, conf("plain.txt.new"), "the admin's own notes\n")
		if job := runJob(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "cf", "v3") }); job.State != "succeeded" {
			t.Fatalf("upgrade to v3: %+v", job)
		}
		if got := readFile(t, conf("data.txt")); got != "data.txt v3\n" {
			t.Errorf("the taken-over file after the upgrade = %q", got)
		}
		if _, err := os.Stat(conf("data.txt.new")); !os.IsNotExist(err) {
			t.Errorf("StackHub's old data.txt.new is still there: %v", err)
		}
		if got := readFile(t, conf("plain.txt.new")); got != "the admin's own notes\n" {
			t.Errorf("the admin's plain.txt.new = %q", got)
		}
		if up := lastUpgrade(t, c, "cf"); len(up.Kept) != 0 || len(up.Replaced) != 0 {
			t.Errorf("the upgrade to v3 kept %q, replaced %q", up.Kept, up.Replaced)
		}

		// An instance from before the record: its version's template stands in for it.
		if err := s.Store.Q().SetInstanceRendered(ctx, "cf", ""); err != nil {
			t.Fatal(err)
		}
		writeFile(t, conf("plain.txt"), "edited before StackHub kept records\n")
		if job := runJob(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "cf", "v2") }); job.State != "succeeded" {
			t.Fatalf("upgrade without a record: %+v", job)
		}
		if up := lastUpgrade(t, c, "cf"); !slices.Equal(up.Kept, []string{"conf/plain.txt"}) {
			t.Errorf("without a record the upgrade kept %q, want conf/plain.txt", up.Kept)
		}
		if got := readFile(t, conf("data.txt")); got != "data.txt v2\n" {
			t.Errorf("without a record the unedited data.txt = %q", got)
		}
	})
}

// TestUpgradeKeepsEditedConfigOnDocker: an app reads a config file from its project directory; the admin edits
// it; an upgrade through the CLI to a version whose template changes that file keeps the edit, in effect in the
// new containers, with the new rendering beside it, updates the unedited file and says so in the CLI, the job log
// and the v1 upgrade history; the rollback restores the directory exactly.
func TestUpgradeKeepsEditedConfigOnDocker(t *testing.T) {
	t.Parallel()
	for _, tag := range []string{"v1", "v2"} {
		dockertest.Image(t, "stackhub-test/web:"+tag)
	}
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		c, res := installConf(t, s, []string{"v1", "v2"}, "data.txt", "plain.txt")
		ctx := t.Context()
		base := "http://127.0.0.1:" + res.Instance.Port
		if got := httpGet(t, base+"/data"); got != "data.txt v1" {
			t.Fatalf("the app reads %q from its config, want the rendered data.txt v1", got)
		}
		dir := filepath.Join(s.DataDir, "apps", "cf")
		conf := func(f string) string { return filepath.Join(dir, "conf", f) }
		writeFile(t, conf("data.txt"), "edited by the admin\n")
		before := dirState(t, dir)

		var out bytes.Buffer
		root := cli.Root()
		root.SetArgs([]string{"app", "upgrade", "cf", "--version", "v2", "--url", s.URL, "--token", tu.AdminToken})
		root.SetOut(&out)
		root.SetErr(&out)
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("stackhub app upgrade: %v\n%s", err, out.String())
		}
		for _, want := range []string{"kept conf/data.txt as edited here; the new version's copy is conf/data.txt.new",
			"kept as edited here (the new version's copies are beside them as <file>.new): conf/data.txt",
			"upgrade to v2 of cf succeeded"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("the CLI does not say %q:\n%s", want, out.String())
			}
		}
		if got := httpGet(t, base+"/"); got != "web v2" {
			t.Errorf("after the upgrade the app answers %q", got)
		}
		if got := httpGet(t, base+"/data"); got != "edited by the admin" {
			t.Errorf("after the upgrade the app reads %q from its config, want the admin's edit", got)
		}
		if got := readFile(t, conf("data.txt.new")); got != "data.txt v2\n" {
			t.Errorf("data.txt.new = %q", got)
		}
		if got := readFile(t, conf("plain.txt")); got != "plain.txt v2\n" {
			t.Errorf("the unedited plain.txt = %q, want v2's", got)
		}
		var hist []map[string]any
		s.Want(200, tu.Admin, "GET", "/api/v1/installs/cf/upgrades", nil).JSON(t, &hist)
		if len(hist) != 1 || fmt.Sprint(hist[0]["kept"]) != "[conf/data.txt]" || fmt.Sprint(hist[0]["replaced"]) != "[]" {
			t.Errorf("upgrade history = %v", hist)
		}

		if job := runJob(t, c, func() (*client.Job, error) { return c.Rollback(ctx, "cf") }); job.State != "succeeded" {
			t.Fatalf("rollback: %+v", job)
		}
		if got := httpGet(t, base+"/"); got != "web v1" {
			t.Errorf("after the rollback the app answers %q", got)
		}
		if got := httpGet(t, base+"/data"); got != "edited by the admin" {
			t.Errorf("after the rollback the app reads %q", got)
		}
		if diff := cmp.Diff(before, dirState(t, dir)); diff != "" {
			t.Errorf("after the rollback the project directory differs from before the upgrade (-before +after):\n%s", diff)
		}
	})
}
