package graph_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"gorm.io/gorm"

	"sessionhub/graph"
	"sessionhub/internal/chat"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// lifecycleEnv is an in-process GraphQL server over a real store and a fake clock.
type lifecycleEnv struct {
	t       *testing.T
	client  *client.Client
	svc     *chat.Service
	clock   *testutil.Clock
	store   *store.Store
	agentID string
	queries atomic.Int64 // SELECTs the store ran
}

func newLifecycleEnv(t *testing.T, dialect store.Dialect) *lifecycleEnv {
	t.Helper()
	env := &lifecycleEnv{t: t, clock: testutil.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))}
	env.store = testutil.OpenStore(t, dialect)
	if err := env.store.DB().Callback().Query().After("gorm:query").Register("count_queries", func(db *gorm.DB) {
		if !db.DryRun { // subqueries are built with dry runs; count round trips only
			env.queries.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	env.svc = chat.New(env.store, env.clock, models.DefaultSessionPolicy())
	env.client = client.New(graph.NewHandler(env.svc, graph.Options{Logger: testutil.Logger()}))
	agent, err := env.svc.CreateAgent(context.Background(), chat.CreateAgentInput{Name: "Eliza"})
	if err != nil {
		t.Fatal(err)
	}
	env.agentID = agent.ID.String()
	return env
}

// gqlResult is a raw GraphQL response.
type gqlResult struct {
	Data   json.RawMessage
	Errors []struct {
		Message    string
		Extensions struct {
			Code    string
			Details map[string]any
		}
	}
}

func (env *lifecycleEnv) do(query string, vars map[string]any) gqlResult {
	env.t.Helper()
	opts := []client.Option{}
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	raw, err := env.client.RawPost(query, opts...)
	if err != nil {
		env.t.Fatalf("post: %v", err)
	}
	var res gqlResult
	res.Data = mustJSON(env.t, raw.Data)
	b := mustJSON(env.t, raw.Errors)
	if string(b) != "null" {
		if err := json.Unmarshal(b, &res.Errors); err != nil {
			env.t.Fatal(err)
		}
	}
	return res
}

// data runs an operation that must succeed and decodes its data into out.
func (env *lifecycleEnv) data(query string, vars map[string]any, out any) {
	env.t.Helper()
	res := env.do(query, vars)
	if len(res.Errors) > 0 {
		env.t.Fatalf("unexpected errors: %+v", res.Errors)
	}
	if err := json.Unmarshal(res.Data, out); err != nil {
		env.t.Fatal(err)
	}
}

// code runs an operation that must fail and returns its first error code.
func (env *lifecycleEnv) code(query string, vars map[string]any) string {
	env.t.Helper()
	res := env.do(query, vars)
	if len(res.Errors) == 0 {
		env.t.Fatalf("expected an error, got data %s", res.Data)
	}
	return res.Errors[0].Extensions.Code
}

func (env *lifecycleEnv) session(cfg models.TimeoutOverrides) string {
	env.t.Helper()
	s, err := env.svc.CreateSession(context.Background(), chat.CreateSessionInput{
		AgentID: env.agentID, UserID: testutil.MustUUID(), Timeout: cfg,
	})
	if err != nil {
		env.t.Fatal(err)
	}
	return s.ID.String()
}

func (env *lifecycleEnv) send(sessionID, content string) string {
	env.t.Helper()
	m, err := env.svc.SendMessage(context.Background(), sessionID, models.MessageInput{Content: content})
	if err != nil {
		env.t.Fatal(err)
	}
	return m.ID.String()
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

const messagesPage = `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
	session(id: $id) {
		messages(first: $first, after: $after, last: $last, before: $before) {
			edges { cursor node { id content } }
			pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		}
	}
}`

type messagesPageData struct {
	Session struct {
		Messages struct {
			Edges []struct {
				Cursor string
				Node   struct{ ID, Content string }
			}
			PageInfo struct {
				HasNextPage, HasPreviousPage bool
				StartCursor, EndCursor       *string
			}
		}
	}
}

// TestMessagesPaging walks 265 messages, 200 of them sharing one timestamp,
// forward with first/after and backward with last/before, and checks that
// every message appears exactly once and in newest-first order.
func TestMessagesPaging(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			env := newLifecycleEnv(t, dialect)
			id := env.session(models.TimeoutOverrides{})
			var sent []string // oldest first
			for i := range 265 {
				if i < 30 || i >= 230 {
					env.clock.Advance(time.Millisecond) // distinct timestamps around a block of ties
				}
				sent = append(sent, env.send(id, "m"))
			}
			newestFirst := slices.Clone(sent)
			slices.Reverse(newestFirst)

			var forward []string
			after := ""
			for pages := 0; ; pages++ {
				vars := map[string]any{"id": id, "first": 40}
				if after != "" {
					vars["after"] = after
				}
				var page messagesPageData
				env.data(messagesPage, vars, &page)
				for _, e := range page.Session.Messages.Edges {
					forward = append(forward, e.Node.ID)
				}
				info := page.Session.Messages.PageInfo
				if !info.HasNextPage {
					break
				}
				if pages > 20 {
					t.Fatal("paging forward does not end")
				}
				after = *info.EndCursor
			}
			if !slices.Equal(forward, newestFirst) {
				t.Errorf("forward paging returned %d ids, want the %d sent, newest first, each once", len(forward), len(sent))
			}

			var backward []string
			before := ""
			for pages := 0; ; pages++ {
				vars := map[string]any{"id": id, "last": 40}
				if before != "" {
					vars["before"] = before
				}
				var page messagesPageData
				env.data(messagesPage, vars, &page)
				var ids []string
				for _, e := range page.Session.Messages.Edges {
					ids = append(ids, e.Node.ID)
				}
				backward = append(ids, backward...)
				info := page.Session.Messages.PageInfo
				if !info.HasPreviousPage {
					break
				}
				if pages > 20 {
					t.Fatal("paging backward does not end")
				}
				before = *info.StartCursor
			}
			if !slices.Equal(backward, newestFirst) {
				t.Errorf("backward paging returned %d ids, want the %d sent, newest first, each once", len(backward), len(sent))
			}
		})
	}
}

