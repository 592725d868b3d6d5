package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat; it is 100 on every Linux port Go
// supports (reading it properly needs sysconf, that is cgo).
const clockTick = 10 * time.Millisecond

// cpuTimes returns the user+system CPU time of process pid (all its threads), of this process, of every process
// named postgres (when db is set), and of the whole machine (every CPU's busy time: user, nice, system, steal).
func cpuTimes(pid int, db bool) (c cpuSample, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return c, false
	}
	c.Self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var err error
	if _, c.Proc, err = procCPU(pid); err != nil {
		return c, false
	}
	if db {
		// Every process named postgres: the backends serving the hub, and the server's background processes.
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			p, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			if name, t, err := procCPU(p); err == nil && name == "postgres" {
				c.DB += t
			}
		}
	}

	// First line of /proc/stat: cpu user nice system idle iowait irq softirq steal guest guest_nice.
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return c, false
	}
	// irq and softirq are left out: on loopback, softirq time is mostly the benchmark's own TCP traffic, which
	// the kernel does not charge to either process.
	var busy int64
	for _, i := range []int{1, 2, 3, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return c, false
		}
		busy += n
	}
	c.Machine = time.Duration(busy) * clockTick
	return c, true
}

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
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return "", 0, fmt.Errorf("/proc/%d/stat: bad utime or stime", pid)
	}
	return s[open+1 : end], time.Duration(ut+st) * clockTick, nil
}

// memory returns VmRSS (resident now) and VmHWM (peak resident) of process pid, in bytes.
func memory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("%s: unexpected %q", k, v)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = n * 1024
		} else {
			hwm = n * 1024
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}
