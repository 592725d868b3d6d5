package swarm

// Unit tests of the Compose → Swarm conversion (no engine); the real thing runs in swarm_test.go.

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"

	"github.com/stackhub/stackhub/internal/engine"
)

func load(t *testing.T, compose string) *engine.Project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, engine.ComposeFile), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := engine.Load(context.Background(), "demo", dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRefuse(t *testing.T) {
	for key, svc := range map[string]string{
		"build":                "build: .",
		"privileged":           "privileged: true",
		"devices":              "devices: [\"/dev/null:/dev/x\"]",
		"network_mode":         "network_mode: host",
		"ipc":                  "ipc: host",
		"pid":                  "pid: host",
		"security_opt":         "security_opt: [\"seccomp:unconfined\"]",
		"links":                "links: [\"other\"]",
		"cgroup":               "cgroup_parent: /x",
		"userns_mode":          "userns_mode: host",
		"runtime":              "runtime: nvidia",
		"cpuset":               "cpuset: \"0\"",
		"ports":                "ports: [\"127.0.0.1:8080:80\"]",
		"depends_on":           "depends_on: {other: {condition: service_completed_successfully}}\n    restart: always",
		"deploy.endpoint_mode": "deploy: {endpoint_mode: vip}",
	} {
		t.Run(key, func(t *testing.T) {
			p := load(t, "services:\n  other:\n    image: busybox\n    restart: always\n  app:\n    image: busybox\n    "+svc+"\n")
			err := refuse(p)
			if err == nil || !strings.Contains(err.Error(), "service app") || !strings.Contains(err.Error(), key) {
				t.Errorf("refuse = %v; want an error naming service app and %s", err, key)
			}
		})
	}
	if err := refuse(load(t, "services:\n  app:\n    image: busybox\nnetworks:\n  lan: {driver: macvlan}\n")); err == nil ||
		!strings.Contains(err.Error(), "network lan") || !strings.Contains(err.Error(), "macvlan") {
		t.Errorf("refuse of a macvlan network = %v", err)
	}
	ok := load(t, "services:\n  app:\n    image: busybox\n    restart: unless-stopped\n    container_name: fixed\n    shm_size: 64m\n"+
		"    depends_on: {init: {condition: service_completed_successfully}}\n  init:\n    image: busybox\n"+
		"networks:\n  default: {driver: bridge}\n")
	if err := refuse(ok); err != nil {
		t.Errorf("refuse of a project Swarm can run: %v", err)
	}
}

func TestSpec(t *testing.T) {
	p := load(t, `
services:
  app:
    image: busybox:1
    entrypoint: ["/bin/sh", "-c"]
    command: ["echo hi"]
    environment: {A: "1"}
    restart: on-failure:3
    shm_size: 64m
    ports: ["8080:80"]
    volumes: ["data:/data"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 2s
    deploy:
      replicas: 3
      resources:
        limits: {cpus: "0.5", memory: 64M}
        reservations: {cpus: "0.25", memory: 32M}
      placement:
        constraints: ["node.role==worker"]
        max_replicas_per_node: 1
  init:
    image: busybox:1
    container_name: fixed
volumes:
  data: {}
`)
	sp, err := spec(p, "app", map[string]string{engine.LabelInstance: "demo"}, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	cs := sp.TaskTemplate.ContainerSpec
	tt := sp.TaskTemplate
	checks := []struct {
		what string
		ok   bool
	}{
		{"name", sp.Name == "demo_app"},
		{"stack namespace label", sp.Labels[LabelNamespace] == "demo" && cs.Labels[LabelNamespace] == "demo"},
		{"compose labels", sp.Labels[engine.LabelProject] == "demo" && sp.Labels[engine.LabelService] == "app" &&
			sp.Labels[engine.LabelInstance] == "demo" && sp.Labels[engine.LabelConfigHash] != ""},
		{"pin label", sp.Labels[LabelPinned] == "node-1"},
		{"replicas", sp.Mode.Replicated != nil && *sp.Mode.Replicated.Replicas == 3},
		{"entrypoint/command", slices.Equal(cs.Command, []string{"/bin/sh", "-c"}) && slices.Equal(cs.Args, []string{"echo hi"})},
		{"env", slices.Equal(cs.Env, []string{"A=1"})},
		{"restart", tt.RestartPolicy.Condition == swarm.RestartPolicyConditionOnFailure && *tt.RestartPolicy.MaxAttempts == 3},
		{"healthcheck", cs.Healthcheck != nil && cs.Healthcheck.Interval == 2*time.Second},
		{"limits", tt.Resources.Limits.NanoCPUs == 5e8 && tt.Resources.Limits.MemoryBytes == 64<<20},
		{"reservations", tt.Resources.Reservations.NanoCPUs == 25e7 && tt.Resources.Reservations.MemoryBytes == 32<<20},
		{"constraints", slices.Equal(tt.Placement.Constraints, []string{"node.role==worker", "node.id==node-1"})},
		{"max per node", tt.Placement.MaxReplicas == 1},
		{"dnsrr", sp.EndpointSpec.Mode == swarm.ResolutionModeDNSRR},
		{"host-mode port", len(sp.EndpointSpec.Ports) == 1 && sp.EndpointSpec.Ports[0].PublishedPort == 8080 &&
			sp.EndpointSpec.Ports[0].TargetPort == 80 && sp.EndpointSpec.Ports[0].PublishMode == swarm.PortConfigPublishModeHost},
		{"volume with labels", slices.ContainsFunc(cs.Mounts, func(m mount.Mount) bool {
			return m.Type == mount.TypeVolume && m.Source == "demo_data" && m.VolumeOptions != nil &&
				m.VolumeOptions.Labels[engine.LabelProject] == "demo"
		})},
		{"shm_size tmpfs", slices.ContainsFunc(cs.Mounts, func(m mount.Mount) bool {
			return m.Type == mount.TypeTmpfs && m.Target == "/dev/shm" && m.TmpfsOptions.SizeBytes == 64<<20
		})},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: spec %+v, container %+v", c.what, sp, cs)
		}
	}
	isp, err := spec(p, "init", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if nets := isp.TaskTemplate.Networks; len(nets) == 0 || !slices.ContainsFunc(nets, func(a swarm.NetworkAttachmentConfig) bool {
		return slices.Contains(a.Aliases, "fixed") && slices.Contains(a.Aliases, "init")
	}) {
		t.Errorf("container_name: networks %+v; want init and fixed as aliases", nets)
	}
	// A service without restart defaults to Swarm's any; one another waits on to complete runs once.
	if rp := restartPolicy(p, "init"); rp.Condition != swarm.RestartPolicyConditionAny {
		t.Errorf("init restart = %s, want any", rp.Condition)
	}
}

func TestSatisfies(t *testing.T) {
	n := swarm.Node{ID: "x1", Spec: swarm.NodeSpec{Role: swarm.NodeRoleWorker, Annotations: swarm.Annotations{Labels: map[string]string{"disk": "ssd"}}},
		Description: swarm.NodeDescription{Hostname: "h2"}}
	for c, want := range map[string]bool{
		"node.hostname==h2": true, "node.hostname!=h2": false, "node.role==manager": false, "node.id==x1": true,
		"node.labels.disk==ssd": true, "node.labels.disk==hdd": false, "something.else==1": true,
	} {
		if got := satisfies(n, []string{c}); got != want {
			t.Errorf("satisfies(%s) = %v, want %v", c, got, want)
		}
	}
}
