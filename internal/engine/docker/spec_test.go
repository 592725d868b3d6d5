package docker

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/stackhub/stackhub/internal/engine"
)

// load writes compose and env into a fresh directory and loads it as project name.
func load(t *testing.T, name, compose, env string) *engine.Project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, engine.ComposeFile), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := engine.Load(context.Background(), name, dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const specCompose = `
services:
  app:
    image: example/app:1
    command: ["serve", "--verbose"]
    hostname: app-host
    working_dir: /work
    user: "1000"
    environment:
      PLAIN: "1"
      FROM_ENV:
      UNSET:
    ports:
      - "${W9_HTTP_PORT_SET}:8080"
      - "127.0.0.1:5353:53/udp"
    expose: ["9000"]
    volumes:
      - data:/data
      - ./conf:/etc/conf:ro
      - /etc/hostname:/host-hostname:ro
    tmpfs: /tmp
    restart: on-failure:3
    healthcheck:
      test: ["CMD", "/bin/check", "http://127.0.0.1:8080/health"]
      interval: 5s
      timeout: 2s
      retries: 4
      start_period: 10s
    ulimits:
      nproc: 65535
      nofile: {soft: 1024, hard: 2048}
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 512M}
    stop_grace_period: 5s
    security_opt: ["no-new-privileges:true"]
    shm_size: 256m
    logging:
      driver: json-file
      options: {max-size: 10m, max-file: "5"}
    networks:
      default:
      extra:
        aliases: [alt]
  big:
    image: example/big:1
    mem_limit: 4g
    restart: unless-stopped
    healthcheck:
      disable: false
  shell:
    image: example/shell:1
    command: sh -c 'echo hi && sleep 1'
    healthcheck:
      test: curl -f http://localhost/ || exit 1
  nohealth:
    image: example/nohealth:1
    restart: always
    container_name: fixed-name
    healthcheck:
      disable: true
networks:
  default:
    name: ${W9_NETWORK}
    external: true
  extra: {}
volumes:
  data: {}
`

func TestContainerSpec(t *testing.T) {
	p := load(t, "specproj", specCompose, "W9_HTTP_PORT_SET=19001\nW9_NETWORK=shared-net\nFROM_ENV=from-dotenv\n")
	opts, extra, err := containerSpec(p, "app", 1, map[string]string{"io.stackhub.instance": "7"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, hc := opts.Config, opts.HostConfig

	if opts.Name != "specproj-app-1" {
		t.Errorf("name %q", opts.Name)
	}
	if cfg.Image != "example/app:1" || !slices.Equal(cfg.Cmd, []string{"serve", "--verbose"}) {
		t.Errorf("image %q cmd %q", cfg.Image, cfg.Cmd)
	}
	if cfg.Hostname != "app-host" || cfg.WorkingDir != "/work" || cfg.User != "1000" {
		t.Errorf("hostname %q working_dir %q user %q", cfg.Hostname, cfg.WorkingDir, cfg.User)
	}
	if cfg.Labels[engine.LabelProject] != "specproj" || cfg.Labels[engine.LabelService] != "app" ||
		cfg.Labels["io.stackhub.instance"] != "7" {
		t.Errorf("labels %v", cfg.Labels)
	}

	// Environment: set values, .env lookups; keys without a value are dropped, not passed as empty.
	if want := []string{"FROM_ENV=from-dotenv", "PLAIN=1"}; !slices.Equal(cfg.Env, want) {
		t.Errorf("env %q, want %q", cfg.Env, want)
	}

	// Ports, including /udp and host_ip; exposed ports are published or listed under expose.
	tcp, udp := network.MustParsePort("8080/tcp"), network.MustParsePort("53/udp")
	for _, p := range []network.Port{tcp, udp, network.MustParsePort("9000/tcp")} {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed: %v", p, cfg.ExposedPorts)
		}
	}
	if b := hc.PortBindings[tcp]; len(b) != 1 || b[0].HostPort != "19001" || b[0].HostIP.IsValid() && !b[0].HostIP.IsUnspecified() {
		t.Errorf("8080/tcp bindings %+v", b)
	}
	if b := hc.PortBindings[udp]; len(b) != 1 || b[0].HostPort != "5353" || b[0].HostIP != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("53/udp bindings %+v", b)
	}
	if _, ok := hc.PortBindings[network.MustParsePort("9000/tcp")]; ok {
		t.Error("an expose-only port is published")
	}

	// Mounts: the named volume gets the project's prefix, the relative bind is absolute and created.
	wantMounts := map[string]mount.Mount{
		"/data":          {Type: mount.TypeVolume, Source: "specproj_data", Target: "/data"},
		"/etc/conf":      {Type: mount.TypeBind, Source: filepath.Join(p.WorkingDir, "conf"), Target: "/etc/conf", ReadOnly: true},
		"/host-hostname": {Type: mount.TypeBind, Source: "/etc/hostname", Target: "/host-hostname", ReadOnly: true},
	}
	if len(hc.Mounts) != len(wantMounts) {
		t.Errorf("mounts %+v", hc.Mounts)
	}
	for _, m := range hc.Mounts {
		w, ok := wantMounts[m.Target]
		if !ok || m.Type != w.Type || m.Source != w.Source || m.ReadOnly != w.ReadOnly {
			t.Errorf("mount %+v, want %+v", m, w)
		}
	}
	if fi, err := os.Stat(filepath.Join(p.WorkingDir, "conf")); err != nil || !fi.IsDir() {
		t.Errorf("missing bind source not created as a directory: %v", err)
	}
	if opts, ok := hc.Tmpfs["/tmp"]; !ok || opts != "" {
		t.Errorf("tmpfs %v", hc.Tmpfs)
	}

	if hc.RestartPolicy.Name != container.RestartPolicyOnFailure || hc.RestartPolicy.MaximumRetryCount != 3 {
		t.Errorf("restart %+v", hc.RestartPolicy)
	}
	want := &container.HealthConfig{Test: []string{"CMD", "/bin/check", "http://127.0.0.1:8080/health"},
		Interval: 5 * time.Second, Timeout: 2 * time.Second, StartPeriod: 10 * time.Second, Retries: 4}
	if h := cfg.Healthcheck; h == nil || !slices.Equal(h.Test, want.Test) || h.Interval != want.Interval ||
		h.Timeout != want.Timeout || h.StartPeriod != want.StartPeriod || h.Retries != want.Retries {
		t.Errorf("healthcheck %+v, want %+v", h, want)
	}

	ul := map[string][2]int64{}
	for _, u := range hc.Ulimits {
		ul[u.Name] = [2]int64{u.Soft, u.Hard}
	}
	if ul["nproc"] != [2]int64{65535, 65535} || ul["nofile"] != [2]int64{1024, 2048} || len(ul) != 2 {
		t.Errorf("ulimits %v", ul)
	}
	if hc.NanoCPUs != 5e8 || hc.Memory != 512<<20 {
		t.Errorf("deploy limits: NanoCPUs %d Memory %d", hc.NanoCPUs, hc.Memory)
	}
	if cfg.StopTimeout == nil || *cfg.StopTimeout != 5 {
		t.Errorf("stop timeout %v", cfg.StopTimeout)
	}
	if !slices.Equal(hc.SecurityOpt, []string{"no-new-privileges:true"}) || hc.ShmSize != 256<<20 {
		t.Errorf("security_opt %q shm %d", hc.SecurityOpt, hc.ShmSize)
	}
	if hc.LogConfig.Type != "json-file" || hc.LogConfig.Config["max-size"] != "10m" || hc.LogConfig.Config["max-file"] != "5" {
		t.Errorf("logging %+v", hc.LogConfig)
	}

	// Networks: the first is attached at create time, the others returned to connect after, all with the
	// service name as an alias.
	if hc.NetworkMode != "shared-net" {
		t.Errorf("network mode %q, want shared-net", hc.NetworkMode)
	}
	if es := opts.NetworkingConfig.EndpointsConfig; len(es) != 1 || es["shared-net"] == nil ||
		!slices.Contains(es["shared-net"].Aliases, "app") {
		t.Errorf("create-time endpoints %+v", es)
	}
	// nohealth's fixed container name puts every service on the project's private network (see below).
	if len(extra) != 2 || extra["specproj_extra"] == nil || extra["specproj_stackhub_private"] == nil {
		t.Fatalf("extra networks %+v", extra)
	}
	if a := extra["specproj_extra"].Aliases; !slices.Contains(a, "app") || !slices.Contains(a, "alt") {
		t.Errorf("extra network aliases %q", a)
	}
}

func TestContainerSpecOthers(t *testing.T) {
	p := load(t, "specproj", specCompose, "W9_HTTP_PORT_SET=19001\nW9_NETWORK=shared-net\n")

	opts, extra, err := containerSpec(p, "big", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostConfig.Memory != 4<<30 {
		t.Errorf("mem_limit: Memory %d", opts.HostConfig.Memory)
	}
	if opts.HostConfig.RestartPolicy.Name != container.RestartPolicyUnlessStopped {
		t.Errorf("restart %+v", opts.HostConfig.RestartPolicy)
	}
	// disable: false without a test inherits the image's HEALTHCHECK: an empty Test, not NONE.
	if h := opts.Config.Healthcheck; h != nil && len(h.Test) != 0 {
		t.Errorf("healthcheck without test: %+v, want the image's (empty Test)", h)
	}
	if len(extra) != 1 || extra["specproj_stackhub_private"] == nil || opts.HostConfig.NetworkMode != "shared-net" {
		t.Errorf("default network and the private one only: mode %q, extra %v", opts.HostConfig.NetworkMode, extra)
	}

	opts, _, err = containerSpec(p, "shell", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}; !slices.Equal(opts.Config.Healthcheck.Test, want) {
		t.Errorf("string healthcheck %q, want %q", opts.Config.Healthcheck.Test, want)
	}
	if want := []string{"sh", "-c", "echo hi && sleep 1"}; !slices.Equal(opts.Config.Cmd, want) {
		t.Errorf("string command %q, want %q", opts.Config.Cmd, want)
	}
	if opts.HostConfig.RestartPolicy.Name != container.RestartPolicyDisabled {
		t.Errorf("no restart: %+v", opts.HostConfig.RestartPolicy)
	}

	// A fixed container name becomes StackHub's name, and an alias on the project's private network only.
	opts, extra, err = containerSpec(p, "nohealth", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Name != "specproj-nohealth" {
		t.Errorf("container_name: %q", opts.Name)
	}
	if es := extra["specproj_stackhub_private"]; es == nil || !slices.Contains(es.Aliases, "fixed-name") {
		t.Errorf("private network endpoint %+v, want the alias fixed-name", es)
	}
	if slices.Contains(opts.NetworkingConfig.EndpointsConfig["shared-net"].Aliases, "fixed-name") {
		t.Errorf("the fixed name is an alias on the shared network")
	}
	if h := opts.Config.Healthcheck; h == nil || !slices.Equal(h.Test, []string{"NONE"}) {
		t.Errorf("disabled healthcheck %+v, want NONE", h)
	}
}

func TestRestartPolicy(t *testing.T) {
	tests := []struct {
		in    string
		name  container.RestartPolicyMode
		count int
	}{
		{"", container.RestartPolicyDisabled, 0},
		{"no", container.RestartPolicyDisabled, 0},
		{"always", container.RestartPolicyAlways, 0},
		{"unless-stopped", container.RestartPolicyUnlessStopped, 0},
		{"on-failure", container.RestartPolicyOnFailure, 0},
		{"on-failure:3", container.RestartPolicyOnFailure, 3},
	}
	for _, tt := range tests {
		got := restartPolicy(tt.in)
		if got.Name != tt.name || got.MaximumRetryCount != tt.count {
			t.Errorf("restartPolicy(%q) = %+v, want %s/%d", tt.in, got, tt.name, tt.count)
		}
	}
}

func TestContainerSpecErrors(t *testing.T) {
	p := &engine.Project{Name: "x", Services: types.Services{"a": {Name: "a"}}}
	s := p.Services["a"]
	s.Image = "a:1"
	s.Volumes = []types.ServiceVolumeConfig{{Type: types.VolumeTypeVolume, Source: "undeclared", Target: "/d"}}
	p.Services["a"] = s
	if _, _, err := containerSpec(p, "a", 1, nil); err == nil || !strings.Contains(err.Error(), "undeclared") {
		t.Errorf("undeclared volume: %v", err)
	}
	s.Volumes = nil
	s.Ports = []types.ServicePortConfig{{Target: 80, Published: "8080", HostIP: "not-an-ip"}}
	p.Services["a"] = s
	if _, _, err := containerSpec(p, "a", 1, nil); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Errorf("bad host_ip: %v", err)
	}
}

func TestConditionMet(t *testing.T) {
	running := &container.State{Status: container.StateRunning, Running: true}
	exited := func(code int) *container.State {
		return &container.State{Status: container.StateExited, ExitCode: code}
	}
	health := func(s container.HealthStatus) *container.State {
		return &container.State{Status: container.StateRunning, Running: true, Health: &container.Health{Status: s}}
	}
	tests := []struct {
		cond    string
		st      *container.State
		done    bool
		wantErr string
	}{
		{types.ServiceConditionStarted, running, true, ""},
		{types.ServiceConditionStarted, &container.State{Status: container.StateCreated}, false, ""},
		{types.ServiceConditionStarted, exited(0), true, ""},
		{types.ServiceConditionStarted, exited(2), false, "code 2"},
		{types.ServiceConditionHealthy, health(container.Healthy), true, ""},
		{types.ServiceConditionHealthy, health(container.Starting), false, ""},
		{types.ServiceConditionHealthy, health(container.Unhealthy), false, "unhealthy"},
		{types.ServiceConditionHealthy, running, false, "no healthcheck"},
		{types.ServiceConditionHealthy, exited(3), false, "code 3"},
		{types.ServiceConditionCompletedSuccessfully, running, false, ""},
		{types.ServiceConditionCompletedSuccessfully, exited(0), true, ""},
		{types.ServiceConditionCompletedSuccessfully, exited(1), false, "code 1"},
	}
	for _, tt := range tests {
		done, err := conditionMet("db", tt.cond, tt.st)
		if done != tt.done || (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("conditionMet(%s, %+v) = %v, %v; want %v, %q", tt.cond, tt.st, done, err, tt.done, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "db") {
			t.Errorf("error %q does not name the dependency", err)
		}
	}
}
