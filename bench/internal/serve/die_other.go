//go:build !linux

package serve

import (
	"os/exec"
	"syscall"
)

// DieWithParent does nothing here: only Linux has a parent-death signal.
func DieWithParent(*exec.Cmd, syscall.Signal) {}
