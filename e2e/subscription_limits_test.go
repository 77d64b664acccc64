package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// refusal is the error message a refused subscription start receives.
type refusal struct {
	Message    string
	Extensions struct {
		Code    string
		Details map[string]any
	}
}

// subscribeOutcome starts subscription id on c and reports its refusal, or
// nil when the subscription is running (it delivers the MessageAddedEvent
// of a message sent to prove it).
func subscribeOutcome(t *testing.T, c *wsClient, id, sessionID string) *refusal {
	t.Helper()
	c.subscribe(t, id, eventsQuery, map[string]any{"id": sessionID})
	for {
		m, err := c.next(t, 2*time.Second)
		if err == errNoMessage {
			return nil // running: nothing to say until an event
		}
		if err != nil {
			t.Fatalf("subscription %s: connection ended: %v", id, err)
		}
		if m.ID != id && (m.Type == "complete" || m.Type == "next") {
			continue // another subscription's event or end
		}
		// A refused start is a result carrying the error (then complete),
		// or the protocol's error message.
		var errs []refusal
		switch {
		case m.ID == id && m.Type == "next":
			var result struct{ Errors []refusal }
			if err := json.Unmarshal(m.Payload, &result); err != nil {
				t.Fatalf("subscription %s: payload %s", id, m.Payload)
			}
			errs = result.Errors
			if end, err := c.next(t, 30*time.Second); err != nil || end.Type != "complete" || end.ID != id {
				t.Fatalf("subscription %s: after its error got %s %s (%v), want complete", id, end.Type, end.Payload, err)
			}
		case m.ID == id && m.Type == "error":
			if err := json.Unmarshal(m.Payload, &errs); err != nil {
				t.Fatalf("subscription %s: error payload %s", id, m.Payload)
			}
		default:
			t.Fatalf("subscription %s: got %s %s for %q, want nothing or its refusal", id, m.Type, m.Payload, m.ID)
		}
		if len(errs) != 1 {
			t.Fatalf("subscription %s: refused with %d errors, want 1", id, len(errs))
		}
		return &errs[0]
	}
}

// expectEvents reads until each listed subscription has delivered a
// MessageAddedEvent (other events, such as the renewal, may come between).
func expectEvents(t *testing.T, c *wsClient, ids ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for len(want) > 0 {
		m, err := c.next(t, 30*time.Second)
		if err != nil {
			t.Fatalf("waiting for events of %v: %v", want, err)
		}
		var e event
		if m.Type != "next" || json.Unmarshal(m.Payload, &e) != nil || len(e.Errors) > 0 {
			t.Fatalf("waiting for events of %v: got %s for %q: %s", want, m.Type, m.ID, m.Payload)
		}
		if e.Data.SessionEvents.Typename == "MessageAddedEvent" {
			delete(want, m.ID)
		}
	}
}

// TestSubscriptionCaps: one WebSocket connection holds at most
// SUBSCRIPTIONS_PER_CONNECTION subscriptions and one caller at most
// SUBSCRIPTIONS_PER_CALLER on the replica; one more is refused with
// RATE_LIMITED naming the cap, the running ones go on, and a place freed by
// completing a subscription can be taken again.
func TestSubscriptionCaps(t *testing.T) {
	t.Parallel() // mostly waiting out silences; runs beside the other waiting tests
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite),
		"RATE_LIMIT_PER_MINUTE=0", "SUBSCRIPTIONS_PER_CONNECTION=3", "SUBSCRIPTIONS_PER_CALLER=5")
	sessionID := srv.createSession(t, srv.createAgent(t), userID)

	first, err := dialWS(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		if r := subscribeOutcome(t, first, id, sessionID); r != nil {
			t.Fatalf("subscription %s within the caps refused: %+v", id, r)
		}
	}
	r := subscribeOutcome(t, first, "a4", sessionID)
	if r == nil || r.Extensions.Code != "RATE_LIMITED" || r.Extensions.Details["per"] != "connection" ||
		r.Extensions.Details["limit"] != float64(3) || !strings.Contains(r.Message, "at most 3 per connection") {
		t.Fatalf("4th subscription on one connection: %+v, want RATE_LIMITED per connection, limit 3", r)
	}

	// The same caller (anonymous: one address) on a second connection
	// reaches the per-caller cap at 5 in all.
	second, err := dialWS(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b1", "b2"} {
		if r := subscribeOutcome(t, second, id, sessionID); r != nil {
			t.Fatalf("subscription %s within the caller's cap refused: %+v", id, r)
		}
	}
	r = subscribeOutcome(t, second, "b3", sessionID)
	if r == nil || r.Extensions.Code != "RATE_LIMITED" || r.Extensions.Details["per"] != "caller" ||
		r.Extensions.Details["limit"] != float64(5) {
		t.Fatalf("6th subscription of one caller: %+v, want RATE_LIMITED per caller, limit 5", r)
	}

	// The refusals touched none of the running subscriptions.
	if status, _ := sendMessage(t, srv, sessionID, "to every running subscription"); status != http.StatusCreated {
		t.Fatalf("send: %d", status)
	}
	expectEvents(t, first, "a1", "a2", "a3")
	expectEvents(t, second, "b1", "b2")

	// Completing a subscription gives its place back.
	if err := wsjsonWrite(first.conn, wsMessage{ID: "a1", Type: "complete"}); err != nil {
		t.Fatal(err)
	}
	var retaken *refusal
	for attempt := range 50 { // the server releases the place when it has seen the complete
		if retaken = subscribeOutcome(t, second, fmt.Sprintf("b-again-%d", attempt), sessionID); retaken == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if retaken != nil {
		t.Fatalf("after a completed subscription its place is still taken: %+v", retaken)
	}
}

// TestSubscriptionStartsCountAgainstTheRateLimit: every subscription start
// over a WebSocket is one request of RATE_LIMIT_PER_MINUTE, so one
// connection cannot start (and stop) subscriptions at full speed.
func TestSubscriptionStartsCountAgainstTheRateLimit(t *testing.T) {
	t.Parallel() // mostly waiting out silences; runs beside the other waiting tests
	const perMinute = 10
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), fmt.Sprintf("RATE_LIMIT_PER_MINUTE=%d", perMinute))
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	c, err := dialWS(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each subscription is completed at once, so no cap is ever reached:
	// only the rate limit can refuse.
	for i := range 3 * perMinute {
		id := fmt.Sprintf("s%d", i)
		r := subscribeOutcome(t, c, id, sessionID)
		if r == nil {
			if err := wsjsonWrite(c.conn, wsMessage{ID: id, Type: "complete"}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if r.Extensions.Code != "RATE_LIMITED" || r.Extensions.Details["retryAfterSeconds"] == nil {
			t.Fatalf("start %d refused with %+v, want RATE_LIMITED with details.retryAfterSeconds", i, r)
		}
		if i > perMinute {
			t.Fatalf("refused only at start %d, beyond the %d requests a minute allows", i, perMinute)
		}
		return
	}
	t.Fatalf("%d subscription starts within a minute were all accepted with RATE_LIMIT_PER_MINUTE=%d", 3*perMinute, perMinute)
}
