package zookeeper

import "syscall"

// sysProcAttr puts the server in its own process group and asks the kernel to
// kill it if its parent dies without cleaning up, so no ZooKeeper outlives
// the test binary that started it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
