//go:build !linux

package e2e

import "os/exec"

// dieWithTest has no portable equivalent outside Linux: a server outlives a
// test process that dies without its cleanups.
func dieWithTest(*exec.Cmd) {}
