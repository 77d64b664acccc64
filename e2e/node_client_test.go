package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// TestNodeGraphQLWSClient runs examples/subscribe-node — the graphql-ws npm
// client that browsers and Node apps use — against the real server.
func TestNodeGraphQLWSClient(t *testing.T) {
	dir := npmProject(t, repoPath("examples", "subscribe-node"), "the graphql-ws client example",
		filepath.Join("node_modules", "graphql-ws"))

	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite))
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "subscribe.mjs", "ws"+strings.TrimPrefix(srv.URL, "http")+"/query", sessionID)
	node.Dir = dir
	node.Stderr = os.Stderr
	stdout, err := node.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
	}()

	send := func(content string) {
		srv.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": content})
	}
	// The client subscribes asynchronously: probe until it hears something.
	var first string
	for attempt := 0; first == ""; attempt++ {
		send("probe")
		select {
		case first = <-lines:
		case <-time.After(300 * time.Millisecond):
			if attempt > 60 {
				t.Fatal("the graphql-ws client never received an event")
			}
		}
	}
	send("hello from go")
	send("done")
	var kinds []string
	sawHello := false
	for line := range lines {
		var e struct {
			Typename string `json:"__typename"`
			Message  *struct{ Content string }
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("client printed %q: %v", line, err)
		}
		kinds = append(kinds, e.Typename)
		if e.Message != nil && e.Message.Content == "hello from go" {
			sawHello = true
		}
	}
	if err := node.Wait(); err != nil {
		t.Fatalf("client exited with %v", err)
	}
	if !sawHello {
		t.Errorf("the graphql-ws client did not receive the message; it saw %v", kinds)
	}
}
