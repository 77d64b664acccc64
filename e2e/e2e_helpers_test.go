// Package e2e tests sessionhub from the outside: the real binary on a free
// port, driven over HTTP and WebSocket, by real clients (npm packages,
// Chromium) and through faults (a stalled or restarted database, SIGTERM).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// serverBinary is the sessionhub binary the end-to-end tests run, built once in TestMain.
var serverBinary string

// repoRoot is the module's root, seen from this package's directory (where go test runs).
const repoRoot = ".."

// repoPath names a file of the repository by its path from the root.
func repoPath(elem ...string) string {
	return filepath.Join(append([]string{repoRoot}, elem...)...)
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessionhub-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBinary = filepath.Join(dir, "sessionhub")
	build := exec.Command("go", "build", "-o", serverBinary, ".")
	build.Dir = repoRoot
	// The binary the container image ships: static and cgo-free.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sessionhub:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running sessionhub process.
type server struct {
	URL    string
	cmd    *exec.Cmd
	stderr *logBuffer

	stopOnce sync.Once
	exitErr  error
}

// stop sends SIGTERM and waits for the process; it returns the exit error
// (nil for exit 0), or an error if it does not exit within 30 seconds.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case s.exitErr = <-done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			s.exitErr = fmt.Errorf("sessionhub did not stop within 30s of SIGTERM")
		}
	})
	return s.exitErr
}

// startServer runs the binary on a free port with the given database and
// extra environment, waits until it listens, and stops it with SIGTERM when
// the test ends, failing the test unless it exits 0.
func startServer(t *testing.T, databaseURL string, env ...string) *server {
	t.Helper()
	return startBinary(t, serverBinary, databaseURL, env...)
}

// startBinary is startServer for another sessionhub binary.
func startBinary(t *testing.T, binary, databaseURL string, env ...string) *server {
	t.Helper()
	cmd := exec.Command(binary)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PORT=0", "DATABASE_URL="+databaseURL)
	cmd.Env = append(cmd.Env, env...)
	dieWithTest(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &logBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if url, ok := strings.CutPrefix(scanner.Text(), "sessionhub listening on "); ok {
				lines <- url
			}
		}
		close(lines)
	}()
	srv := &server{cmd: cmd, stderr: stderr}
	select {
	case url, ok := <-lines:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("sessionhub exited before listening: %s", stderr.String())
		}
		srv.URL = url
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("sessionhub did not start: %s", stderr.String())
	}
	t.Cleanup(func() {
		if err := srv.stop(); err != nil {
			t.Errorf("sessionhub exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	})
	return srv
}

// logBuffer collects a process's output while a test reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (s *server) do(t *testing.T, method, path, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (s *server) postJSON(t *testing.T, path string, body any) response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, http.MethodPost, path, "application/json", string(b))
}

// graphql runs one operation and decodes its response into out.
func (s *server) graphql(t *testing.T, query string, vars map[string]any, out any) {
	t.Helper()
	res := s.postJSON(t, "/query", map[string]any{"query": query, "variables": vars})
	if res.Status != http.StatusOK {
		t.Fatalf("graphql status %d: %s", res.Status, res.Body)
	}
	if err := json.Unmarshal(res.Body, out); err != nil {
		t.Fatalf("graphql response %s: %v", res.Body, err)
	}
}

// createAgent registers an agent over GraphQL and returns its id.
func (s *server) createAgent(t *testing.T) string {
	t.Helper()
	var out struct {
		Data struct{ CreateAgent struct{ ID string } }
	}
	s.graphql(t, `mutation { createAgent(input: {name: "Eliza"}) { id } }`, nil, &out)
	if out.Data.CreateAgent.ID == "" {
		t.Fatal("createAgent returned no id")
	}
	return out.Data.CreateAgent.ID
}

// createSession opens a session over REST and returns its id.
func (s *server) createSession(t *testing.T, agentID, userID string) string {
	t.Helper()
	res := s.postJSON(t, "/api/messaging/sessions", map[string]any{"agentId": agentID, "userId": userID})
	if res.Status != http.StatusCreated {
		t.Fatalf("create session: %d %s", res.Status, res.Body)
	}
	var out struct{ SessionID string }
	if err := json.Unmarshal(res.Body, &out); err != nil {
		t.Fatal(err)
	}
	return out.SessionID
}

// objectKeys returns the keys of a JSON object in document order.
func objectKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// openDatabase opens the store a running server uses, for checks and fixtures.
func openDatabase(t *testing.T, databaseURL string) *store.Store {
	t.Helper()
	return testutil.OpenStoreAt(t, databaseURL)
}

// npmProject returns the absolute path of the npm project at dir, installing
// its dependencies from package-lock.json (npm ci) unless every path in
// installed (relative to dir) exists already. Without node and npm the test
// skips, naming what it skipped, or fails under CI=true.
func npmProject(t *testing.T, dir, what string, installed ...string) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("node and npm are required under CI=true")
			}
			t.Skipf("node/npm not installed; skipping %s", what)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range installed {
		if _, err := os.Stat(filepath.Join(abs, path)); err != nil {
			start := time.Now()
			install := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund")
			install.Dir = abs
			if out, err := install.CombinedOutput(); err != nil {
				t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
			}
			t.Logf("npm ci in %s: %v", dir, time.Since(start).Round(time.Millisecond))
			break
		}
	}
	return abs
}
