package catalog_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	mobyclient "github.com/moby/moby/client"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/engine"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"

	"go.yaml.in/yaml/v4"
)

var imageLine = regexp.MustCompile(`(?m)^\s+image: (\S+)$`)

// Three apps of each store, read by the real importer, imported into a real server and installed on the real
// Docker Engine with the test app standing in for their images (tagged under the names they use): each runs,
// its generated secrets are in the credentials, and it uninstalls.
func TestStoreAppsInstallOnEngine(t *testing.T) {
	cli := dockertest.Require(t)
	stores := []struct {
		dir  string
		apps []string
	}{
		{filepath.Join("testdata", "umbrel"), []string{"webnote", "sharebox", "torlink"}},
		{filepath.Join("testdata", "umbrel-hooks"), []string{"hookconf"}},
		{filepath.Join("..", "..", "testdata", "cosmos-servapps"), []string{"mealie", "vaultwarden", "openspeedtest"}},
		{filepath.Join("..", "..", "testdata", "portainer-templates"), []string{"mysql", "baserow", "mealie"}},
	}
	type pick struct {
		store string
		tpl   catalog.Template
	}
	var picks []pick
	var images []string
	for _, st := range stores {
		im, ts, _, err := catalog.ReadStore(st.dir, "", catalog.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range st.apps {
			i := slices.IndexFunc(ts, func(tm catalog.Template) bool { return tm.Key == key })
			if i < 0 {
				t.Fatalf("%s: %s was not imported", im.Format(), key)
			}
			picks = append(picks, pick{im.Format(), standIn(t, ts[i])})
			for _, m := range imageLine.FindAllStringSubmatch(ts[i].Stack.Compose, -1) {
				if !slices.Contains(images, m[1]) {
					images = append(images, m[1])
				}
			}
		}
	}
	// Lend the images' names to the test app; names that already held an image are left alone and not removed.
	for _, name := range images {
		if _, err := cli.ImageInspect(t.Context(), name); err == nil {
			continue
		} else if !errdefs.IsNotFound(err) {
			t.Fatal(err)
		}
		dockertest.Image(t, name)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := dockertest.Untag(ctx, name); err != nil {
				t.Errorf("untag %s: %v", name, err)
			}
		})
	}

	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		c := client.New(s.URL, tu.AdminToken)
		keys := map[string]string{} // store/template key → the catalog's key: another store's app may hold the key
		for _, p := range picks {
			res, err := c.ImportTemplate(t.Context(), p.tpl)
			if err != nil {
				t.Fatalf("import %s %s: %v", p.store, p.tpl.Key, err)
			}
			keys[p.store+"/"+p.tpl.Key] = res.Key
		}
		sem := make(chan struct{}, 3) // installs at once: the engine test machine is small
		for _, p := range picks {
			t.Run(p.store+"/"+p.tpl.Key, func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				name := p.store[:3] + "-" + p.tpl.Key
				var env struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				}
				s.Want(200, tu.Admin, "POST", "/installApp", map[string]any{"appName": keys[p.store+"/"+p.tpl.Key],
					"appId": name, "store": p.store, "version": p.tpl.Versions[0]}).JSON(t, &env)
				if env.Code != "1" {
					t.Fatalf("installApp: %+v", env)
				}
				waitRunning(t, s, name)
				if p.store == "umbrel" {
					// Umbrel's DEVICE_DOMAIN_NAME is the server's public address (the test server's 127.0.0.1).
					env, err := engine.ReadEnvFile(filepath.Join(s.DataDir, "apps", name, ".env"))
					if err != nil || env["DEVICE_DOMAIN_NAME"] != "127.0.0.1" {
						t.Errorf("rendered DEVICE_DOMAIN_NAME = %q (%v), want the server's address", env["DEVICE_DOMAIN_NAME"], err)
					}
				}
				var creds map[string]string
				s.Want(200, tu.Admin, "GET", "/api/v1/installs/"+name+"/credentials", nil).JSON(t, &creds)
				if p.tpl.Key == "hookconf" {
					// What the hook would have done: its files are in the install, and Compose filled the env_file's
					// values (the server's address, the generated key) into the container's environment.
					dir := filepath.Join(s.DataDir, "apps", name)
					if b, err := os.ReadFile(filepath.Join(dir, "data", "conf", "app.conf")); err != nil || !strings.Contains(string(b), "cache_dir = /data/cache") {
						t.Errorf("the hook's config in the install: %q, %v", b, err)
					}
					ctr, err := cli.ContainerInspect(t.Context(), s.Prefix+"-"+name, mobyclient.ContainerInspectOptions{})
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Contains(ctr.Container.Config.Env, "PUBLIC_URL=http://127.0.0.1:3500") ||
						len(creds["SESSION_KEY"]) != 32 || !slices.Contains(ctr.Container.Config.Env, "SESSION_KEY="+creds["SESSION_KEY"]) {
						t.Errorf("the container's environment %v, credentials %v: want the env_file's values filled in", ctr.Container.Config.Env, creds)
					}
				}
				for _, sec := range p.tpl.Stack.Secrets {
					if len(creds[sec.Name]) < 8 {
						t.Errorf("secret %s = %q in the credentials, want a generated value", sec.Name, creds[sec.Name])
					}
				}
				s.Want(200, tu.Admin, "POST", "/uninstallApp", map[string]any{"appName": name}).JSON(t, &env)
				if env.Code != "1" {
					t.Fatalf("uninstallApp: %+v", env)
				}
			})
		}
	})
}

// waitRunning polls getAppInfo until the install runs (status "1"); a failure (status "2") or a minute fails.
func waitRunning(t *testing.T, s *tu.Server, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var env struct {
			Code string          `json:"code"`
			Data json.RawMessage `json:"data"`
		}
		s.Want(200, tu.Admin, "POST", "/getAppInfo", map[string]any{"appName": name}).JSON(t, &env)
		var info map[string]string
		_ = json.Unmarshal(env.Data, &info)
		if info["status"] == "1" {
			return
		}
		if info["status"] == "2" || time.Now().After(deadline) {
			t.Fatalf("%s: %s", name, env.Data)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// standIn changes only what the test app cannot do like the upstream image, as the built-in templates' stand-in
// test does: each service serves on the container side of its first published port (PORT; 8080 when none), so
// the install's web port answers.
func standIn(t *testing.T, tpl catalog.Template) catalog.Template {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(tpl.Stack.Compose), &doc); err != nil {
		t.Fatal(err)
	}
	svcs, _ := doc["services"].(map[string]any)
	for _, v := range svcs {
		svc := v.(map[string]any)
		ports, _ := svc["ports"].([]any)
		if len(ports) == 0 {
			continue
		}
		p, _ := ports[0].(string)
		target := p[strings.LastIndex(p, ":")+1:]
		target, _, _ = strings.Cut(target, "/")
		switch env := svc["environment"].(type) {
		case []any:
			svc["environment"] = append(env, "PORT="+target)
		case map[string]any:
			env["PORT"] = target
		default:
			svc["environment"] = map[string]any{"PORT": target}
		}
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tpl.Stack.Compose = string(b)
	return tpl
}
