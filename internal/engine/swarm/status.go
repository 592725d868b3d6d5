package swarm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/engine/docker"
)

// Status implements engine.Engine from the tasks: one ServiceState per replica slot (per node, for a global
// service), from the newest task Swarm wants running there. A slot whose task is not created yet is "created";
// a stopped service (scaled to 0 by Stop) shows its remembered replicas "exited". A task whose node is not ready
// keeps its last reported state, with NodeState saying so; once Swarm reschedules it, its successor shows where it
// went (or, pinned, that it waits for its node).
func (e *Engine) Status(ctx context.Context, name string) (*engine.Status, error) {
	svcs, err := e.services(ctx, name)
	if err != nil {
		return nil, err
	}
	nodes, err := e.swarmNodes(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]swarm.Node{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	st := &engine.Status{Project: name}
	for _, s := range svcs {
		svc := s.Spec.Labels[engine.LabelService]
		oneShot := specOneShot(s.Spec)
		if stopped := s.Spec.Labels[LabelStopped]; stopped != "" {
			n, _ := strconv.Atoi(stopped) // a global service: 1
			n = max(n, 1)
			for i := 1; i <= n; i++ {
				st.Services = append(st.Services, engine.ServiceState{Service: svc, Container: fmt.Sprintf("%s.%d", s.Spec.Name, i),
					Number: i, Replicas: n, State: "exited", OneShot: oneShot})
			}
			continue
		}
		tasks, err := e.tasks(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		cur := current(tasks)
		want := len(cur)
		if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
			want = int(*r.Replicas)
		}
		health := hasHealthcheck(s.Spec)
		seen := map[int]bool{}
		for i, t := range cur {
			num := t.Slot
			if num == 0 {
				num = i + 1
			}
			seen[num] = true
			ss := e.taskState(ctx, t, health, oneShot)
			ss.Service, ss.Number, ss.Replicas = svc, num, want
			ss.Container = fmt.Sprintf("%s.%d.%s", s.Spec.Name, num, t.ID)
			if n, ok := byID[t.NodeID]; ok {
				ss.Node, ss.NodeState = n.Description.Hostname, string(n.Status.State)
				if n.Status.State != swarm.NodeStateReady {
					ss.LastLog = fmt.Sprintf("node %s is %s", ss.Node, n.Status.State)
				}
			}
			st.Services = append(st.Services, ss)
		}
		for n := 1; n <= want; n++ { // replicas Swarm has not made a task for yet
			if !seen[n] && len(seen) < want {
				seen[n] = true
				st.Services = append(st.Services, engine.ServiceState{Service: svc, Container: fmt.Sprintf("%s.%d", s.Spec.Name, n),
					Number: n, Replicas: want, State: "created", OneShot: oneShot})
			}
		}
	}
	return st, nil
}

// taskState maps a task's state to a container's: running (with health starting while Swarm holds a task with a
// healthcheck in starting), created before that, exited once complete or failed, restarting when Swarm will
// replace a failed one, dead when it could not run at all.
func (e *Engine) taskState(ctx context.Context, t swarm.Task, health, oneShot bool) engine.ServiceState {
	ss := engine.ServiceState{OneShot: oneShot}
	for _, p := range t.Status.PortStatus.Ports {
		if p.PublishedPort != 0 {
			ss.HostPorts = append(ss.HostPorts, int(p.PublishedPort))
		}
	}
	if cs := t.Status.ContainerStatus; cs != nil {
		ss.ExitCode = cs.ExitCode
	}
	switch t.Status.State {
	case swarm.TaskStateRunning:
		ss.State = "running"
		if health {
			ss.Health = "healthy"
		}
		return ss
	case swarm.TaskStateStarting:
		ss.State = "running"
		if health {
			ss.Health = "starting"
		}
		return ss
	case swarm.TaskStateComplete:
		ss.State = "exited"
	case swarm.TaskStateFailed:
		ss.State = "exited"
		if !oneShot || t.DesiredState == swarm.TaskStateRunning {
			ss.State = "restarting"
		}
		if ss.ExitCode == 0 {
			ss.ExitCode = 1
		}
	case swarm.TaskStateRejected:
		ss.State, ss.ExitCode = "dead", 125 // as docker run says the container could not be run
	default: // new ... ready: not started yet
		ss.State = "created"
	}
	ss.LastLog = t.Status.Err
	if line := e.lastLine(ctx, t.ID); line != "" {
		ss.LastLog = strings.TrimSpace(ss.LastLog + ": " + line)
		ss.LastLog = strings.TrimPrefix(ss.LastLog, ": ")
	}
	if ss.LastLog == "" {
		ss.LastLog = t.Status.Message
	}
	return ss
}

func hasHealthcheck(sp swarm.ServiceSpec) bool {
	cs := sp.TaskTemplate.ContainerSpec
	return cs != nil && cs.Healthcheck != nil && len(cs.Healthcheck.Test) > 0 && cs.Healthcheck.Test[0] != "NONE"
}

// lastLine is a task's last log line ("" when it has none or its node cannot say).
func (e *Engine) lastLine(ctx context.Context, taskID string) string {
	rc, err := e.c.TaskLogs(ctx, taskID, client.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "5"})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil && buf.Len() == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Logs implements engine.Engine: each service's logs (from every node its tasks ran on), prefixed with its name.
func (e *Engine) Logs(ctx context.Context, name string, tail int, follow bool, w io.Writer) error {
	svcs, err := e.services(ctx, name)
	if err != nil {
		return err
	}
	if len(svcs) == 0 {
		return fmt.Errorf("project %s has no services", name)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(svcs))
	for i, s := range svcs {
		pw, flush := docker.PrefixWriter(&mu, w, s.Spec.Labels[engine.LabelService]+" | ")
		tty := s.Spec.TaskTemplate.ContainerSpec != nil && s.Spec.TaskTemplate.ContainerSpec.TTY
		wg.Go(func() {
			defer flush()
			rc, err := e.c.ServiceLogs(ctx, s.ID, client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true,
				Tail: strconv.Itoa(tail), Follow: follow})
			if err != nil {
				errs[i] = fmt.Errorf("logs of %s: %w", s.Spec.Name, docker.CleanErr(err))
				return
			}
			defer rc.Close()
			if tty {
				_, errs[i] = io.Copy(pw, rc)
			} else {
				_, errs[i] = stdcopy.StdCopy(pw, pw, rc)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}
