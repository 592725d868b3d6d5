package serve

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes the kernel send sig to cmd's process if the benchmark dies first, so no server outlives a
// run.
func DieWithParent(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = sig
}
