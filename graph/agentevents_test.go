package graph_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/google/uuid"

	"sessionhub/graph"
	"sessionhub/internal/chat"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

const agentEventsSubscription = `subscription($agent: ID!, $after: String) {
	agentEvents(agentId: $agent, after: $after) {
		cursor
		event {
			__typename sessionId occurredAt
			session { id }
			... on MessageAddedEvent { message { id content isAgent } }
			... on SessionRenewedEvent { sessionStatus { renewalCount wasRenewed } }
			... on SessionExpiredEvent { expiresAt }
		}
	}
}`

type agentEventData struct {
	AgentEvents struct {
		Cursor string
		Event  struct {
			Typename   string `json:"__typename"`
			SessionID  string
			OccurredAt string
			ExpiresAt  string
			Session    struct{ ID string }
			Message    *struct {
				ID, Content string
				IsAgent     bool
			}
			SessionStatus *struct {
				RenewalCount int
				WasRenewed   bool
			}
		}
	}
}

// followAgent subscribes to env's agent feed and waits until it follows.
func (env *lifecycleEnv) followAgent(c *client.Client, after string) *client.Subscription {
	env.t.Helper()
	before := env.svc.AgentFollowers()
	vars := []client.Option{client.Var("agent", env.agentID)}
	if after != "" {
		vars = append(vars, client.Var("after", after))
	}
	sub := c.Websocket(agentEventsSubscription, vars...)
	env.t.Cleanup(func() { _ = sub.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for env.svc.AgentFollowers() <= before {
		if time.Now().After(deadline) {
			env.t.Fatal("agent feed never followed")
		}
		time.Sleep(time.Millisecond)
	}
	return sub
}

func nextAgentEvent(t *testing.T, sub *client.Subscription) agentEventData {
	t.Helper()
	return receive[agentEventData](t, sub, 20*time.Second)
}

// expectKinds reads len(kinds) events and checks their types in order.
func expectKinds(t *testing.T, sub *client.Subscription, kinds ...string) []agentEventData {
	t.Helper()
	var got []agentEventData
	for _, k := range kinds {
		ev := nextAgentEvent(t, sub)
		if ev.AgentEvents.Event.Typename != k {
			t.Fatalf("event %d is %s, want %s (%+v)", len(got), ev.AgentEvents.Event.Typename, k, ev)
		}
		got = append(got, ev)
	}
	return got
}

// TestAgentEventsFeed follows an agent's feed through a session's life, then
// "kills" the worker and resumes it with its last cursor: it receives every
// event it had not seen, in order, on both databases.
func TestAgentEventsFeed(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			env := newLifecycleEnv(t, dialect)
			ctx := context.Background()
			sub := env.followAgent(env.client, "")
			sid := env.session(models.TimeoutOverrides{TimeoutMinutes: ptr(10), WarningThresholdMinutes: ptr(2)})
			env.send(sid, "hello")
			if _, err := env.svc.SendAgentMessage(ctx, sid, models.MessageInput{Content: "hi there"}); err != nil {
				t.Fatal(err)
			}
			got := expectKinds(t, sub, "SessionCreatedEvent", "MessageAddedEvent", "SessionRenewedEvent", "MessageAddedEvent")
			if got[0].AgentEvents.Event.Session.ID != sid || got[1].AgentEvents.Event.Message.Content != "hello" ||
				!got[3].AgentEvents.Event.Message.IsAgent || !got[2].AgentEvents.Event.SessionStatus.WasRenewed {
				t.Fatalf("events %+v", got)
			}
			// The worker dies right after the user's message (before its renewal).
			cursor := got[1].AgentEvents.Cursor
			_ = sub.Close()
			for deadline := time.Now().Add(20 * time.Second); env.svc.AgentFollowers() > 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the closed feed still follows")
				}
			}

			env.send(sid, "are you there?")
			env.clock.Advance(9 * time.Minute) // inside the warning window
			if _, err := env.svc.AnnounceLifetimes(ctx); err != nil {
				t.Fatal(err)
			}
			env.clock.Advance(2 * time.Minute) // expired
			if _, err := env.svc.AnnounceLifetimes(ctx); err != nil {
				t.Fatal(err)
			}
			other := env.session(models.TimeoutOverrides{})

			resumed := env.followAgent(env.client, cursor)
			got = expectKinds(t, resumed, "SessionRenewedEvent", "MessageAddedEvent", "MessageAddedEvent", "SessionRenewedEvent",
				"SessionNearExpirationEvent", "SessionExpiredEvent", "SessionCreatedEvent")
			if got[2].AgentEvents.Event.Message.Content != "are you there?" || got[6].AgentEvents.Event.SessionID != other {
				t.Fatalf("resumed events %+v", got)
			}
			if err := env.svc.DeleteSession(ctx, sid); err != nil {
				t.Fatal(err)
			}
			deleted := expectKinds(t, resumed, "SessionDeletedEvent")[0]
			if deleted.AgentEvents.Event.Session.ID != sid {
				t.Fatalf("deleted event %+v", deleted)
			}
		})
	}
}

