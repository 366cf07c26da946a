package chserver

import "syscall"

// sysProcAttr puts the server in its own process group and asks the kernel to
// kill it if its parent (a test binary, the demo) dies without cleaning up
// (a timeout panic, a SIGKILL), so no server outlives what started it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
