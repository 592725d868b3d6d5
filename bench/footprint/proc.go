package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux Go supports
// (reading it properly needs sysconf, that is cgo).
const clockTick = 10 * time.Millisecond

// procCPU returns the command name and the user+system CPU time of process pid (all its threads).
func procCPU(pid int) (name string, cpu time.Duration, err error) {
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
	return s[open+1 : end], time.Duration(ut+st) * clockTick, nil
}

// memStatus holds what /proc/<pid>/status says about memory and threads.
type memStatus struct {
	RSS, HWM int64 // bytes
	Threads  int
}

func procStatus(pid int) (memStatus, error) {
	var m memStatus
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
		case "Threads":
			m.Threads = int(n)
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return m, nil
}

// openFDs counts the process's open file descriptors (sockets to Docker and clients included).
func openFDs(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(es)
}

// cpuByName sums the CPU time of every process whose command name is accepted by match, by pid.
func cpuByName(match func(string) bool) map[int]time.Duration {
	out := map[int]time.Duration{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if name, t, err := procCPU(pid); err == nil && match(name) {
			out[pid] = t
		}
	}
	return out
}

// cpuDelta is the CPU used between two cpuByName samples by the processes present in both.
func cpuDelta(before, after map[int]time.Duration) (d time.Duration, n int) {
	for pid, t := range after {
		if t0, ok := before[pid]; ok {
			d += t - t0
			n++
		}
	}
	return d, n
}

func isDockerd(name string) bool { return name == "dockerd" }

func isContainerd(name string) bool {
	return name == "containerd" || strings.HasPrefix(name, "containerd-shim")
}

// wakeups sums the context switches (voluntary and not) of every thread of pid: each time a thread went to
// sleep or was preempted. An idle process that wakes up for a timer adds at least one per wake-up, so the count
// over a window shows periodic work that is too cheap to register as CPU time.
func wakeups(pid int) (int64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue // the thread exited
		}
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n, nil
}
