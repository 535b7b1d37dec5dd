//go:build unix && !linux

package redisproc

import "syscall"

// sysProcAttr puts a child in its own process group (the parent-death
// signal is Linux-only).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
