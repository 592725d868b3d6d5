package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackhub/stackhub/internal/engine"
)

// project builds a Project in memory: deps maps each service to the services it depends on (service_started).
func project(deps map[string][]string) *engine.Project {
	p := &engine.Project{Name: "demo", Services: types.Services{}}
	for name, ds := range deps {
		s := types.ServiceConfig{Name: name}
		s.Image = "img"
		if len(ds) > 0 {
			s.DependsOn = types.DependsOnConfig{}
			for _, d := range ds {
				s.DependsOn[d] = types.ServiceDependency{Condition: types.ServiceConditionStarted}
			}
		}
		p.Services[name] = s
	}
	return p
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name    string
		deps    map[string][]string
		want    []string
		wantErr string
	}{
		{name: "single", deps: map[string][]string{"web": nil}, want: []string{"web"}},
		{name: "ties by name", deps: map[string][]string{"c": nil, "a": nil, "b": nil}, want: []string{"a", "b", "c"}},
		{name: "deps first", deps: map[string][]string{"app": {"db", "cache"}, "db": nil, "cache": nil},
			want: []string{"cache", "db", "app"}},
		{name: "chain", deps: map[string][]string{"a": {"b"}, "b": {"c"}, "c": nil}, want: []string{"c", "b", "a"}},
		{name: "diamond", deps: map[string][]string{"web": {"api", "worker"}, "api": {"db"}, "worker": {"db"}, "db": nil, "x": nil},
			want: []string{"db", "api", "worker", "web", "x"}},
		{name: "cycle", deps: map[string][]string{"a": {"b"}, "b": {"a"}}, wantErr: "cycle"},
		{name: "self cycle", deps: map[string][]string{"a": {"a"}}, wantErr: "cycle"},
		{name: "long cycle", deps: map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": nil}, wantErr: "cycle"},
		{name: "unknown dep", deps: map[string][]string{"web": {"ghost"}}, wantErr: "ghost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 { // map order must not matter
				got, err := engine.Order(project(tt.deps))
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("Order error = %v, want one containing %q (order %v)", err, tt.wantErr, got)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("Order = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestContainerName(t *testing.T) {
	p := project(map[string][]string{"web": nil, "db": nil})
	s := p.Services["db"]
	s.ContainerName = "myapp-db"
	p.Services["db"] = s
	if got := engine.ContainerName(p, "web"); got != "demo-web-1" {
		t.Errorf("ContainerName(web) = %q, want demo-web-1", got)
	}
	if got := engine.ContainerName(p, "db"); got != "myapp-db" {
		t.Errorf("ContainerName(db) = %q, want myapp-db", got)
	}
}

func TestContainerLabels(t *testing.T) {
	p := project(map[string][]string{"web": {"db"}, "db": nil})
	p.WorkingDir = "/srv/apps/demo"
	s := p.Services["web"]
	s.Labels = types.Labels{"own": "1", engine.LabelProject: "spoofed", "shared": "service"}
	s.DependsOn["cache"] = types.ServiceDependency{Condition: types.ServiceConditionHealthy}
	p.Services["web"] = s

	l := engine.ContainerLabels(p, "web", 1, map[string]string{"io.stackhub.instance": "42", "shared": "extra"})
	want := map[string]string{
		engine.LabelProject:    "demo",
		engine.LabelService:    "web",
		engine.LabelNumber:     "1",
		engine.LabelOneoff:     "False",
		engine.LabelWorkingDir: "/srv/apps/demo",
		engine.LabelConfigFile: filepath.Join("/srv/apps/demo", engine.ComposeFile),
		engine.LabelDependsOn:  "cache:service_healthy:false,db:service_started:false",
		"own":                  "1",
		"shared":               "extra", // extra wins over the service's own
		"io.stackhub.instance": "42",
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("label %s = %q, want %q", k, l[k], v)
		}
	}
	if l[engine.LabelVersion] == "" {
		t.Errorf("no %s label", engine.LabelVersion)
	}
	// Extra labels win over Compose's too.
	l = engine.ContainerLabels(p, "db", 1, map[string]string{engine.LabelNumber: "7"})
	if l[engine.LabelNumber] != "7" {
		t.Errorf("extra %s = %q, want 7", engine.LabelNumber, l[engine.LabelNumber])
	}
	if _, ok := l[engine.LabelDependsOn]; ok {
		t.Errorf("db has no dependencies but carries %s=%q", engine.LabelDependsOn, l[engine.LabelDependsOn])
	}
}

func writeProject(t *testing.T, compose, env string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, engine.ComposeFile), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	if env != "" {
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	dir := writeProject(t, `
services:
  web:
    image: $W9_REPO:${W9_VERSION}
    container_name: $W9_ID
    env_file: .env
    ports: ["${W9_HTTP_PORT_SET}:80"]
    depends_on: [db]
    volumes: [./src/conf.txt:/conf.txt:ro]
  db:
    image: db:1
    environment:
      PASS: $W9_POWER_PASSWORD
      MISSING:
networks:
  default:
    name: ${W9_NETWORK}
    external: true
`, "W9_ID=myapp\nW9_REPO=example/web\nW9_VERSION='1.2'\nW9_HTTP_PORT_SET=9001\nW9_POWER_PASSWORD='s3cr$t'\nW9_NETWORK=websoft9\nW9_LOGIN_PASSWORD=$W9_POWER_PASSWORD # comment\n")
	p, err := engine.Load(context.Background(), "myapp", dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "myapp" {
		t.Errorf("project name %q", p.Name)
	}
	web := p.Services["web"]
	if web.Image != "example/web:1.2" || web.ContainerName != "myapp" {
		t.Errorf("web image %q container %q", web.Image, web.ContainerName)
	}
	if len(web.Ports) != 1 || web.Ports[0].Published != "9001" || web.Ports[0].Target != 80 {
		t.Errorf("web ports %+v", web.Ports)
	}
	if v := web.Environment["W9_LOGIN_PASSWORD"]; v == nil || *v != `s3cr$t` {
		t.Errorf("env_file chain: W9_LOGIN_PASSWORD = %v", v)
	}
	if src := web.Volumes[0].Source; src != filepath.Join(dir, "src", "conf.txt") {
		t.Errorf("relative bind source %q, want it resolved under %s", src, dir)
	}
	if n := p.Networks["default"]; n.Name != "websoft9" || !bool(n.External) {
		t.Errorf("default network %+v", n)
	}
	if v := p.Services["db"].Environment["PASS"]; v == nil || *v != `s3cr$t` {
		t.Errorf("db PASS = %v", v)
	}
	if v, ok := p.Services["db"].Environment["MISSING"]; ok && v != nil {
		t.Errorf("db MISSING = %q, want unset", *v)
	}

	// No .env: an empty environment, not an error.
	dir = writeProject(t, "services:\n  a:\n    image: a:1\n", "")
	if _, err := engine.Load(context.Background(), "plain", dir); err != nil {
		t.Fatalf("Load without .env: %v", err)
	}
	// A broken file names the file.
	dir = writeProject(t, "services: [\n", "")
	if _, err := engine.Load(context.Background(), "bad", dir); err == nil || !strings.Contains(err.Error(), engine.ComposeFile) {
		t.Fatalf("Load of a broken file: %v", err)
	}
}

func TestReadEnvFile(t *testing.T) {
	dir := t.TempDir()
	env, err := engine.ReadEnvFile(filepath.Join(dir, "missing.env"))
	if err != nil || len(env) != 0 {
		t.Fatalf("missing file: %v %v", env, err)
	}
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("A=1\nB='x $A'\nC=\"$A-2\"\ncluster.name=es\nD=a b # c\nE=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env, err = engine.ReadEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "x $A", "C": "1-2", "cluster.name": "es", "D": "a b", "E": ""}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}

// Replicas are read as Compose reads them: deploy.replicas or the legacy scale, 1 when neither is set, and each
// replica gets Compose's name and container number, all of them the replica count.
func TestReplicas(t *testing.T) {
	dir := writeProject(t, `
services:
  web:
    image: img
    deploy:
      replicas: ${WEB_REPLICAS}
  worker:
    image: img
    scale: 3
  off:
    image: img
    deploy:
      replicas: 0
  one:
    image: img
`, "WEB_REPLICAS=2\n")
	p, err := engine.Load(context.Background(), "demo", dir)
	if err != nil {
		t.Fatal(err)
	}
	for svc, want := range map[string]int{"web": 2, "worker": 3, "off": 0, "one": 1} {
		if got := engine.Replicas(p, svc); got != want {
			t.Errorf("Replicas(%s) = %d, want %d", svc, got, want)
		}
	}
	if got := engine.ReplicaName(p, "web", 2); got != "demo-web-2" {
		t.Errorf("ReplicaName(web, 2) = %q, want demo-web-2", got)
	}
	l := engine.ContainerLabels(p, "web", 2, nil)
	if l[engine.LabelNumber] != "2" || l[engine.LabelReplicas] != "2" {
		t.Errorf("web replica 2: %s=%q %s=%q, want 2 and 2", engine.LabelNumber, l[engine.LabelNumber],
			engine.LabelReplicas, l[engine.LabelReplicas])
	}
	if l := engine.ContainerLabels(p, "one", 1, nil); l[engine.LabelReplicas] != "" {
		t.Errorf("a single container carries %s=%q; only replicated services do", engine.LabelReplicas, l[engine.LabelReplicas])
	}
	// The count is part of the configuration: scaling recreates, so every container carries the same count.
	before := engine.ConfigHash(p, "web")
	s := p.Services["web"]
	s.SetScale(3)
	p.Services["web"] = s
	if engine.ConfigHash(p, "web") == before {
		t.Error("ConfigHash ignores the replica count")
	}
}
