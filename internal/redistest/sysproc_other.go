//go:build unix && !linux

package redistest

import "syscall"

// sysProcAttr puts redis-server (and any child it forks for a diskless sync)
// in its own process group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