// TestAgentEventsAccess: the agent itself and admins may follow its feed;
// users and other agents are FORBIDDEN; unknown agents and bad cursors are refused.
func TestAgentEventsAccess(t *testing.T) {
	env := newLifecycleEnv(t, store.SQLite)
	agentID := uuid.MustParse(env.agentID)
	refused := func(p models.Principal, agent, after, code string) {
		t.Helper()
		h := graph.NewHandler(env.svc, graph.Options{Logger: testutil.Logger()})
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(models.WithPrincipal(r.Context(), p)))
		}))
		defer ts.Close()
		vars := map[string]any{"agent": agent}
		if after != "" {
			vars["after"] = after
		}
		sub := openSSE(t, ts.URL, agentEventsSubscription, vars, "text/event-stream")
		if ev, ok := sub.next(); !ok || !contains(ev.data, `"code":"`+code+`"`) {
			t.Errorf("agent %s as %s: got %+v, want %s", agent, p.Role, ev, code)
		}
	}
	admin := models.Principal{Role: models.RoleAdmin, Scope: "admin"}
	refused(models.Principal{Role: models.RoleUser, ID: uuid.New(), Scope: "u"}, env.agentID, "", "FORBIDDEN")
	refused(models.Principal{Role: models.RoleAgent, ID: uuid.New(), Scope: "a"}, env.agentID, "", "FORBIDDEN")
	refused(admin, uuid.NewString(), "", "AGENT_NOT_FOUND")
	refused(admin, env.agentID, "nonsense", "VALIDATION_ERROR")

	sub := env.followAgent(env.as(models.Principal{Role: models.RoleAgent, ID: agentID, Scope: "agent"}), "")
	sid := env.session(models.TimeoutOverrides{})
	if ev := expectKinds(t, sub, "SessionCreatedEvent")[0]; ev.AgentEvents.Event.SessionID != sid {
		t.Fatalf("event %+v", ev)
	}
}

// TestAgentEventsOverSSE: the feed is served over Server-Sent Events too.
func TestAgentEventsOverSSE(t *testing.T) {
	env := newHubEnv(t, store.SQLite, graph.Options{})
	ts := httptest.NewServer(env.handler)
	t.Cleanup(ts.Close)
	agent, err := env.svc.CreateAgent(context.Background(), chat.CreateAgentInput{Name: "Feed"})
	if err != nil {
		t.Fatal(err)
	}
	sub := openSSE(t, ts.URL, agentEventsSubscription, map[string]any{"agent": agent.ID.String()}, "text/event-stream")
	deadline := time.Now().Add(10 * time.Second)
	for env.svc.AgentFollowers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("agent feed never followed")
		}
		time.Sleep(time.Millisecond)
	}
	s, err := env.svc.CreateSession(context.Background(), chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
	if err != nil {
		t.Fatal(err)
	}
	ev, ok := sub.next()
	if !ok || ev.name != "next" || !contains(ev.data, "SessionCreatedEvent") || !contains(ev.data, s.ID.String()) {
		t.Fatalf("event %+v", ev)
	}
}

// TestAgentEventsCursorExpired: once the retention sweep removed the events
// after a cursor, resuming from it is refused with FEED_CURSOR_EXPIRED
// (details: cursor, horizon) instead of silently skipping them; resuming
// from details.horizon delivers what is kept; on both databases.
func TestAgentEventsCursorExpired(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			env := newLifecycleEnv(t, dialect)
			ctx := context.Background()
			sub := env.followAgent(env.client, "")
			sid := env.session(models.TimeoutOverrides{})
			env.send(sid, "hello")
			got := expectKinds(t, sub, "SessionCreatedEvent", "MessageAddedEvent", "SessionRenewedEvent")
			_ = sub.Close()

			const retention = 7 * 24 * time.Hour
			env.clock.Advance(retention + time.Hour)
			kept := env.session(models.TimeoutOverrides{})
			if n, err := env.svc.SweepAgentFeed(ctx, retention); n != 2 || err != nil { // the creation's row and the message's
				t.Fatalf("sweep removed %d (%v), want 2", n, err)
			}

			stale := got[1].AgentEvents.Cursor // between the message and its renewal: the renewal is gone too
			refused := env.client.Websocket(agentEventsSubscription, client.Var("agent", env.agentID), client.Var("after", stale))
			defer func() { _ = refused.Close() }()
			var ev json.RawMessage
			err := refused.Next(&ev)
			var errs []struct {
				Message    string
				Extensions struct {
					Code    string
					Details map[string]string
				}
			}
			if err == nil || json.Unmarshal([]byte(err.Error()), &errs) != nil || len(errs) != 1 {
				t.Fatalf("resuming from an expired cursor: %v %s, want one error", err, ev)
			}
			e := errs[0]
			if e.Extensions.Code != "FEED_CURSOR_EXPIRED" || e.Extensions.Details["cursor"] != stale || e.Extensions.Details["horizon"] == "" {
				t.Fatalf("error %+v, want FEED_CURSOR_EXPIRED with details cursor and horizon", e)
			}
			hubCheckClean(t, e.Message)

			resumed := env.followAgent(env.client, e.Extensions.Details["horizon"])
			if ev := expectKinds(t, resumed, "SessionCreatedEvent")[0]; ev.AgentEvents.Event.SessionID != kept {
				t.Fatalf("first event after the horizon %+v, want session %s created", ev, kept)
			}
		})
	}
}
