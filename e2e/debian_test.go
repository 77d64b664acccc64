package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// aptMu keeps this package's apt-get runs one at a time (dpkg takes one
// lock anyway; waiting here gives clearer logs).
var aptMu sync.Mutex

// debianTool returns the path of a command from a Debian package, installing
// the packages with apt-get when the command is missing and the test runs as
// root. Without it the test skips, saying why, or fails under CI=true.
func debianTool(t *testing.T, command string, packages ...string) string {
	t.Helper()
	aptMu.Lock()
	defer aptMu.Unlock()
	if path, err := exec.LookPath(command); err == nil {
		return path
	}
	err := aptInstall(t, packages...)
	if err == nil {
		path, lookErr := exec.LookPath(command)
		if lookErr == nil {
			return path
		}
		err = lookErr
	}
	msg := fmt.Sprintf("%s (Debian package %s) is needed and could not be installed: %v",
		command, strings.Join(packages, ", "), err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skipf("%s (run `apt-get install -y %s` as root; under CI=true this is a failure)", msg, strings.Join(packages, " "))
	return ""
}

// aptInstall installs Debian packages without recommends, updating the
// package lists once if the first attempt fails.
func aptInstall(t *testing.T, packages ...string) error {
	t.Helper()
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root, so apt-get cannot install it")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	apt := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"-o", "DPkg::Lock::Timeout=600"}, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			tail := out[max(0, len(out)-2000):]
			return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, tail)
		}
		return nil
	}
	t.Logf("installing %s with apt-get", strings.Join(packages, ", "))
	start := time.Now()
	install := append([]string{"install", "-y", "--no-install-recommends"}, packages...)
	if err := apt(install...); err != nil {
		if err := apt("update"); err != nil {
			return err
		}
		if err := apt(install...); err != nil {
			return err
		}
	}
	t.Logf("installed %s in %s", strings.Join(packages, ", "), time.Since(start).Round(time.Second))
	return nil
}

// debianPackageFile makes sure a file that a Debian package provides exists,
// installing the package as debianTool does.
func debianPackageFile(t *testing.T, file string, packages ...string) {
	t.Helper()
	aptMu.Lock()
	defer aptMu.Unlock()
	if _, err := os.Stat(file); err == nil {
		return
	}
	err := aptInstall(t, packages...)
	if err == nil {
		_, err = os.Stat(file)
	}
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s (Debian package %s) is needed and could not be installed: %v", file, strings.Join(packages, ", "), err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skipf("%s (under CI=true this is a failure)", msg)
}
