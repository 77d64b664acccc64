package graph_test

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

const sessionEventsSubscription = `subscription($id: ID!) {
	sessionEvents(sessionId: $id) {
		__typename sessionId occurredAt
		... on MessageAddedEvent { message { id content isAgent } }
		... on SessionRenewedEvent { sessionStatus { renewalCount wasRenewed expiresAt } }
		... on SessionNearExpirationEvent { expiresAt }
		... on SessionExpiredEvent { expiresAt }
	}
}`

type eventData struct {
	SessionEvents struct {
		Typename   string `json:"__typename"`
		SessionID  string
		OccurredAt string
		Message    *struct {
			ID, Content string
			IsAgent     bool
		}
		SessionStatus *struct {
			RenewalCount int
			WasRenewed   bool
			ExpiresAt    string
		}
		ExpiresAt string
	}
}

func (env *lifecycleEnv) subscribe(sessionID string) *client.Subscription {
	env.t.Helper()
	sub := env.client.Websocket(sessionEventsSubscription, client.Var("id", sessionID))
	env.t.Cleanup(func() { _ = sub.Close() })
	// gqlgen's client sends "start" without waiting for the server to start
	// the subscription; wait until the broker counts it (it then hears every
	// message committed) before publishing.
	deadline := time.Now().Add(5 * time.Second)
	for env.svc.Subscribers() == 0 {
		if time.Now().After(deadline) {
			env.t.Fatal("subscription never registered")
		}
		time.Sleep(time.Millisecond)
	}
	return sub
}

func next(t *testing.T, sub *client.Subscription) eventData {
	t.Helper()
	return receive[eventData](t, sub, 5*time.Second)
}

// receive waits up to timeout for a subscription's next payload.
func receive[T any](t *testing.T, sub *client.Subscription, timeout time.Duration) T {
	t.Helper()
	var ev T
	done := make(chan error, 1)
	go func() { done <- sub.Next(&ev) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("next event: %v", err)
		}
	case <-time.After(timeout):
		t.Fatalf("no event within %s", timeout)
	}
	return ev
}

// TestSessionEventsInProcess follows one session through its whole life with
// a fake clock: messages, renewal, the near-expiration warning (once),
// expiry (once), then deletion, after which the subscription ends.
func TestSessionEventsInProcess(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) { testSessionEvents(t, dialect) })
	}
}

func testSessionEvents(t *testing.T, dialect store.Dialect) {
	env := newLifecycleEnv(t, dialect)
	ctx := context.Background()
	id := env.session(models.TimeoutOverrides{TimeoutMinutes: ptr(10), WarningThresholdMinutes: ptr(2)})
	sub := env.subscribe(id)

	env.send(id, "hello")
	if ev := next(t, sub).SessionEvents; ev.Typename != "MessageAddedEvent" || ev.Message.Content != "hello" || ev.SessionID != id {
		t.Fatalf("first event %+v, want the message", ev)
	}
	if ev := next(t, sub).SessionEvents; ev.Typename != "SessionRenewedEvent" || ev.SessionStatus.RenewalCount != 1 || !ev.SessionStatus.WasRenewed {
		t.Fatalf("second event %+v, want the renewal", ev)
	}
	if _, err := env.svc.SendAgentMessage(ctx, id, models.MessageInput{Content: "hi, human"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, sub).SessionEvents; ev.Typename != "MessageAddedEvent" || !ev.Message.IsAgent {
		t.Fatalf("agent message event %+v", ev)
	}

	env.clock.Advance(8*time.Minute + time.Second) // 1m59s left: inside the 2-minute window
	for range 2 {                                  // announced once, however often the watcher runs
		if _, err := env.svc.AnnounceLifetimes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	near := next(t, sub).SessionEvents
	if near.Typename != "SessionNearExpirationEvent" || near.ExpiresAt == "" {
		t.Fatalf("event %+v, want the near-expiration warning", near)
	}

	env.clock.Advance(2 * time.Minute) // expired
	for range 2 {
		if _, err := env.svc.AnnounceLifetimes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if ev := next(t, sub).SessionEvents; ev.Typename != "SessionExpiredEvent" || ev.ExpiresAt != near.ExpiresAt {
		t.Fatalf("event %+v, want expiry at %s", ev, near.ExpiresAt)
	}

	if err := env.svc.DeleteSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, sub).SessionEvents; ev.Typename != "SessionDeletedEvent" {
		t.Fatalf("event %+v, want the deletion", ev)
	}
	var after eventData
	if err := sub.Next(&after); err == nil {
		t.Errorf("subscription continued after deletion: %+v", after)
	}
}

func TestRenewalRearmsTheWarning(t *testing.T) {
	env := newLifecycleEnv(t, store.SQLite)
	ctx := context.Background()
	id := env.session(models.TimeoutOverrides{TimeoutMinutes: ptr(10), WarningThresholdMinutes: ptr(2)})
	sub := env.subscribe(id)
	warnings := 0
	for range 2 {
		env.clock.Advance(9 * time.Minute)
		if _, err := env.svc.AnnounceLifetimes(ctx); err != nil {
			t.Fatal(err)
		}
		if ev := next(t, sub).SessionEvents; ev.Typename == "SessionNearExpirationEvent" {
			warnings++
		}
		if _, err := env.svc.Heartbeat(ctx, id); err != nil { // renews: a new crossing to come
			t.Fatal(err)
		}
		if ev := next(t, sub).SessionEvents; ev.Typename != "SessionRenewedEvent" {
			t.Fatalf("event %+v, want the renewal", ev)
		}
	}
	if warnings != 2 {
		t.Errorf("%d warnings for two crossings, want 2", warnings)
	}
}

func TestSubscribeToUnknownSession(t *testing.T) {
	env := newLifecycleEnv(t, store.SQLite)
	sub := env.client.Websocket(sessionEventsSubscription, client.Var("id", "4b7d3a10-0000-4000-8000-000000000000"))
	defer sub.Close()
	var ev json.RawMessage
	err := sub.Next(&ev)
	if err == nil || !contains(err.Error(), "SESSION_NOT_FOUND") && !contains(err.Error(), "Session not found") {
		t.Errorf("got %v %s, want SESSION_NOT_FOUND", err, ev)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestSubscriptionsDoNotLeak opens and closes many subscriptions and checks
// that no subscriber and no goroutine is left behind.
func TestSubscriptionsDoNotLeak(t *testing.T) {
	env := newLifecycleEnv(t, store.SQLite)
	id := env.session(models.TimeoutOverrides{})
	settle := func() int {
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	before := settle()
	for range 200 {
		sub := env.subscribe(id)
		env.send(id, "ping")
		if ev := next(t, sub).SessionEvents; ev.Typename != "MessageAddedEvent" {
			t.Fatalf("event %+v", ev)
		}
		_ = sub.Close()
		closing := time.Now()
		for env.svc.Subscribers() > 0 { // the server notices the close asynchronously
			if time.Since(closing) > 5*time.Second {
				t.Fatal("a closed subscription stayed registered")
			}
			time.Sleep(time.Millisecond)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for env.svc.Subscribers() > 0 || settle() > before+5 {
		if time.Now().After(deadline) {
			t.Fatalf("after 200 subscribe/unsubscribe cycles: %d subscribers, %d goroutines (was %d)",
				env.svc.Subscribers(), runtime.NumGoroutine(), before)
		}
	}
}
