package redistest

import "syscall"

// sysProcAttr puts redis-server (and any child it forks for a diskless sync)
// in its own process group, and asks the kernel to SIGKILL it if the test
// binary dies without running its cleanups.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
