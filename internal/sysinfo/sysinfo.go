// Package sysinfo reads the host's CPU, memory, disk and load.
package sysinfo

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
)

// Snapshot is the host's state at one moment. Sizes are bytes; percentages 0-100.
type Snapshot struct {
	CPUCores   int     `json:"cpu_cores"`
	CPUPercent float64 `json:"cpu_percent"`
	MemTotal   uint64  `json:"mem_total"`
	MemUsed    uint64  `json:"mem_used"`
	MemFree    uint64  `json:"mem_available"`
	DiskTotal  uint64  `json:"disk_total"`
	DiskUsed   uint64  `json:"disk_used"`
	DiskFree   uint64  `json:"disk_free"`
	Load1      float64 `json:"load1"`
	Load5      float64 `json:"load5"`
	Load15     float64 `json:"load15"`
}

// MemPercent is the share of memory in use.
func (s Snapshot) MemPercent() float64 { return pct(s.MemUsed, s.MemTotal) }

// DiskPercent is the share of the disk in use.
func (s Snapshot) DiskPercent() float64 { return pct(s.DiskUsed, s.DiskTotal) }

func pct(used, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return float64(used) * 100 / float64(total)
}

// cpuSample is how long CPU use is measured; short enough for a request, long enough to mean something.
const cpuSample = 200 * time.Millisecond

// Read measures the host, CPU use included (which takes cpuSample); path picks the disk (the data directory's).
func Read(ctx context.Context, path string) (Snapshot, error) {
	s, err := Capacity(ctx, path)
	if err != nil {
		return s, err
	}
	p, err := cpu.PercentWithContext(ctx, cpuSample, false)
	if err != nil {
		return s, fmt.Errorf("cpu: %w", err)
	}
	if len(p) > 0 {
		s.CPUPercent = p[0]
	}
	return s, nil
}

// Capacity reads cores, memory, disk and load at once, without sampling CPU use: enough for a resource check.
func Capacity(ctx context.Context, path string) (Snapshot, error) {
	s := Snapshot{CPUCores: runtime.NumCPU()}
	if c, err := cpu.CountsWithContext(ctx, true); err == nil && c > 0 {
		s.CPUCores = c
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return s, fmt.Errorf("memory: %w", err)
	}
	s.MemTotal, s.MemFree = vm.Total, vm.Available
	s.MemUsed = vm.Total - vm.Available
	du, err := disk.UsageWithContext(ctx, path)
	if err != nil {
		return s, fmt.Errorf("disk %s: %w", path, err)
	}
	s.DiskTotal, s.DiskUsed, s.DiskFree = du.Total, du.Used, du.Free
	if l, err := load.AvgWithContext(ctx); err == nil {
		s.Load1, s.Load5, s.Load15 = l.Load1, l.Load5, l.Load15
	}
	return s, nil
}
