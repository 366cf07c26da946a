package main

import "syscall"

// sysProcAttr asks the kernel to kill a child if the demo dies without
// stopping it (SIGKILL, a crash), so no service outlives the demo. Each
// child has its own process group, so a Ctrl-C on the terminal reaches the
// demo alone, which then stops the services in order (aggregator first).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
