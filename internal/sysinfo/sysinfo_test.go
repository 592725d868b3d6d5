package sysinfo

import (
	"testing"
)

func TestReadRealHost(t *testing.T) {
	s, err := Read(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUCores < 1 || s.MemTotal == 0 || s.MemUsed > s.MemTotal || s.DiskTotal == 0 || s.DiskUsed > s.DiskTotal ||
		s.CPUPercent < 0 || s.CPUPercent > 100 || s.MemPercent() <= 0 || s.DiskPercent() <= 0 {
		t.Errorf("implausible snapshot: %+v", s)
	}
}
