package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/internal/webhook"
	"sessionhub/models"
)

// buildExample builds one of the Go examples into a temporary directory.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	build := exec.Command("go", "build", "-o", bin, "./examples/"+name)
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build examples/%s: %v\n%s", name, err, out)
	}
	return bin
}

// exampleProcess is a running example whose stdout lines are collected.
type exampleProcess struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func startExample(t *testing.T, bin string, env ...string) *exampleProcess {
	t.Helper()
	p := &exampleProcess{cmd: exec.Command(bin), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	p.cmd.Stderr = &stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, scanner.Text())
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(bin), stderr.String())
		}
	})
	return p
}

// kill ends the process at once (SIGKILL: no chance to tidy up).
func (p *exampleProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
	_ = p.cmd.Wait()
}

func (p *exampleProcess) waitLine(t *testing.T, prefix string) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		p.mu.Lock()
		for _, l := range p.lines {
			if strings.HasPrefix(l, prefix) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no line %q", prefix)
		}
	}
}

// agentReplies counts, per user message, the agent messages answering it.
func agentReplies(t *testing.T, srv *server, sessionID string) (users, replies map[string]int) {
	t.Helper()
	var out struct {
		Data struct {
			Session struct {
				Messages struct {
					Nodes []struct {
						Content string
						IsAgent bool
					}
				}
			}
		}
	}
	srv.graphql(t, `query($id: ID!) { session(id: $id) { messages(first: 100) { nodes { content isAgent } } } }`,
		map[string]any{"id": sessionID}, &out)
	users, replies = map[string]int{}, map[string]int{}
	for _, m := range out.Data.Session.Messages.Nodes {
		if m.IsAgent {
			replies[strings.TrimPrefix(m.Content, "You said: ")]++
		} else {
			users[m.Content]++
		}
	}
	return users, replies
}

// TestAgentWorkerExample runs examples/agent-worker against the real
// server: it answers every user message; killed, then restarted with the
// cursor it saved, it answers the messages sent while it was down, each
// exactly once; on both databases. On PostgreSQL the users talk to a second
// replica: the feed crosses replicas.
func TestAgentWorkerExample(t *testing.T) {
	worker := buildExample(t, "agent-worker")
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			dbURL := testutil.DatabaseURL(t, dialect)
			srv := startServer(t, dbURL, "RATE_LIMIT_PER_MINUTE=0")
			users := srv // where sessions are opened and users send
			if dialect == store.Postgres {
				users = startServer(t, dbURL, "RATE_LIMIT_PER_MINUTE=0")
			}
			agentID := srv.createAgent(t)
			// The feed's very beginning, so that nothing the test does races
			// the worker's subscription.
			cursorFile := filepath.Join(t.TempDir(), "cursor")
			if err := os.WriteFile(cursorFile, []byte(models.FeedPosition{}.Cursor()), 0o600); err != nil {
				t.Fatal(err)
			}
			env := []string{"SESSIONHUB_URL=" + srv.URL, "AGENT_ID=" + agentID, "CURSOR_FILE=" + cursorFile}
			w := startExample(t, worker, env...)
			w.waitLine(t, "following agent")
			sessionID := users.createSession(t, agentID, uuid.NewString())
			sendUserMessage(t, users, sessionID, "first")
			w.waitLine(t, "replied to")
			waitFor(t, "the first reply", func() bool { _, r := agentReplies(t, srv, sessionID); return r["first"] == 1 })

			w.kill()
			for _, c := range []string{"second", "third"} {
				sendUserMessage(t, users, sessionID, c)
			}
			other := users.createSession(t, agentID, uuid.NewString())
			sendUserMessage(t, users, other, "fourth")
			w = startExample(t, worker, env...)
			w.waitLine(t, "following agent")
			waitFor(t, "every reply", func() bool {
				_, a := agentReplies(t, srv, sessionID)
				_, b := agentReplies(t, srv, other)
				return a["second"] == 1 && a["third"] == 1 && b["fourth"] == 1
			})
			sent, replies := agentReplies(t, srv, sessionID)
			for c := range sent {
				if replies[c] != 1 {
					t.Errorf("%q answered %d times", c, replies[c])
				}
			}
		})
	}
}

// TestWebhookVerifyExample runs examples/webhook-verify as the receiver of
// a real server's webhook: it accepts the signed deliveries and refuses a
// body whose signature does not match.
func TestWebhookVerifyExample(t *testing.T) {
	receiver := buildExample(t, "webhook-verify")
	rc := startExample(t, receiver, "WEBHOOK_SECRET="+e2eHookSecret, "ADDR=127.0.0.1:0")
	addr := strings.TrimPrefix(rc.waitLine(t, "listening on "), "listening on ")
	url := "http://" + addr + "/webhook"

	srv := startServer(t, testutil.DatabaseURL(t, "sqlite"), "RATE_LIMIT_PER_MINUTE=0", "WEBHOOK_ALLOW_PRIVATE=true", "WEBHOOK_DISPATCH_INTERVAL_MS=20")
	agentID := hookedAgent(t, srv, url)
	sessionID := srv.createSession(t, agentID, uuid.NewString())
	sendUserMessage(t, srv, sessionID, "signed")
	line := rc.waitLine(t, "verified ")
	if !strings.HasSuffix(line, " message.added") {
		t.Errorf("receiver printed %q", line)
	}

	// A forged body (signed with another secret) is refused.
	body, _ := json.Marshal(map[string]any{"id": "forged", "type": "message.added"})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign("not-the-secret-at-all", time.Now(), body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("forged delivery answered %d, want 400", res.StatusCode)
	}
}