func TestMessagesPagingErrors(t *testing.T) {
	env := newLifecycleEnv(t, store.SQLite)
	id := env.session(models.TimeoutOverrides{})
	for name, vars := range map[string]map[string]any{
		"first 0":        {"id": id, "first": 0},
		"first 101":      {"id": id, "first": 101},
		"first and last": {"id": id, "first": 1, "last": 1},
		"bad cursor":     {"id": id, "after": "not-a-cursor"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := env.code(messagesPage, vars); got != "VALIDATION_ERROR" {
				t.Errorf("code %s, want VALIDATION_ERROR", got)
			}
		})
	}
}

const sessionFields = `id state renewalCount expiresAt lastActivity timeoutConfig { timeoutMinutes autoRenew maxDurationMinutes warningThresholdMinutes }`

type sessionData struct {
	ID, State               string
	RenewalCount            int
	ExpiresAt, LastActivity string
	TimeoutConfig           struct {
		TimeoutMinutes          int
		AutoRenew               bool
		MaxDurationMinutes      int
		WarningThresholdMinutes int
	}
}

func TestLifecycleMutations(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			env := newLifecycleEnv(t, dialect)

			t.Run("sendAgentMessage does not renew", func(t *testing.T) {
				id := env.session(models.TimeoutOverrides{})
				env.clock.Advance(time.Minute)
				var out struct {
					SendAgentMessage struct {
						AuthorID      string
						IsAgent       bool
						SessionStatus *struct{ RenewalCount int }
					}
					Session sessionData
				}
				env.data(`mutation($id: ID!) { sendAgentMessage(sessionId: $id, input: {content: "Hi, I am Eliza"}) { authorId isAgent sessionStatus { renewalCount } } }`,
					map[string]any{"id": id}, &out)
				if out.SendAgentMessage.AuthorID != env.agentID || !out.SendAgentMessage.IsAgent {
					t.Errorf("agent message %+v, want authorId %s and isAgent", out.SendAgentMessage, env.agentID)
				}
				env.data(`query($id: ID!) { session(id: $id) { `+sessionFields+` } }`, map[string]any{"id": id}, &out)
				if out.Session.RenewalCount != 0 || out.Session.ExpiresAt != "2026-03-01T09:30:00.000Z" && dialect == store.SQLite {
					t.Errorf("agent message renewed the session: %+v", out.Session)
				}
			})

			t.Run("renewSession at and past the cap", func(t *testing.T) {
				id := env.session(models.TimeoutOverrides{TimeoutMinutes: ptr(30), MaxDurationMinutes: ptr(60)})
				hardCap := models.FormatTime(env.clock.Now().Add(time.Hour))
				renew := `mutation($id: ID!) { renewSession(sessionId: $id) { ` + sessionFields + ` } }`
				var out struct{ RenewSession sessionData }
				for range 2 {
					env.clock.Advance(25 * time.Minute)
					env.data(renew, map[string]any{"id": id}, &out)
				}
				// At 50 minutes expiresAt reached the cap (createdAt + 60 min).
				if out.RenewSession.RenewalCount != 2 || out.RenewSession.ExpiresAt != hardCap {
					t.Errorf("after two renewals: %+v, want renewalCount 2, expiresAt at the cap", out.RenewSession)
				}
				env.clock.Advance(5 * time.Minute) // at the cap, 5 minutes left: renewing keeps the cap
				env.data(renew, map[string]any{"id": id}, &out)
				if out.RenewSession.RenewalCount != 3 || out.RenewSession.ExpiresAt != hardCap {
					t.Errorf("renew at the cap: %+v, want renewalCount 3, expiresAt still the cap", out.RenewSession)
				}
				env.clock.Advance(5 * time.Minute) // 60 min after creation: past the cap
				if got := env.code(renew, map[string]any{"id": id}); got != "SESSION_RENEWAL_FAILED" {
					t.Errorf("renew past the cap: %s, want SESSION_RENEWAL_FAILED", got)
				}
			})

			t.Run("sessionHeartbeat renews like a message", func(t *testing.T) {
				id := env.session(models.TimeoutOverrides{})
				env.clock.Advance(10 * time.Minute)
				var out struct{ SessionHeartbeat sessionData }
				env.data(`mutation($id: ID!) { sessionHeartbeat(sessionId: $id) { `+sessionFields+` } }`, map[string]any{"id": id}, &out)
				want := models.FormatTime(env.clock.Now())
				if out.SessionHeartbeat.RenewalCount != 1 || out.SessionHeartbeat.LastActivity != want {
					t.Errorf("heartbeat: %+v, want renewalCount 1, lastActivity %s", out.SessionHeartbeat, want)
				}
			})

			t.Run("updateSessionTimeout merges over the current config", func(t *testing.T) {
				id := env.session(models.TimeoutOverrides{TimeoutMinutes: ptr(10), AutoRenew: ptr(false)})
				update := `mutation($id: ID!, $in: TimeoutConfigInput!) { updateSessionTimeout(sessionId: $id, input: $in) { ` + sessionFields + ` } }`
				var out struct{ UpdateSessionTimeout sessionData }
				env.data(update, map[string]any{"id": id, "in": map[string]any{"timeoutMinutes": 60}}, &out)
				cfg := out.UpdateSessionTimeout.TimeoutConfig
				if cfg.TimeoutMinutes != 60 || cfg.AutoRenew {
					t.Errorf("config after merge %+v, want timeout 60 and autoRenew still false", cfg)
				}
				if got := env.code(update, map[string]any{"id": id, "in": map[string]any{"timeoutMinutes": 2}}); got != "VALIDATION_ERROR" {
					t.Errorf("timeout 2: %s, want VALIDATION_ERROR", got)
				}
				var after struct{ Session sessionData }
				env.data(`query($id: ID!) { session(id: $id) { `+sessionFields+` } }`, map[string]any{"id": id}, &after)
				if after.Session.TimeoutConfig.TimeoutMinutes != 60 {
					t.Errorf("rejected update changed the config: %+v", after.Session.TimeoutConfig)
				}
			})

			t.Run("deleteSession removes it and its messages", func(t *testing.T) {
				id := env.session(models.TimeoutOverrides{})
				env.send(id, "soon gone")
				var out struct{ DeleteSession bool }
				env.data(`mutation($id: ID!) { deleteSession(sessionId: $id) }`, map[string]any{"id": id}, &out)
				if !out.DeleteSession {
					t.Fatal("deleteSession returned false")
				}
				var q struct{ Session *sessionData }
				env.data(`query($id: ID!) { session(id: $id) { id } }`, map[string]any{"id": id}, &q)
				if q.Session != nil {
					t.Error("deleted session is still readable")
				}
				for _, op := range []string{
					`mutation($id: ID!) { deleteSession(sessionId: $id) }`,
					`mutation($id: ID!) { sendSessionMessage(sessionId: $id, input: {content: "x"}) { id } }`,
					`mutation($id: ID!) { renewSession(sessionId: $id) { id } }`,
					`mutation($id: ID!) { sessionHeartbeat(sessionId: $id) { id } }`,
				} {
					if got := env.code(op, map[string]any{"id": id}); got != "SESSION_NOT_FOUND" {
						t.Errorf("%s after delete: %s", op, got)
					}
				}
				var messages int64
				env.store.DB().Table("messages").Where("session_id = ?", id).Count(&messages)
				if messages != 0 {
					t.Errorf("%d messages left after delete", messages)
				}
			})

			t.Run("expired sessions answer SESSION_EXPIRED to every write", func(t *testing.T) {
				id := env.session(models.TimeoutOverrides{})
				env.clock.Advance(31 * time.Minute)
				for _, op := range []string{
					`mutation($id: ID!) { sendAgentMessage(sessionId: $id, input: {content: "x"}) { id } }`,
					`mutation($id: ID!) { renewSession(sessionId: $id) { id } }`,
					`mutation($id: ID!) { sessionHeartbeat(sessionId: $id) { id } }`,
					`mutation($id: ID!) { updateSessionTimeout(sessionId: $id, input: {timeoutMinutes: 60}) { id } }`,
				} {
					if got := env.code(op, map[string]any{"id": id}); got != "SESSION_EXPIRED" {
						t.Errorf("%s on an expired session: %s", op, got)
					}
				}
			})
		})
	}
}

