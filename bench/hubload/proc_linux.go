package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stackhub/stackhub/bench/internal/proc"
)

// cpuTimes returns the user+system CPU time of process pid (all its threads), of this process, of every process
// named postgres (when db is set), and of the whole machine (every CPU's busy time: user, nice, system, steal).
func cpuTimes(pid int, db bool) (c cpuSample, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return c, false
	}
	c.Self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var err error
	if _, c.Proc, err = proc.CPU(pid); err != nil {
		return c, false
	}
	if db {
		// Every process named postgres: the backends serving the hub, and the server's background processes.
		for _, t := range proc.CPUByName(func(name string) bool { return name == "postgres" }) {
			c.DB += t
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
	c.Machine = time.Duration(busy) * proc.ClockTick
	return c, true
}
