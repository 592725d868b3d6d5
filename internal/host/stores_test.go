package host_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/engine"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
	"github.com/stackhub/stackhub/internal/testutil/testports"
)

// imageLine finds the image references of a rendered compose file.
var imageLine = regexp.MustCompile(`(?m)^\s+image:\s*(\S+)\s*$`)

// lendImages tags the testapp image under every image the template's version names (nothing can be pulled
// here), and gives the names back when the test ends.
func lendImages(t *testing.T, tpl catalog.Template) {
	t.Helper()
	st, err := tpl.StackFor(tpl.Versions[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range imageLine.FindAllStringSubmatch(st.Compose, -1) {
		ref := strings.ReplaceAll(m[1], "${W9_VERSION}", tpl.Versions[0])
		dockertest.Lend(t, ref) // the sqlite and postgres runs, at the same time, may borrow one name
	}
}

// listenOnWebPort tells the testapp, standing in for the app's main service, to listen where the app would
// (W9_HTTP_PORT, the container side of the web port the install waits for): PORT in that service's environment.
func listenOnWebPort(t *testing.T, tpl *catalog.Template) {
	t.Helper()
	if !strings.Contains(tpl.Stack.Env, "W9_HTTP_PORT=") {
		return
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(tpl.Stack.Compose), &doc); err != nil {
		t.Fatal(err)
	}
	for _, v := range doc["services"].(map[string]any) {
		svc := v.(map[string]any)
		if svc["container_name"] != "${W9_ID}" {
			continue
		}
		env, _ := svc["environment"].(map[string]any)
		if env == nil {
			env = map[string]any{}
		}
		env["PORT"] = "${W9_HTTP_PORT}"
		svc["environment"] = env
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tpl.Stack.Compose = string(out)
}

// TestImportedStoreAppsInstall imports three apps of each store's real sample through the real importer and the
// real server, installs each twice on the Docker Engine (the testapp image lent under the apps' own image
// names), and checks they run, pass `catalog check`, and got their own generated secrets.
func TestImportedStoreAppsInstall(t *testing.T) {
	t.Parallel()
	stores := []struct {
		dir, format string
		apps        []string
	}{
		// 2fauth: Laravel's hard-coded APP_KEY; postgresql: a hard-coded password; sonarr: shared folders.
		{"casaos-appstore", "casaos", []string{"app-2fauth", "postgresql", "sonarr"}},
		// 2fauth: x-runtipi YAML; bookstack: two services sharing a secret, a base64 one; openclaw: three secrets.
		{"runtipi-appstore", "runtipi", []string{"app-2fauth", "bookstack", "openclaw"}},
	}
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		c := client.New(s.URL, tu.AdminToken)
		ctx := t.Context()
		for _, store := range stores {
			t.Run(store.format, func(t *testing.T) {
				_, ts, _, err := catalog.ReadStore(filepath.Join("..", "..", "testdata", store.dir), store.format, catalog.ReadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				byKey := map[string]catalog.Template{}
				for _, tpl := range ts {
					byKey[tpl.Key] = tpl
				}
				for _, key := range store.apps {
					tpl, ok := byKey[key]
					if !ok {
						t.Fatalf("%s has no app %s", store.dir, key)
					}
					if len(tpl.Stack.Secrets) == 0 && key != "sonarr" {
						t.Fatalf("%s: no generated secret to check", key)
					}
					lendImages(t, tpl)
					listenOnWebPort(t, &tpl)
					if _, err := c.ImportTemplate(ctx, tpl); err != nil {
						t.Fatalf("import %s: %v", key, err)
					}
				}
				checks, err := c.CheckCatalog(ctx, store.apps) // app=a&app=b&app=c: every one is checked
				if err != nil {
					t.Fatal(err)
				}
				checked := map[string]bool{}
				for _, r := range checks {
					checked[r.App] = true
					if !r.OK {
						t.Errorf("catalog check %s %s: %s", r.App, r.Version, r.Error)
					}
				}
				for _, key := range store.apps {
					if !checked[key] {
						t.Errorf("catalog check answered nothing for %s: %+v", key, checks)
					}
				}
				for _, key := range store.apps {
					installTwice(t, c, s.Prefix, byKey[key], store.format)
				}
			})
		}
	})
}

// installTwice installs tpl as two instances with ports from a block of their own, checks both run and hold
// every secret of the stack, different in each, side by side, then uninstalls both.
func installTwice(t *testing.T, c *client.Client, prefix string, tpl catalog.Template, format string) {
	t.Helper()
	ctx := t.Context()
	settings, err := tpl.Stack.Settings()
	if err != nil {
		t.Fatal(err)
	}
	port := testports.Block(t)
	creds := make([]map[string]string, 2)
	for i := range creds {
		name := fmt.Sprintf("%.3s-%.20s-%d", format, tpl.Key, i)
		set := map[string]string{}
		for _, st := range settings {
			if st.Port {
				set[st.Name] = fmt.Sprint(port)
				port++
			}
		}
		res, err := c.Install(ctx, client.InstallRequest{App: tpl.Key, Name: name, Store: format, Version: tpl.Versions[0], Settings: set})
		if err != nil {
			t.Fatalf("install %s: %v", tpl.Key, err)
		}
		if job := runJob(t, c, func() (*client.Job, error) { return res.Job, nil }); job.State != "succeeded" {
			_, events, _ := c.Job(ctx, job.ID)
			t.Fatalf("install %s: %+v %+v", tpl.Key, job, events)
		}
		t.Cleanup(func() {
			if err := c.Uninstall(context.Background(), name, true); err != nil && !strings.Contains(err.Error(), "is not installed") {
				t.Errorf("uninstall %s: %v", name, err)
			}
		})
		inst, err := c.Instance(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if inst.Status != "1" || inst.Container != prefix+"-"+name {
			t.Errorf("%s: status %s %q container %s, want running as %s-%s", tpl.Key, inst.Status, inst.Info, inst.Container, prefix, name)
		}
		if creds[i], err = c.Credentials(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	for i := range creds { // both ran side by side; now both go
		name := fmt.Sprintf("%.3s-%.20s-%d", format, tpl.Key, i)
		if err := c.Uninstall(ctx, name, true); err != nil {
			t.Errorf("uninstall %s: %v", name, err)
		}
	}
	for _, sec := range tpl.Stack.Secrets {
		a, b := creds[0][sec.Name], creds[1][sec.Name]
		if len(a) < 8 || a == b {
			t.Errorf("%s: secret %s is %q and %q; want a generated value per install", tpl.Key, sec.Name, a, b)
		}
	}
}

// TestStackSecrets installs a stack with a generated secret on the Docker Engine: the value is in the rendered
// .env and the credentials, two installs differ, and an upgrade to a version that adds a second secret keeps the
// first and generates the second.
func TestStackSecrets(t *testing.T) {
	t.Parallel()
	dockertest.Image(t, "stackhub-test/web:v1")
	dockertest.Image(t, "stackhub-test/web:v2")
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		lib := tu.NewLibrary(t)
		c := client.New(s.URL, tu.AdminToken)
		ctx := t.Context()
		env := fmt.Sprintf("W9_ID=secrets\nW9_VERSION=v1\nW9_DIST=community\nW9_NETWORK=%s\nW9_HTTP_PORT_SET=%d\nREADY_AFTER=0\nDB_PASSWORD=\n",
			lib.Network, lib.BasePort)
		tpl := catalog.Template{Key: "secrets", Name: "Secrets", Release: true, Versions: []string{"v1"},
			Stack: catalog.Stack{Compose: tu.WebCompose, Env: env, Secrets: []catalog.Secret{{Name: "DB_PASSWORD", Length: 24}}}}
		if _, err := c.ImportTemplate(ctx, tpl); err != nil {
			t.Fatal(err)
		}
		tpl.Versions = []string{"v2"}
		tpl.Stack.Env += "API_TOKEN=\n"
		tpl.Stack.Secrets = append(tpl.Stack.Secrets, catalog.Secret{Name: "API_TOKEN", Length: 16, Encoding: "hex"})
		if _, err := c.ImportTemplate(ctx, tpl); err != nil {
			t.Fatal(err)
		}

		rendered := func(name string) map[string]string {
			t.Helper()
			env, err := engine.ReadEnvFile(filepath.Join(s.DataDir, "apps", name, ".env"))
			if err != nil {
				t.Fatal(err)
			}
			return env
		}
		alnum := regexp.MustCompile(`^[A-Za-z0-9]{24}$`)
		var first []string
		for _, name := range []string{"sec-a", "sec-b"} {
			res, err := c.Install(ctx, client.InstallRequest{App: "secrets", Name: name, Version: "v1"})
			if err != nil {
				t.Fatal(err)
			}
			if job := runJob(t, c, func() (*client.Job, error) { return res.Job, nil }); job.State != "succeeded" {
				t.Fatalf("install %s: %+v", name, job)
			}
			t.Cleanup(func() { _ = c.Uninstall(context.Background(), name, true) })
			creds, err := c.Credentials(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			pw := rendered(name)["DB_PASSWORD"]
			if !alnum.MatchString(pw) || creds["DB_PASSWORD"] != pw {
				t.Errorf("%s: rendered DB_PASSWORD %q, credentials %q; want the same 24 letters and digits", name, pw, creds["DB_PASSWORD"])
			}
			first = append(first, pw)
		}
		if first[0] == first[1] {
			t.Errorf("two installs share DB_PASSWORD %q", first[0])
		}

		if job := runJob(t, c, func() (*client.Job, error) { return c.Upgrade(ctx, "sec-a", "v2") }); job.State != "succeeded" {
			t.Fatalf("upgrade: %+v", job)
		}
		env2 := rendered("sec-a")
		creds, err := c.Credentials(ctx, "sec-a")
		if err != nil {
			t.Fatal(err)
		}
		if env2["DB_PASSWORD"] != first[0] || creds["DB_PASSWORD"] != first[0] {
			t.Errorf("after the upgrade DB_PASSWORD is %q (credentials %q), want the install's %q", env2["DB_PASSWORD"],
				creds["DB_PASSWORD"], first[0])
		}
		if tok := env2["API_TOKEN"]; !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(tok) || creds["API_TOKEN"] != tok {
			t.Errorf("the secret v2 adds: rendered %q, credentials %q; want 16 random bytes in hex", tok, creds["API_TOKEN"])
		}
		for _, name := range []string{"sec-a", "sec-b"} {
			if err := c.Uninstall(ctx, name, true); err != nil {
				t.Errorf("uninstall %s: %v", name, err)
			}
		}
	})
}
