//go:build !linux

package main

import "errors"

// On other systems there is no /proc: CPU times and memory are reported as unknown.

func cpuTimes(int, bool) (cpuSample, bool) { return cpuSample{}, false }

func memory(int) (rss, hwm int64, err error) { return 0, 0, errors.New("memory: needs Linux /proc") }
