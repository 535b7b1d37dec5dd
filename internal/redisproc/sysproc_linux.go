package redisproc

import "syscall"

// sysProcAttr puts a child (redis-server, redis-benchmark, and any child
// redis-server forks for a diskless sync) in its own process group, so that
// it is signalled as a group and a terminal's ctrl-C reaches only the
// launching program, which then stops it in order; and it asks the kernel to
// SIGKILL the child if the launching thread dies without cleaning up (a test
// binary killed by its timeout, a program killed by SIGKILL).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
