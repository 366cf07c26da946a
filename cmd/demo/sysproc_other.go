//go:build unix && !linux

package main

import "syscall"

// sysProcAttr gives each child its own process group, so a Ctrl-C on the
// terminal reaches the demo alone, which then stops the services in order.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
