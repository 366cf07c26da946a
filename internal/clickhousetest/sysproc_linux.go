package clickhousetest

import "syscall"

// sysProcAttr puts the server in its own process group and asks the kernel to
// kill it if the test binary dies without running its cleanups (a timeout
// panic, a SIGKILL), so no server outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
