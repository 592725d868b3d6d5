// Package proc reads a process's CPU time, memory, threads and descriptors from Linux's /proc, for the
// benchmarks. Elsewhere every reading fails (there is no /proc), which the benchmarks report as unknown.
package proc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux Go supports
// (reading it properly needs sysconf, that is cgo).
const ClockTick = 10 * time.Millisecond

// CPU returns the command name and the user+system CPU time of process pid (all its threads).
func CPU(pid int) (name string, cpu time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its closing parenthesis start at field 3.
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 13 {
		return "", 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	if err1 != nil || err2 != nil {
		return "", 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return s[open+1 : end], time.Duration(ut+st) * ClockTick, nil
}

// Status is what /proc/<pid>/status says about memory and threads.
type Status struct {
	RSS, HWM int64 // bytes
	// RSSAnon and RSSFile split RSS: anonymous memory (heap, stacks, runtime) and mapped files (mostly the
	// binary's code and read-only data, paged in as it runs).
	RSSAnon, RSSFile int64
	Threads          int
}

// ReadStatus reads /proc/<pid>/status.
func ReadStatus(pid int) (Status, error) {
	var m Status
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = n * 1024
		case "VmHWM":
			m.HWM = n * 1024
		case "RssAnon":
			m.RSSAnon = n * 1024
		case "RssFile":
			m.RSSFile = n * 1024
		case "Threads":
			m.Threads = int(n)
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return m, nil
}

// FDs counts the process's open file descriptors (sockets included); -1 when they cannot be read.
func FDs(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(es)
}

// CPUByName reads the CPU time of every process whose command name is accepted by match, by pid.
func CPUByName(match func(string) bool) map[int]time.Duration {
	out := map[int]time.Duration{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if name, t, err := CPU(pid); err == nil && match(name) {
			out[pid] = t
		}
	}
	return out
}

// CPUDelta is the CPU used between two CPUByName samples by the processes present in both.
func CPUDelta(before, after map[int]time.Duration) (d time.Duration, n int) {
	for pid, t := range after {
		if t0, ok := before[pid]; ok {
			d += t - t0
			n++
		}
	}
	return d, n
}
