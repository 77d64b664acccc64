//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// The storage fault tests put SQLite on a tmpfs of their own, which they
// turn read-only or fill up for real. Mounting needs root (or
// CAP_SYS_ADMIN); elsewhere they are skipped with a message saying so.

func mountTmpfs(t *testing.T, options string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, options); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): storage fault tests need root or CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

func remount(t *testing.T, dir, options string, readOnly bool) {
	t.Helper()
	flags := uintptr(syscall.MS_REMOUNT)
	if readOnly {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, options); err != nil {
		t.Fatalf("remount %s (read-only %v): %v", dir, readOnly, err)
	}
}

// storageAnswer is one send's status and error body.
type storageAnswer struct {
	Status      int
	Error, Code string
}

func sendOnce(t *testing.T, srv *server, sessionID string) storageAnswer {
	t.Helper()
	res := srv.do(t, "POST", "/api/messaging/sessions/"+sessionID+"/messages", "application/json", `{"content":"hello"}`)
	a := storageAnswer{Status: res.Status}
	_ = json.Unmarshal(res.Body, &a)
	return a
}

// until retries check (up to a minute) until it reports done.
func until(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var done bool
		if done, last = check(); done {
			return
		}
	}
	t.Fatalf("%s: last %s", what, last)
}

func readyStatus(t *testing.T, srv *server) int {
	return srv.do(t, "GET", "/readyz", "", "").Status
}

// TestStorageRunsFull: on a real full disk (a 16 MiB tmpfs filled up by
// another file) sends answer 503 / UNAVAILABLE "storage is full", never
// 500, and /readyz 503; after the other file is deleted both recover
// without a restart.
func TestStorageRunsFull(t *testing.T) {
	dir := mountTmpfs(t, "size=16m")
	srv := startServer(t, "sqlite:"+filepath.Join(dir, "sessionhub.db"))
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	if a := sendOnce(t, srv, sessionID); a.Status != http.StatusCreated {
		t.Fatalf("send before: %+v", a)
	}
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{1}, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	_ = f.Close()

	// Sends may still fit in pages SQLite already has; the first refused
	// one must be a 503 that says the storage is full.
	var refused storageAnswer
	for i := 0; i < 5000 && refused.Status == 0; i++ {
		switch a := sendOnce(t, srv, sessionID); a.Status {
		case http.StatusCreated:
		case http.StatusServiceUnavailable:
			refused = a
		default:
			t.Fatalf("send %d on a full disk: %+v, want 201 or 503", i, a)
		}
	}
	if refused.Code != "UNAVAILABLE" || !strings.HasPrefix(refused.Error, "The database's storage is full") {
		t.Errorf("send on a full disk: %+v, want 503 UNAVAILABLE storage full", refused)
	}
	if status := readyStatus(t, srv); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz on a full disk: %d, want 503", status)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	until(t, "send after space is freed", func() (bool, string) {
		a := sendOnce(t, srv, sessionID)
		return a.Status == http.StatusCreated, a.Error
	})
	until(t, "/readyz after space is freed", func() (bool, string) {
		return readyStatus(t, srv) == http.StatusOK, "not ready"
	})
}

// TestStartupNamesStorageFaults: a SQLite database in a read-only
// directory, or a read-only database file, stops start-up with a message
// naming the path and the real cause (SQLite's own is "out of memory (14)").
func TestStartupNamesStorageFaults(t *testing.T) {
	start := func(databaseURL string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, serverBinary)
		cmd.Env = append(os.Environ(), "PORT=0", "DATABASE_URL="+databaseURL)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err == nil {
			t.Fatalf("started on %s", databaseURL)
		}
		return stderr.String()
	}

	t.Run("read-only directory", func(t *testing.T) {
		dir := mountTmpfs(t, "size=8m")
		remount(t, dir, "size=8m", true)
		path := filepath.Join(dir, "sessionhub.db")
		out := start("sqlite:" + path)
		if !strings.Contains(out, path) || !strings.Contains(out, "directory "+dir+" is not writable") || !strings.Contains(out, "read-only file system") {
			t.Errorf("start-up error %q, want the path, the directory and the cause", out)
		}
	})

	t.Run("read-only file", func(t *testing.T) {
		dir := mountTmpfs(t, "size=8m")
		path := filepath.Join(dir, "sessionhub.db")
		db, err := store.Open(context.Background(), "sqlite:"+path, testutil.Logger())
		if err != nil {
			t.Fatal(err)
		}
		_ = db.Close()
		// The file alone read-only (its directory stays writable): a
		// read-only bind mount of it, since root ignores file modes.
		if err := syscall.Mount(path, path, "", syscall.MS_BIND, ""); err != nil {
			t.Skipf("bind mount: %v", err)
		}
		t.Cleanup(func() { _ = syscall.Unmount(path, syscall.MNT_DETACH) })
		if err := syscall.Mount("", path, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
			t.Fatal(err)
		}
		out := start("sqlite:" + path)
		if !strings.Contains(out, path+": the file is not writable: read-only file system") {
			t.Errorf("start-up error %q, want the path and the cause", out)
		}
	})
}
