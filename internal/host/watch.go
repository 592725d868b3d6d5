package host

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// seen is an instance's status as the watch last saw it.
type seen struct {
	code, info, nodes string
}

// WatchNodes follows the instances on a cluster engine until ctx ends: every `every` it reads the nodes and each
// installed instance's tasks, and publishes install.status (the event jobs publish) when an instance's status,
// its text or the nodes its tasks run on changed since the last look: a node that goes down, a task that moves to
// another node, a node that comes back. The edge rebuilds its routes on those events. An instance a job holds is
// left to the job's own events. It does nothing on a single engine, where statuses change only through jobs.
// With replicas, one process runs it (cluster.LockStatusWatch).
func (s *Service) WatchNodes(ctx context.Context, every time.Duration) {
	if s.cluster == nil {
		return
	}
	last := map[string]seen{}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.watchOnce(ctx, last)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// watchOnce compares each installed instance with last, publishes what changed and records what it saw. The
// first look at an instance only records it.
func (s *Service) watchOnce(ctx context.Context, last map[string]seen) {
	insts, err := s.store.Q().Instances(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("status watch: instances", "err", err)
		}
		return
	}
	nodes, err := s.cluster.Nodes(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("status watch: the Swarm manager does not answer", "err", err)
		}
		return
	}
	present := map[string]bool{}
	for i := range insts {
		inst := &insts[i]
		if _, busy := s.busy.Load(inst.Name); busy || inst.State != store.StateInstalled {
			continue // the job publishes its own events; the watch looks afresh once it ends
		}
		st, err := s.engine.Status(ctx, inst.Project)
		if err != nil {
			continue
		}
		present[inst.Name] = true
		code, info := clusterStatus(inst, st, nodes)
		on := s.taskNodes(st, nodes)
		now := seen{code: code, info: info, nodes: strings.Join(on, ",")}
		prev, known := last[inst.Name]
		last[inst.Name] = now
		if known && prev != now {
			s.log.Info("status changed", "instance", inst.Name, "status", code, "info", info, "nodes", now.nodes)
			s.publish(events.InstallStatus, StatusEvent{Instance: inst.Name, State: inst.State, Status: code, Info: info,
				Nodes: slices.Clip(on)})
		}
	}
	for name := range last {
		if !present[name] {
			delete(last, name)
		}
	}
}
