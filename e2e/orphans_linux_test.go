package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill a server when the test process dies
// without its cleanups (a -timeout panic, a SIGKILL): otherwise the server
// outlives it, holding its port and database.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
