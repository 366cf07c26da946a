package main

import "syscall"

// sysProcAttr asks the kernel to kill a child if the demo dies without
// stopping it (SIGKILL, a crash), so no service outlives the demo.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
