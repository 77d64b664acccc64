package testutil

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a private PostgreSQL server for tests that stop, restart or
// replicate a database: its own data directory and port, started with the
// machine's PostgreSQL binaries (pg_config --bindir) and removed when the
// test ends. PostgreSQL refuses to run as root; as root, the server runs as
// the system's postgres user.
type Cluster struct {
	t       testing.TB
	bin     string
	DataDir string
	Port    int
	runAs   string // "" when the test's own user runs the server
}

// StartCluster initdb's and starts a private cluster. It skips the test
// when PostgreSQL's binaries are not installed, or fails under CI=true.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	out, err := exec.Command("pg_config", "--bindir").Output()
	if err != nil {
		skipOrFail(tb, "pg_config not found: PostgreSQL's server binaries are needed for a private cluster")
	}
	c := newCluster(tb, strings.TrimSpace(string(out)))
	if _, err := os.Stat(filepath.Join(c.bin, "initdb")); err != nil {
		skipOrFail(tb, "initdb not found in "+c.bin)
	}
	dir := filepath.Dir(c.DataDir)
	c.run("initdb", "-D", c.DataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	// Settings a replica (pg_basebackup) needs too; small shared memory.
	conf := fmt.Sprintf("\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n"+
		"wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nfsync = off\nshared_buffers = 32MB\n", c.Port, dir)
	c.appendFile(filepath.Join(c.DataDir, "postgresql.conf"), conf)
	c.appendFile(filepath.Join(c.DataDir, "pg_hba.conf"), "\nhost replication all 127.0.0.1/32 trust\n")
	c.Start()
	return c
}

// newCluster prepares an empty temporary directory (owned by the postgres
// user when the test runs as root) and a free port, removed and stopped
// when the test ends.
func newCluster(tb testing.TB, bin string) *Cluster {
	tb.Helper()
	c := &Cluster{t: tb, bin: bin, Port: freePort(tb)}
	dir, err := os.MkdirTemp("", "sessionhub-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	c.DataDir = filepath.Join(dir, "data")
	if os.Geteuid() == 0 {
		c.runAs = "postgres"
		u, err := user.Lookup(c.runAs)
		if err != nil {
			skipOrFail(tb, "running as root and there is no postgres user to run a private cluster")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() {
		_ = c.pgctl("stop", "-m", "immediate")
		_ = os.RemoveAll(dir)
	})
	return c
}

// StartStandby starts a streaming hot standby of c: pg_basebackup -R (which
// writes primary_conninfo and standby.signal) into its own temporary
// directory, started on its own port. It replays what c writes from then on.
func (c *Cluster) StartStandby() *Cluster {
	c.t.Helper()
	sb := newCluster(c.t, c.bin)
	dir := filepath.Dir(sb.DataDir)
	c.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port), "-U", "postgres",
		"-D", sb.DataDir, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
	// The copied postgresql.conf names the primary's port and socket
	// directory; later lines win.
	sb.appendFile(filepath.Join(sb.DataDir, "postgresql.conf"),
		fmt.Sprintf("\nport = %d\nunix_socket_directories = '%s'\nhot_standby_feedback = on\n", sb.Port, dir))
	sb.Start()
	return sb
}

// URL is the cluster's postgres database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	if err := c.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(filepath.Dir(c.DataDir), "server.log")); err != nil {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(c.DataDir), "server.log"))
		c.t.Fatalf("pg_ctl start: %v\n%s", err, log)
	}
}

// Stop stops the server, cutting every connection (mode fast).
func (c *Cluster) Stop() {
	c.t.Helper()
	if err := c.pgctl("stop", "-w", "-t", "60", "-m", "fast"); err != nil {
		c.t.Fatalf("pg_ctl stop: %v", err)
	}
}

// Restart stops and starts the server.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.Stop()
	c.Start()
}

func (c *Cluster) pgctl(args ...string) error {
	args = append([]string{"-D", c.DataDir}, args...)
	cmd := c.command("pg_ctl", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// run runs one of PostgreSQL's programs as the cluster's user, failing the test on error.
func (c *Cluster) run(program string, args ...string) {
	c.t.Helper()
	if out, err := c.command(program, args...).CombinedOutput(); err != nil {
		c.t.Fatalf("%s: %v\n%s", program, err, out)
	}
}

// Run runs one of PostgreSQL's programs (pg_basebackup, psql …) as the
// cluster's user, failing the test on error.
func (c *Cluster) Run(program string, args ...string) { c.run(program, args...) }

func (c *Cluster) command(program string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c.t.Cleanup(cancel)
	path := filepath.Join(c.bin, program)
	if c.runAs != "" {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs, "--", path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}

func (c *Cluster) appendFile(path, text string) {
	c.t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		c.t.Fatal(err)
	}
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func skipOrFail(tb testing.TB, reason string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal(reason)
	}
	tb.Skip(reason)
}
