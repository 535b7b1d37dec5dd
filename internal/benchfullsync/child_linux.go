package main

import "syscall"

// childAttr makes the kernel SIGKILL the replsm child if this program dies
// without stopping it.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
