package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
)

// Status implements engine.Engine.
func (e *Engine) Status(ctx context.Context, name string) (*engine.Status, error) {
	cs, err := e.containers(ctx, name)
	if err != nil {
		return nil, err
	}
	st := &engine.Status{Project: name}
	for _, c := range cs {
		in, err := e.c.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", c.Names, cleanErr(err))
		}
		j := in.Container
		s := engine.ServiceState{
			Service:   c.Labels[engine.LabelService],
			Container: strings.TrimPrefix(j.Name, "/"),
			Number:    labelInt(c.Labels, engine.LabelNumber),
			Replicas:  labelInt(c.Labels, engine.LabelReplicas),
			State:     string(j.State.Status),
			ExitCode:  j.State.ExitCode,
		}
		if j.State.Health != nil {
			s.Health = string(j.State.Health.Status)
		}
		if j.HostConfig != nil {
			pol := j.HostConfig.RestartPolicy.Name
			s.OneShot = pol == "" || pol == container.RestartPolicyDisabled || pol == container.RestartPolicyOnFailure
			s.HostPorts = hostPorts(j.HostConfig.PortBindings)
		}
		if !j.State.Running || j.State.Restarting {
			s.LastLog = e.lastLine(ctx, c.ID, j.Config != nil && j.Config.Tty)
		}
		st.Services = append(st.Services, s)
	}
	return st, nil
}

// labelInt reads a count label; a missing or malformed one is 1, as on a container of a service without replicas.
func labelInt(labels map[string]string, key string) int {
	if n, err := strconv.Atoi(labels[key]); err == nil && n > 0 {
		return n
	}
	return 1
}

// hostPorts lists the host ports of a container's port bindings; a binding without a numeric port is skipped.
func hostPorts(pm network.PortMap) []int {
	var out []int
	for _, bs := range pm {
		for _, b := range bs {
			var n int
			if _, err := fmt.Sscanf(b.HostPort, "%d", &n); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// lastLine returns a container's last non-empty log line ("" when there is none).
func (e *Engine) lastLine(ctx context.Context, id string, tty bool) string {
	var buf bytes.Buffer
	if err := e.containerLogs(ctx, id, 5, false, tty, &buf); err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// containerLogs copies a container's logs to w. tty says the container has a terminal: its log is then one raw
// stream rather than stdout and stderr multiplexed. The caller says so: Status, which installs poll often, has
// inspected the container already.
func (e *Engine) containerLogs(ctx context.Context, id string, tail int, follow, tty bool, w io.Writer) error {
	rc, err := e.c.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true,
		Tail: fmt.Sprint(tail), Follow: follow})
	if err != nil {
		return cleanErr(err)
	}
	defer rc.Close()
	if tty {
		_, err = io.Copy(w, rc)
		return err
	}
	_, err = stdcopy.StdCopy(w, w, rc)
	return err
}

// hasTTY reports whether a container has a terminal; one that cannot be inspected is read as multiplexed.
func (e *Engine) hasTTY(ctx context.Context, id string) bool {
	in, err := e.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	return err == nil && in.Container.Config != nil && in.Container.Config.Tty
}

// Logs implements engine.Engine: lines of every container, prefixed with the service name.
func (e *Engine) Logs(ctx context.Context, name string, tail int, follow bool, w io.Writer) error {
	cs, err := e.containers(ctx, name)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("project %s has no containers", name)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		prefix := c.Labels[engine.LabelService]
		if labelInt(c.Labels, engine.LabelReplicas) > 1 { // Compose's prefix for a replica: <service>-<n>
			prefix += "-" + c.Labels[engine.LabelNumber]
		}
		pw := &prefixWriter{mu: &mu, w: w, prefix: prefix + " | "}
		wg.Go(func() {
			errs[i] = e.containerLogs(ctx, c.ID, tail, follow, e.hasTTY(ctx, c.ID), pw)
			pw.flush()
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

// prefixWriter writes whole lines, each prefixed, under a shared lock so containers' lines do not interleave.
type prefixWriter struct {
	mu      *sync.Mutex
	w       io.Writer
	prefix  string
	partial []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.partial = append(p.partial, b...)
	var done int
	for {
		i := bytes.IndexByte(p.partial[done:], '\n')
		if i < 0 {
			break
		}
		line := p.partial[done : done+i+1]
		p.mu.Lock()
		_, err := io.WriteString(p.w, p.prefix+string(line))
		p.mu.Unlock()
		if err != nil {
			return 0, err
		}
		done += i + 1
	}
	p.partial = append(p.partial[:0], p.partial[done:]...)
	return len(b), nil
}

func (p *prefixWriter) flush() {
	if len(p.partial) > 0 {
		p.mu.Lock()
		_, _ = io.WriteString(p.w, p.prefix+string(p.partial)+"\n")
		p.mu.Unlock()
		p.partial = nil
	}
}
