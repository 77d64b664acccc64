package chat_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sessionhub/internal/chat"
	"sessionhub/internal/testutil"
	"sessionhub/internal/webhook"
	"sessionhub/models"
)

const hookSecret = "whsec-test-0123456789"

// receiver is a webhook endpoint that answers 503 while down, and records
// every request it acknowledged.
type receiver struct {
	t    *testing.T
	up   atomic.Bool
	mu   sync.Mutex
	hits int
	acks []received // acknowledged, in order
	bad  []string   // signatures that did not verify
}

type received struct {
	id, typ string
	body    string
	content string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hits++
	if err := webhook.Verify(hookSecret, r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		rc.bad = append(rc.bad, err.Error())
	}
	if !rc.up.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var env struct {
		ID   string
		Type string
		Data struct {
			Message *struct{ Content string }
		}
	}
	if err := json.Unmarshal(body, &env); err != nil || env.ID != r.Header.Get(webhook.HeaderDelivery) {
		rc.t.Errorf("body %s (%v) does not name delivery %s", body, err, r.Header.Get(webhook.HeaderDelivery))
	}
	got := received{id: env.ID, typ: env.Type, body: string(body)}
	if env.Data.Message != nil {
		got.content = env.Data.Message.Content
	}
	rc.acks = append(rc.acks, got)
}

func (rc *receiver) snapshot() (int, []received) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.hits, append([]received(nil), rc.acks...)
}

// TestWebhooksSurviveADownReceiver: a receiver that is down for a while,
// then back, gets every acknowledged user message, in order, each under one
// delivery id (a repeat is only ever a retry with the same id and body),
// every body signed; on both databases.
func TestWebhooksSurviveADownReceiver(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			rc := &receiver{t: t}
			srv := httptest.NewServer(rc)
			t.Cleanup(srv.Close)
			svc := chat.New(testutil.OpenStore(t, dialect), models.SystemClock{}, models.DefaultSessionPolicy(),
				chat.WithWebhooks(chat.WebhookOptions{Sender: webhook.NewClient(true), FirstRetry: 20 * time.Millisecond,
					CheckURL: func(u string) error { return webhook.CheckURL(u, true) }}))
			agent, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "hooked", Webhook: &chat.WebhookInput{
				URL: srv.URL + "/hook", Secret: hookSecret,
				Events: []models.WebhookEventType{models.WebhookSessionCreated, models.WebhookMessageAdded}}})
			if err != nil {
				t.Fatal(err)
			}
			session, err := svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
			if err != nil {
				t.Fatal(err)
			}
			var sent []string
			for _, content := range []string{"one", "two", "three", "four", "five"} {
				if _, err := svc.SendMessage(ctx, session.ID.String(), models.MessageInput{Content: content}); err != nil {
					t.Fatal(err)
				}
				sent = append(sent, content)
			}
			dispatchUntil := func(what string, done func() bool) {
				t.Helper()
				for deadline := time.Now().Add(60 * time.Second); !done(); time.Sleep(5 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("never %s", what)
					}
					if _, err := svc.DispatchWebhooks(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			dispatchUntil("retried while down", func() bool { hits, _ := rc.snapshot(); return hits >= 3 })
			rc.up.Store(true)
			dispatchUntil("delivered everything", func() bool { _, acks := rc.snapshot(); return len(acks) >= 1+len(sent) })

			_, acks := rc.snapshot()
			if acks[0].typ != "session.created" {
				t.Errorf("first delivery %s, want session.created", acks[0].typ)
			}
			seen := map[string]string{}
			var contents []string
			for _, a := range acks {
				if body, dup := seen[a.id]; dup {
					if body != a.body {
						t.Errorf("delivery %s repeated with another body", a.id)
					}
					continue
				}
				seen[a.id] = a.body
				if a.typ == "message.added" {
					contents = append(contents, a.content)
				}
			}
			if len(contents) != len(sent) {
				t.Fatalf("delivered %v, want %v", contents, sent)
			}
			for i := range sent {
				if contents[i] != sent[i] {
					t.Fatalf("delivered %v, want %v in order", contents, sent)
				}
			}
			if len(rc.bad) > 0 {
				t.Errorf("signatures that did not verify: %v", rc.bad)
			}
			page, _, err := svc.WebhookDeliveries(ctx, agent.ID, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(page) != 1+len(sent) {
				t.Fatalf("%d deliveries listed", len(page))
			}
			retried := false
			for _, d := range page {
				if d.Status != models.DeliveryDelivered || d.DeliveredAt == nil {
					t.Errorf("delivery %+v not delivered", d)
				}
				retried = retried || d.Attempts > 1
			}
			if !retried {
				t.Error("no delivery shows a retry")
			}
		})
	}
}

// Private targets are refused when set, unless allowed.
func TestWebhookPrivateTargetRefused(t *testing.T) {
	svc := chat.New(testutil.OpenStore(t, "sqlite"), models.SystemClock{}, models.DefaultSessionPolicy(),
		chat.WithWebhooks(chat.WebhookOptions{Sender: webhook.NewClient(false), CheckURL: func(u string) error { return webhook.CheckURL(u, false) }}))
	for _, url := range []string{"http://127.0.0.1:9/x", "http://169.254.169.254/", "http://localhost/"} {
		_, err := svc.CreateAgent(context.Background(), chat.CreateAgentInput{Name: "a", Webhook: &chat.WebhookInput{URL: url, Secret: hookSecret}})
		wantCode(t, err, models.CodeValidation)
	}
	_, err := svc.CreateAgent(context.Background(), chat.CreateAgentInput{Name: "a", Webhook: &chat.WebhookInput{URL: "https://hooks.example.com/x", Secret: "short"}})
	wantCode(t, err, models.CodeValidation)
}
