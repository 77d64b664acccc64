package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
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

// as returns a client of env's server whose requests carry principal p (as
// the auth middleware would set it).
func (env *lifecycleEnv) as(p models.Principal) *client.Client {
	h := graph.NewHandler(env.svc, graph.Options{Logger: testutil.Logger()})
	return client.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(models.WithPrincipal(r.Context(), p)))
	}))
}

// countQueries runs op and returns how many SELECTs it cost.
func (env *lifecycleEnv) countQueries(op string, vars map[string]any) (int64, json.RawMessage) {
	env.t.Helper()
	var out json.RawMessage
	before := env.queries.Load()
	env.data(op, vars, &out)
	return env.queries.Load() - before, out
}

type nodeResult struct {
	Typename      string `json:"__typename"`
	ID            string
	Name          string
	UserID        string
	Content       string
	SessionStatus *struct {
		ExpiresAt    string
		RenewalCount int
		WasRenewed   bool
	}
}

const nodeFields = `__typename id
	... on Agent { name }
	... on Session { userId }
	... on Message { content sessionStatus { expiresAt renewalCount wasRenewed } }`

// TestNodeLookups: node and nodes find agents, sessions and messages by the
// UUIDs the REST shim uses, answer null for unknown or unreachable ids, keep
// the order asked, and look many ids up in a constant number of queries.
func TestNodeLookups(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			env := newLifecycleEnv(t, dialect)
			ctx := context.Background()
			session := env.session(models.TimeoutOverrides{})
			msgID := env.send(session, "hello")

			var one struct{ Node *nodeResult }
			for id, want := range map[string]string{env.agentID: "Agent", session: "Session", msgID: "Message"} {
				env.data(`query($id: ID!) { node(id: $id) { `+nodeFields+` } }`, map[string]any{"id": id}, &one)
				if one.Node == nil || one.Node.Typename != want || one.Node.ID != id {
					t.Errorf("node(%s) = %+v, want the %s", id, one.Node, want)
				}
			}
			env.data(`query($id: ID!) { node(id: $id) { `+nodeFields+` } }`, map[string]any{"id": msgID}, &one)
			if one.Node.Content != "hello" || one.Node.SessionStatus == nil || !one.Node.SessionStatus.WasRenewed || one.Node.SessionStatus.RenewalCount != 1 {
				t.Errorf("node(message) = %+v, want its content and the status its send produced", one.Node)
			}
			for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
				env.data(`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}, &one)
				if one.Node != nil {
					t.Errorf("node(%q) = %+v, want null", id, one.Node)
				}
			}

			var many struct{ Nodes []*nodeResult }
			ids := []string{msgID, uuid.NewString(), session, env.agentID, msgID}
			env.data(`query($ids: [ID!]!) { nodes(ids: $ids) { `+nodeFields+` } }`, map[string]any{"ids": ids}, &many)
			if len(many.Nodes) != len(ids) || many.Nodes[1] != nil {
				t.Fatalf("nodes = %+v, want %d entries with null for the unknown id", many.Nodes, len(ids))
			}
			for i, id := range ids {
				if i != 1 && (many.Nodes[i] == nil || many.Nodes[i].ID != id) {
					t.Errorf("nodes[%d] = %+v, want %s", i, many.Nodes[i], id)
				}
			}
			tooMany := make([]string, 101)
			for i := range tooMany {
				tooMany[i] = uuid.NewString()
			}
			if code := env.code(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": tooMany}); code != "VALIDATION_ERROR" {
				t.Errorf("101 ids: code %s, want VALIDATION_ERROR", code)
			}

			// Ownership as everywhere: a user reaches its own sessions and their
			// messages only; others' look unknown. Agents are readable by all.
			owner, stranger := uuid.New(), uuid.New()
			mine, err := env.svc.CreateSession(ctx, chatSession(env.agentID, owner.String()))
			if err != nil {
				t.Fatal(err)
			}
			myMsg := env.send(mine.ID.String(), "mine")
			for _, tc := range []struct {
				who  uuid.UUID
				want []bool // session, message, agent, other user's session, its message
			}{
				{owner, []bool{true, true, true, false, false}},
				{stranger, []bool{false, false, true, false, false}},
			} {
				c := env.as(models.Principal{Role: models.RoleUser, ID: tc.who, Scope: "user:" + tc.who.String()})
				var got struct{ Nodes []*nodeResult }
				ids := []string{mine.ID.String(), myMsg, env.agentID, session, msgID}
				if err := c.Post(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, &got, client.Var("ids", ids)); err != nil {
					t.Fatal(err)
				}
				for i, want := range tc.want {
					if (got.Nodes[i] != nil) != want {
						t.Errorf("user %v: nodes[%d] (%s) = %+v, want found=%v", tc.who == owner, i, ids[i], got.Nodes[i], want)
					}
				}
				var single struct{ Node *nodeResult }
				if err := c.Post(`query($id: ID!) { node(id: $id) { id } }`, &single, client.Var("id", myMsg)); err != nil {
					t.Fatal(err)
				}
				if (single.Node != nil) != tc.want[1] {
					t.Errorf("user %v: node(message) = %+v", tc.who == owner, single.Node)
				}
			}

			// Batched: 3 ids or 60 ids of messages of many sessions (with
			// their session and its agent) cost the same number of queries.
			var msgs []string
			for range 20 {
				s := env.session(models.TimeoutOverrides{})
				for range 3 {
					msgs = append(msgs, env.send(s, "x"))
				}
			}
			op := `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Message { session { id renewalCount agent { id name } } } } }`
			few, _ := env.countQueries(op, map[string]any{"ids": msgs[:3]})
			lots, out := env.countQueries(op, map[string]any{"ids": msgs})
			t.Logf("nodes with links: %d queries for 3 ids, %d for 60", few, lots)
			if few != lots || lots > 5 {
				t.Errorf("nodes with links: %d queries for 3 ids, %d for 60; want the same, at most 5", few, lots)
			}
			if !strings.Contains(string(out), `"renewalCount":3`) {
				t.Errorf("linked sessions lack their renewalCount: %s", out)
			}
		})
	}
}

// TestLinksAreBatched: Session.agent, Message.session and the message counts
// of a page of sessions cost the same number of queries for 2 sessions as for
// 12; a message page's session link costs nothing (it is the parent).
func TestLinksAreBatched(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			env := newLifecycleEnv(t, dialect)
			for range 12 {
				id := env.session(models.TimeoutOverrides{})
				for range 4 {
					env.send(id, "hello")
				}
			}
			op := `query($first: Int) { sessions(first: $first) { totalCount nodes { id agent { id name }
				messages(first: 3) { totalCount nodes { id session { id agent { name } } } } } } }`
			few, _ := env.countQueries(op, map[string]any{"first": 2})
			many, out := env.countQueries(op, map[string]any{"first": 12})
			// sessions, their count, their agents, their messages, their message counts.
			t.Logf("sessions with links and counts: %d queries for 2 sessions, %d for 12", few, many)
			if few != many || many > 5 {
				t.Errorf("%d queries for 2 sessions, %d for 12; want the same, at most 5", few, many)
			}
			var page struct {
				Sessions struct {
					TotalCount int
					Nodes      []struct {
						ID       string
						Agent    struct{ ID, Name string }
						Messages struct {
							TotalCount int
							Nodes      []struct {
								Session struct{ ID string }
							}
						}
					}
				}
			}
			if err := json.Unmarshal(out, &page); err != nil {
				t.Fatal(err)
			}
			if page.Sessions.TotalCount != 12 || len(page.Sessions.Nodes) != 12 {
				t.Fatalf("totalCount %d with %d nodes, want 12", page.Sessions.TotalCount, len(page.Sessions.Nodes))
			}
			for _, s := range page.Sessions.Nodes {
				if s.Agent.ID != env.agentID || s.Agent.Name != "Eliza" || s.Messages.TotalCount != 4 || len(s.Messages.Nodes) != 3 {
					t.Errorf("session %s: agent %+v, %d of %d messages", s.ID, s.Agent, len(s.Messages.Nodes), s.Messages.TotalCount)
				}
				for _, m := range s.Messages.Nodes {
					if m.Session.ID != s.ID {
						t.Errorf("message of %s links to session %s", s.ID, m.Session.ID)
					}
				}
			}

			// totalCount is computed only when selected: one query more each.
			plain, _ := env.countQueries(`{ sessions(first: 5) { nodes { id } } }`, nil)
			counted, _ := env.countQueries(`{ sessions(first: 5) { totalCount nodes { id } } }`, nil)
			if counted != plain+1 {
				t.Errorf("sessions: %d queries without totalCount, %d with; want exactly one more", plain, counted)
			}
			sid := page.Sessions.Nodes[0].ID
			plain, _ = env.countQueries(`query($id: ID!) { session(id: $id) { messages(first: 2, after: null) { nodes { id } } } }`, map[string]any{"id": sid})
			counted, out = env.countQueries(`query($id: ID!) { session(id: $id) { messages(first: 2) { totalCount nodes { id } } } }`, map[string]any{"id": sid})
			if counted != plain+1 || !strings.Contains(string(out), `"totalCount":4`) {
				t.Errorf("messages: %d queries without totalCount, %d with (%s); want exactly one more, 4", plain, counted, out)
			}
			// Filters count what they list.
			var filtered struct{ Sessions struct{ TotalCount int } }
			env.data(`query($u: ID!) { sessions(filter: {userId: $u}) { totalCount } }`, map[string]any{"u": uuid.NewString()}, &filtered)
			if filtered.Sessions.TotalCount != 0 {
				t.Errorf("totalCount for an unknown user = %d, want 0", filtered.Sessions.TotalCount)
			}
		})
	}
}

// TestSendUpdatesItsSession: a send's result reaches the session as the send
// left it, so a normalized cache updates the Session without custom code.
func TestSendUpdatesItsSession(t *testing.T) {
	env := newLifecycleEnv(t, store.SQLite)
	id := env.session(models.TimeoutOverrides{})
	env.clock.Advance(time.Minute)
	var out struct {
		SendSessionMessage struct {
			SessionStatus struct {
				ExpiresAt    string
				RenewalCount int
			}
			Session struct {
				ID           string
				ExpiresAt    string
				RenewalCount int
				LastActivity string
			}
		}
	}
	env.data(`mutation($id: ID!) { sendSessionMessage(sessionId: $id, input: {content: "hi"}) {
		sessionStatus { expiresAt renewalCount } session { id expiresAt renewalCount lastActivity } } }`, map[string]any{"id": id}, &out)
	got := out.SendSessionMessage
	if got.Session.ID != id || got.Session.RenewalCount != 1 || got.Session.ExpiresAt != got.SessionStatus.ExpiresAt || got.SessionStatus.RenewalCount != 1 {
		t.Errorf("send result %+v, want its session renewed once, matching sessionStatus", got)
	}
}

// TestSessionStatusOnEveryRead: each message keeps the status its send
// produced (agent messages: the lifetime as it stood, wasRenewed false), and
// every read returns it: history pages, node, nodes. A row stored before
// statuses were kept answers null.
func TestSessionStatusOnEveryRead(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			env := newLifecycleEnv(t, dialect)
			ctx := context.Background()
			id := env.session(models.TimeoutOverrides{})
			user, err := env.svc.SendMessage(ctx, id, models.MessageInput{Content: "question"})
			if err != nil {
				t.Fatal(err)
			}
			env.clock.Advance(2 * time.Minute)
			agent, err := env.svc.SendAgentMessage(ctx, id, models.MessageInput{Content: "answer"})
			if err != nil {
				t.Fatal(err)
			}
			if agent.SessionStatus == nil || agent.SessionStatus.WasRenewed || !agent.SessionStatus.ExpiresAt.Equal(user.SessionStatus.ExpiresAt) || agent.SessionStatus.RenewalCount != 1 {
				t.Fatalf("agent message status %+v, want the lifetime as it stood after %+v, not renewed", agent.SessionStatus, user.SessionStatus)
			}
			want := map[string]string{
				user.ID.String():  statusJSON(t, user.SessionStatus),
				agent.ID.String(): statusJSON(t, agent.SessionStatus),
			}
			status := `sessionStatus { expiresAt renewalCount wasRenewed isNearExpiration }`
			var history struct {
				Session struct {
					Messages struct {
						Nodes []struct {
							ID            string
							SessionStatus json.RawMessage
						}
					}
				}
			}
			env.data(`query($id: ID!) { session(id: $id) { messages { nodes { id `+status+` } } } }`, map[string]any{"id": id}, &history)
			var nodes struct {
				Nodes []struct {
					ID            string
					SessionStatus json.RawMessage
				}
			}
			env.data(`query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Message { `+status+` } } }`,
				map[string]any{"ids": []string{user.ID.String(), agent.ID.String()}}, &nodes)
			for name, got := range map[string][]struct {
				ID            string
				SessionStatus json.RawMessage
			}{"history": history.Session.Messages.Nodes, "nodes": nodes.Nodes} {
				if len(got) != 2 {
					t.Fatalf("%s: %d messages, want 2", name, len(got))
				}
				for _, m := range got {
					if canonical(t, m.SessionStatus) != want[m.ID] {
						t.Errorf("%s: message %s sessionStatus %s, want %s", name, m.ID, m.SessionStatus, want[m.ID])
					}
				}
			}

			// A row from before migration 6 has no stored status: null.
			if err := env.store.DB().Exec("UPDATE messages SET session_status = NULL WHERE id = ?", user.ID).Error; err != nil {
				t.Fatal(err)
			}
			var old struct {
				Node struct{ SessionStatus json.RawMessage }
			}
			env.data(`query($id: ID!) { node(id: $id) { ... on Message { `+status+` } } }`, map[string]any{"id": user.ID.String()}, &old)
			if string(old.Node.SessionStatus) != "null" {
				t.Errorf("pre-migration message sessionStatus %s, want null", old.Node.SessionStatus)
			}
		})
	}
}

func statusJSON(t *testing.T, st *models.SessionStatus) string {
	t.Helper()
	return canonical(t, json.RawMessage(fmt.Sprintf(`{"expiresAt":%q,"renewalCount":%d,"wasRenewed":%v,"isNearExpiration":%v}`,
		models.FormatTime(st.ExpiresAt), st.RenewalCount, st.WasRenewed, st.IsNearExpiration)))
}

// canonical re-encodes a JSON value with its keys sorted.
func canonical(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return string(mustJSON(t, v))
}

// TestEventsCarryTheirSession: every event type reaches its session as it is
// when the event is delivered; the deletion event, the session as last seen.
func TestEventsCarryTheirSession(t *testing.T) {
	env := newLifecycleEnv(t, store.SQLite)
	ctx := context.Background()
	id := env.session(models.TimeoutOverrides{TimeoutMinutes: ptr(10), WarningThresholdMinutes: ptr(2)})
	first, err := env.svc.SendMessage(ctx, id, models.MessageInput{Content: "before"})
	if err != nil {
		t.Fatal(err)
	}
	// Subscribing after a cursor: every later message is delivered, however
	// the subscription's start and the sends interleave.
	sub := env.client.Websocket(`subscription($id: ID!, $after: String) { sessionEvents(sessionId: $id, after: $after) {
		__typename session { id state renewalCount expiresAt }
		... on MessageAddedEvent { message { content session { renewalCount } } } } }`,
		client.Var("id", id), client.Var("after", models.KeyOf(first.CreatedAt, first.ID).Cursor()))
	t.Cleanup(func() { _ = sub.Close() })
	for deadline := time.Now().Add(10 * time.Second); env.svc.Subscribers() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("subscription never registered")
		}
	}
	type event struct {
		SessionEvents struct {
			Typename string `json:"__typename"`
			Session  struct {
				ID, State, ExpiresAt string
				RenewalCount         int
			}
			Message *struct {
				Content string
				Session struct{ RenewalCount int }
			}
		}
	}
	nextEvent := func(want string) event {
		t.Helper()
		var ev event
		done := make(chan error, 1)
		go func() { done <- sub.Next(&ev) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s within 10s", want)
		}
		if ev.SessionEvents.Typename != want || ev.SessionEvents.Session.ID != id {
			t.Fatalf("event %+v, want %s of session %s", ev, want, id)
		}
		return ev
	}

	env.send(id, "hello")
	if ev := nextEvent("MessageAddedEvent"); ev.SessionEvents.Message.Content != "hello" || ev.SessionEvents.Session.RenewalCount != 2 || ev.SessionEvents.Message.Session.RenewalCount != 2 {
		t.Errorf("message event %+v, want the session renewed twice", ev)
	}
	if ev := nextEvent("SessionRenewedEvent"); ev.SessionEvents.Session.RenewalCount != 2 {
		t.Errorf("renewal event %+v", ev)
	}
	env.clock.Advance(8*time.Minute + time.Second)
	if _, err := env.svc.AnnounceLifetimes(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent("SessionNearExpirationEvent"); ev.SessionEvents.Session.State != "ACTIVE" {
		t.Errorf("near-expiration event %+v", ev)
	}
	env.clock.Advance(2 * time.Minute)
	if _, err := env.svc.AnnounceLifetimes(ctx); err != nil {
		t.Fatal(err)
	}
	expired := nextEvent("SessionExpiredEvent")
	if expired.SessionEvents.Session.State != "EXPIRED" {
		t.Errorf("expiry event %+v, want the session EXPIRED", expired)
	}
	if err := env.svc.DeleteSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent("SessionDeletedEvent"); ev.SessionEvents.Session != expired.SessionEvents.Session {
		t.Errorf("deletion event %+v, want the session as last seen %+v", ev, expired.SessionEvents.Session)
	}
}

func chatSession(agentID, userID string) chat.CreateSessionInput {
	return chat.CreateSessionInput{AgentID: agentID, UserID: userID}
}
