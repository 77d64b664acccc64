package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/internal/webhook"
)

const e2eHookSecret = "e2e-webhook-secret-0123"

// hookReceiver records what a webhook endpoint acknowledged.
type hookReceiver struct {
	t        *testing.T
	up       atomic.Bool
	mu       sync.Mutex
	attempts map[string]int    // delivery id → requests
	acked    map[string]string // delivery id → message content (message.added)
	badSigs  int
}

func newHookReceiver(t *testing.T) (*hookReceiver, string) {
	rc := &hookReceiver{t: t, attempts: map[string]int{}, acked: map[string]string{}}
	rc.up.Store(true)
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL + "/hooks/agent"
}

func (rc *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	id := r.Header.Get(webhook.HeaderDelivery)
	rc.attempts[id]++
	if webhook.Verify(e2eHookSecret, r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute) != nil {
		rc.badSigs++
	}
	if !rc.up.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var env struct {
		Type string
		Data struct{ Message struct{ Content string } }
	}
	_ = json.Unmarshal(body, &env)
	if env.Type == "message.added" {
		rc.acked[id] = env.Data.Message.Content
	}
}

func (rc *hookReceiver) ackedContents() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]int{}
	for _, c := range rc.acked {
		out[c]++
	}
	return out
}

// hookedAgent registers an agent whose webhook delivers message.added to url.
func hookedAgent(t *testing.T, srv *server, url string) string {
	t.Helper()
	var out struct {
		Data   struct{ CreateAgent struct{ ID string } }
		Errors []any
	}
	srv.graphql(t, `mutation($url: String!, $secret: String!) {
		createAgent(input: {name: "Hooked", webhook: {url: $url, secret: $secret, events: [MESSAGE_ADDED]}}) { id }
	}`, map[string]any{"url": url, "secret": e2eHookSecret}, &out)
	if out.Data.CreateAgent.ID == "" {
		t.Fatalf("createAgent with a webhook: %+v", out.Errors)
	}
	return out.Data.CreateAgent.ID
}

// sendUserMessage sends over REST and fails the test unless it was acknowledged (201).
func sendUserMessage(t *testing.T, srv *server, sessionID, content string) {
	t.Helper()
	res := srv.postJSON(t, "/api/messaging/sessions/"+sessionID+"/messages", map[string]any{"content": content})
	if res.Status != http.StatusCreated {
		t.Fatalf("send: %d %s", res.Status, res.Body)
	}
}

func waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !done(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never %s", what)
		}
	}
}

// TestWebhooksAcrossReplicas: three replicas share a PostgreSQL database and
// all dispatch webhooks; every acknowledged user message is delivered, and
// each delivery exactly once (the receiver never fails, so no retries).
func TestWebhooksAcrossReplicas(t *testing.T) {
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	env := []string{"RATE_LIMIT_PER_MINUTE=0", "WEBHOOK_ALLOW_PRIVATE=true", "WEBHOOK_DISPATCH_INTERVAL_MS=20"}
	replicas := []*server{startServer(t, dbURL, env...), startServer(t, dbURL, env...), startServer(t, dbURL, env...)}
	rc, url := newHookReceiver(t)
	agentID := hookedAgent(t, replicas[0], url)
	const sessions, perSession = 6, 5
	var wg sync.WaitGroup
	for i := range sessions {
		srv := replicas[i%len(replicas)]
		sessionID := srv.createSession(t, agentID, uuid.NewString())
		wg.Go(func() {
			for j := range perSession {
				sendUserMessage(t, replicas[(i+j)%len(replicas)], sessionID, sessionID+"/"+string(rune('a'+j)))
			}
		})
	}
	wg.Wait()
	waitFor(t, "delivered every message", func() bool { return len(rc.ackedContents()) == sessions*perSession })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for id, n := range rc.attempts {
		if n != 1 {
			t.Errorf("delivery %s POSTed %d times", id, n)
		}
	}
	if len(rc.attempts) != sessions*perSession || rc.badSigs != 0 {
		t.Errorf("%d deliveries, %d bad signatures", len(rc.attempts), rc.badSigs)
	}
}

// TestWebhooksThroughAnOutage: the receiver is down for a while and the
// server restarts meanwhile; once the receiver is back, every acknowledged
// message is delivered, repeats only as retries of the same delivery id;
// on both databases.
func TestWebhooksThroughAnOutage(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			dbURL := testutil.DatabaseURL(t, dialect)
			env := []string{"RATE_LIMIT_PER_MINUTE=0", "WEBHOOK_ALLOW_PRIVATE=true", "WEBHOOK_DISPATCH_INTERVAL_MS=20"}
			srv := startServer(t, dbURL, env...)
			rc, url := newHookReceiver(t)
			rc.up.Store(false)
			agentID := hookedAgent(t, srv, url)
			sessionID := srv.createSession(t, agentID, uuid.NewString())
			sent := []string{"one", "two", "three"}
			for _, c := range sent[:2] {
				sendUserMessage(t, srv, sessionID, c)
			}
			waitFor(t, "attempted while down", func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.attempts) > 0 })
			if err := srv.stop(); err != nil {
				t.Fatal(err)
			}
			srv = startServer(t, dbURL, env...)
			sendUserMessage(t, srv, sessionID, sent[2])
			rc.up.Store(true)
			waitFor(t, "delivered every message", func() bool { return len(rc.ackedContents()) == len(sent) })
			for _, c := range sent {
				if n := rc.ackedContents()[c]; n != 1 {
					t.Errorf("%q acknowledged under %d delivery ids", c, n)
				}
			}
		})
	}
}
