package host

import (
	"testing"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/store"
)

func TestComputeStatus(t *testing.T) {
	ok := engine.ServiceState{Service: "web", State: "running"}
	healthy := engine.ServiceState{Service: "db", State: "running", Health: "healthy"}
	installed := store.Instance{State: store.StateInstalled, Services: "db,web"}
	stopped := installed
	stopped.Stopped = true
	st := func(ss ...engine.ServiceState) *engine.Status { return &engine.Status{Services: ss} }
	for _, tc := range []struct {
		name       string
		inst       store.Instance
		status     *engine.Status
		code, info string
	}{
		{"installing", store.Instance{State: store.StateInstalling}, nil, "0", "installing"},
		{"failed job", store.Instance{State: store.StateFailed, Cause: "pull x: denied"}, nil, "2", "pull x: denied"},
		{"running", installed, st(ok, healthy), "1", "running"},
		{"all removed", installed, st(), "2", "its containers were removed outside StackHub; uninstall it, or install it again"},
		{"one removed", installed, st(ok), "2", "the container of service db was removed outside StackHub"},
		{"exited", installed, st(ok, engine.ServiceState{Service: "db", State: "exited", ExitCode: 1, LastLog: "boom"}), "2",
			"service db exited with code 1: boom"},
		{"restarting", installed, st(ok, engine.ServiceState{Service: "db", State: "restarting", ExitCode: 137, LastLog: "oom"}), "2",
			"service db keeps restarting (exit code 137): oom"},
		{"unhealthy", installed, st(ok, engine.ServiceState{Service: "db", State: "running", Health: "unhealthy"}), "2", "service db is unhealthy"},
		{"health starting", installed, st(ok, engine.ServiceState{Service: "db", State: "running", Health: "starting"}), "0", "service db is starting"},
		{"one-shot done", store.Instance{State: store.StateInstalled, Services: "init,web"},
			st(ok, engine.ServiceState{Service: "init", State: "exited", OneShot: true}), "1", "running"},
		{"replicas running", installed, st(healthy, engine.ServiceState{Service: "web", State: "running", Number: 1, Replicas: 2},
			engine.ServiceState{Service: "web", State: "running", Number: 2, Replicas: 2}), "1", "running"},
		{"one replica removed", installed, st(healthy, engine.ServiceState{Service: "web", State: "running", Number: 2, Replicas: 2}),
			"2", "1 of the 2 containers of service web were removed outside StackHub"},
		{"one replica unhealthy", installed, st(healthy, engine.ServiceState{Service: "web", State: "running", Number: 1, Replicas: 2},
			engine.ServiceState{Service: "web", State: "running", Health: "unhealthy", Number: 2, Replicas: 2}), "2", "service web is unhealthy"},
		{"one replica starting", installed, st(healthy, engine.ServiceState{Service: "web", State: "running", Number: 1, Replicas: 2},
			engine.ServiceState{Service: "web", State: "running", Health: "starting", Number: 2, Replicas: 2}), "0", "service web is starting"},
		{"stopped by hand", installed, st(ok, engine.ServiceState{Service: "db", State: "exited"}), "0", "service db is stopped"},
		{"stopped and unhealthy", stopped, st(engine.ServiceState{Service: "web", State: "exited", Health: "unhealthy"},
			engine.ServiceState{Service: "db", State: "exited"}), "0", "stopped"},
		{"stopped by the operator", stopped, st(engine.ServiceState{Service: "web", State: "exited", ExitCode: 143},
			engine.ServiceState{Service: "db", State: "exited"}), "0", "stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, info := computeStatus(&tc.inst, tc.status)
			if code != tc.code || info != tc.info {
				t.Errorf("computeStatus = %q %q, want %q %q", code, info, tc.code, tc.info)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{"wordpress": true, "my-blog2": true, "ab": true, "a": false, "../x": false,
		"A B": false, "x;rm": false, "-x": false, "2x": false, "ab_c": false, "abcdefghijklmnopqrstuvwxyz01234": true,
		"abcdefghijklmnopqrstuvwxyz012345": false, "x\n": false} {
		if err := CheckName(name); (err == nil) != ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
