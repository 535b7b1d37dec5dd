package main

import "syscall"

// sysProcAttr puts a child (redis-server, redis-benchmark, and any child
// redis-server forks for a diskless sync) in its own process group, so that
// it can be signalled as a group and a terminal's ctrl-C reaches only this
// program, which then stops it in order; and it asks the kernel to SIGKILL
// the child if this program dies without cleaning up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
