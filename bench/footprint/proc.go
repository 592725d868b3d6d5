package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

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