func TestSessionsConnection(t *testing.T) {
	env := newLifecycleEnv(t, store.SQLite)
	var created []string // oldest first
	for range 5 {
		env.clock.Advance(time.Second)
		created = append(created, env.session(models.TimeoutOverrides{}))
	}
	env.clock.Advance(29*time.Minute + 57*time.Second) // the first two have expired
	query := `query($first: Int, $after: String, $filter: SessionFilter) {
		sessions(first: $first, after: $after, filter: $filter) {
			nodes { id state } pageInfo { hasNextPage endCursor }
		}
	}`
	type page struct {
		Sessions struct {
			Nodes    []struct{ ID, State string }
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	var all []string
	vars := map[string]any{"first": 2}
	for {
		var p page
		env.data(query, vars, &p)
		for _, n := range p.Sessions.Nodes {
			all = append(all, n.ID)
		}
		if !p.Sessions.PageInfo.HasNextPage {
			break
		}
		vars["after"] = p.Sessions.PageInfo.EndCursor
	}
	want := slices.Clone(created)
	slices.Reverse(want)
	if !slices.Equal(all, want) {
		t.Errorf("sessions paged %v, want %v", all, want)
	}

	var active page
	env.data(query, map[string]any{"filter": map[string]any{"state": "ACTIVE", "agentId": env.agentID}}, &active)
	if got := len(active.Sessions.Nodes); got != 3 {
		t.Errorf("%d active sessions, want 3", got)
	}
	var expired page
	env.data(query, map[string]any{"filter": map[string]any{"state": "EXPIRED"}}, &expired)
	if got := len(expired.Sessions.Nodes); got != 2 || expired.Sessions.Nodes[0].State != "EXPIRED" {
		t.Errorf("expired filter: %+v", expired.Sessions.Nodes)
	}
	var none page
	env.data(query, map[string]any{"filter": map[string]any{"userId": testutil.MustUUID()}}, &none)
	if len(none.Sessions.Nodes) != 0 {
		t.Errorf("unknown user has sessions: %+v", none.Sessions.Nodes)
	}
}

// TestSessionsWithMessagesIsNotNPlusOne checks that listing many sessions
// with their latest messages costs the same number of queries as listing few.
func TestSessionsWithMessagesIsNotNPlusOne(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			env := newLifecycleEnv(t, dialect)
			for _, selection := range []string{
				`nodes { id messages(first: 3) { nodes { id content } } }`,
				`edges { node { id messages(first: 3) { edges { node { id } } } } }`,
			} {
				query := `query($first: Int) { sessions(first: $first) { ` + selection + ` } }`
				count := func(n int) int64 {
					var out json.RawMessage
					before := env.queries.Load()
					env.data(query, map[string]any{"first": n}, &out)
					return env.queries.Load() - before
				}
				for range 12 {
					id := env.session(models.TimeoutOverrides{})
					for range 4 {
						env.send(id, "hello")
					}
				}
				few, many := count(2), count(12)
				if few != many || many > 2 {
					t.Errorf("%s: %d queries for 2 sessions, %d for 12; want the same, at most 2", selection, few, many)
				}
			}
		})
	}
}
