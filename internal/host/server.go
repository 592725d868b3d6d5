package host

import (
	"context"
	"fmt"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/sysinfo"
)

// ServerInfo is the server's health: metrics, the Docker Engine, and the risks found now.
type ServerInfo struct {
	Metrics   sysinfo.Snapshot `json:"metrics"`
	Docker    string           `json:"docker"` // engine version, or the error
	DockerOK  bool             `json:"docker_ok"`
	Risks     []string         `json:"risks"`
	Instances int              `json:"instances"`
}

// Server measures the host and lists the risks: a nearly full disk or memory, load above the cores, an
// unreachable engine, failed apps, and a weak admin token.
func (s *Service) Server(ctx context.Context, a auth.Actor, weakToken bool) (*ServerInfo, error) {
	if err := require(a, auth.HostRead); err != nil {
		return nil, err
	}
	snap, err := sysinfo.Read(ctx, s.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	return s.ServerWith(ctx, a, weakToken, snap)
}

// ServerWith is Server with a snapshot the caller measured recently (the web UI's metrics history), so that a
// page does not wait for a fresh CPU sample.
func (s *Service) ServerWith(ctx context.Context, a auth.Actor, weakToken bool, snap sysinfo.Snapshot) (*ServerInfo, error) {
	if err := require(a, auth.HostRead); err != nil {
		return nil, err
	}
	info := &ServerInfo{Metrics: snap, Risks: []string{}}
	if v, err := s.engine.Version(ctx); err != nil {
		info.Docker = err.Error()
		info.Risks = append(info.Risks, "Docker Engine is unreachable: "+err.Error())
	} else {
		info.Docker, info.DockerOK = v, true
	}
	if p := snap.DiskPercent(); p > 90 {
		info.Risks = append(info.Risks, fmt.Sprintf("the disk is %.0f%% full", p))
	}
	if p := snap.MemPercent(); p > 90 {
		info.Risks = append(info.Risks, fmt.Sprintf("memory is %.0f%% used", p))
	}
	if snap.Load1 > float64(snap.CPUCores) {
		info.Risks = append(info.Risks, fmt.Sprintf("the load (%.2f) is above the %d cores", snap.Load1, snap.CPUCores))
	}
	if info.DockerOK {
		// Only the status matters here, not the ports and versions a full Info reads too.
		insts, err := s.store.Q().Instances(ctx)
		if err != nil {
			return nil, fmt.Errorf("instances: %w", err)
		}
		info.Instances = len(insts)
		for i := range insts {
			if code, text := s.status(ctx, &insts[i]); code == StatusFailed {
				info.Risks = append(info.Risks, fmt.Sprintf("%s has failed: %s", insts[i].Name, text))
			}
		}
	}
	if weakToken {
		info.Risks = append(info.Risks, "the admin token is weak; set DOGETOK to 16 or more random characters")
	}
	return info, nil
}
