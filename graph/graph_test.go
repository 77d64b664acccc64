package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/client"
	"github.com/google/uuid"

	"sessionhub/graph"
	"sessionhub/internal/chat"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// This file drives the real executable schema in process through gqlgen's
// client, over a real store (SQLite, and PostgreSQL for the core scenario)
// and a fake clock. Its helpers carry a "hub" prefix so they never clash with
// those of the other test files of package graph_test.

// hubStart has sub-millisecond digits on purpose: every time must leave the
// server truncated to milliseconds.
var hubStart = time.Date(2025, 8, 20, 12, 0, 0, 123456789, time.UTC)

// hubTimeFormat is the wire shape of every Time: exactly three fractional digits, Z.
var hubTimeFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// hubAt renders hubStart + d as the server must.
func hubAt(d time.Duration) string {
	return hubStart.Add(d).Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
}

const (
	hubAgentFields   = `id name createdAt sessionDefaults { timeoutMinutes autoRenew maxDurationMinutes warningThresholdMinutes }`
	hubSessionFields = `id agentId userId state createdAt lastActivity expiresAt timeRemaining isNearExpiration renewalCount metadata
		timeoutConfig { timeoutMinutes autoRenew maxDurationMinutes warningThresholdMinutes }`
	hubMessageFields = `id sessionId content authorId isAgent createdAt metadata attachments { type url name }
		sessionStatus { expiresAt renewalCount wasRenewed isNearExpiration }`

	hubCreateAgentOp   = `mutation($in: CreateAgentInput!) { createAgent(input: $in) { ` + hubAgentFields + ` } }`
	hubAgentOp         = `query($id: ID!) { agent(id: $id) { ` + hubAgentFields + ` } }`
	hubCreateSessionOp = `mutation($in: CreateSessionInput!) { createSession(input: $in) { ` + hubSessionFields + ` } }`
	hubSessionOp       = `query($id: ID!) { session(id: $id) { ` + hubSessionFields + ` messages(first: 100) { nodes { id content } } } }`
	hubSendOp          = `mutation($id: ID!, $in: SendSessionMessageInput!) { sendSessionMessage(sessionId: $id, input: $in) { ` + hubMessageFields + ` } }`
	hubSessionsOfOp    = `query($agent: ID!) { sessions(first: 100, filter: {agentId: $agent}) { nodes { id } } }`
)

type hubDefaults struct {
	TimeoutMinutes          *int
	AutoRenew               *bool
	MaxDurationMinutes      *int
	WarningThresholdMinutes *int
}

type hubAgent struct {
	ID, Name, CreatedAt string
	SessionDefaults     hubDefaults
}

type hubTimeoutConfig struct {
	TimeoutMinutes          int
	AutoRenew               bool
	MaxDurationMinutes      int
	WarningThresholdMinutes int
}

type hubSession struct {
	ID, AgentID, UserID, State, CreatedAt, LastActivity, ExpiresAt string
	TimeRemaining                                                  int
	IsNearExpiration                                               bool
	RenewalCount                                                   int
	Metadata                                                       map[string]any
	TimeoutConfig                                                  hubTimeoutConfig
	Messages                                                       *struct {
		Nodes []struct{ ID, Content string }
	}
}

type hubAttachment struct {
	Type, URL string
	Name      *string
}

type hubStatus struct {
	ExpiresAt        string
	RenewalCount     int
	WasRenewed       bool
	IsNearExpiration bool
}

type hubMessage struct {
	ID, SessionID, Content, AuthorID, CreatedAt string
	IsAgent                                     bool
	Metadata                                    map[string]any
	Attachments                                 []hubAttachment
	SessionStatus                               *hubStatus
}

// hubError is one entry of a response's "errors".
type hubError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e hubError) code() string { s, _ := e.Extensions["code"].(string); return s }

func (e hubError) detail(key string) any {
	d, _ := e.Extensions["details"].(map[string]any)
	return d[key]
}

// hubEnv is one GraphQL handler over a fresh store and a fake clock.
type hubEnv struct {
	t       *testing.T
	clock   *testutil.Clock
	svc     *chat.Service
	handler http.Handler
	client  *client.Client
}

func newHubEnv(t *testing.T, dialect store.Dialect, opts graph.Options) *hubEnv {
	t.Helper()
	clock := testutil.NewClock(hubStart)
	svc := chat.New(testutil.OpenStore(t, dialect), clock, models.DefaultSessionPolicy())
	if opts.Logger == nil {
		opts.Logger = testutil.Logger()
	}
	h := graph.NewHandler(svc, opts)
	return &hubEnv{t: t, clock: clock, svc: svc, handler: h, client: client.New(h)}
}

func hubVars(vars map[string]any) []client.Option {
	opts := make([]client.Option, 0, len(vars))
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	return opts
}

// post runs an operation that must succeed and decodes its data into out.
func (e *hubEnv) post(out any, query string, vars map[string]any) {
	e.t.Helper()
	if err := e.client.Post(query, out, hubVars(vars)...); err != nil {
		e.t.Fatalf("unexpected error: %v\noperation: %s", err, query)
	}
}

// errors runs an operation and returns its errors and data as decoded JSON.
func (e *hubEnv) errors(query string, vars map[string]any) ([]hubError, any) {
	e.t.Helper()
	resp, err := e.client.RawPost(query, hubVars(vars)...)
	if err != nil {
		e.t.Fatalf("post: %v", err)
	}
	var errs []hubError
	if len(resp.Errors) > 0 {
		if err := json.Unmarshal(resp.Errors, &errs); err != nil {
			e.t.Fatalf("decode errors %s: %v", resp.Errors, err)
		}
	}
	return errs, resp.Data
}

// fail runs an operation that must fail with exactly one error of the given
// code, with null data, a clean message and the field's path; it returns the error.
func (e *hubEnv) fail(code, query string, vars map[string]any) hubError {
	e.t.Helper()
	errs, data := e.errors(query, vars)
	if len(errs) != 1 {
		e.t.Fatalf("want exactly one %s error, got %+v (data %v)", code, errs, data)
	}
	got := errs[0]
	if got.code() != code {
		e.t.Errorf("extensions.code = %q, want %q (error %+v)", got.code(), code, got)
	}
	if data != nil {
		e.t.Errorf("data = %v, want null", data)
	}
	if len(got.Path) == 0 {
		e.t.Errorf("error %+v has no path", got)
	}
	hubCheckClean(e.t, got.Message)
	return got
}

// hubCheckClean fails when an error message carries Go error text rather than
// the human sentence meant for clients.
func hubCheckClean(t *testing.T, message string) {
	t.Helper()
	if message == "" {
		t.Error("empty error message")
	}
	for _, code := range []string{"SESSION_NOT_FOUND", "SESSION_EXPIRED", "AGENT_NOT_FOUND", "VALIDATION_ERROR",
		"SESSION_RENEWAL_FAILED", "UNAUTHENTICATED", "FORBIDDEN", "RATE_LIMITED", "IDEMPOTENCY_CONFLICT", "UNAVAILABLE", "SLOW_CONSUMER", "INTERNAL"} {
		if strings.Contains(message, code) {
			t.Errorf("message %q carries the code %s", message, code)
		}
	}
	lower := strings.ToLower(message)
	for _, leak := range []string{"record not found", "sql", "gorm", "pgx", "runtime error", "panic", "goroutine", "input:"} {
		if strings.Contains(lower, leak) {
			t.Errorf("message %q leaks %q", message, leak)
		}
	}
}

// raw posts an operation over HTTP and returns the status and the body, for
// answers gqlgen's client refuses to decode (4xx) or whose bytes matter.
func (e *hubEnv) raw(query string, vars map[string]any) (int, []byte) {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		e.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// rawErrors is raw, decoded: the status, the errors and the data.
func (e *hubEnv) rawErrors(query string, vars map[string]any) (int, []hubError, map[string]any) {
	e.t.Helper()
	status, body := e.raw(query, vars)
	var resp struct {
		Errors []hubError
		Data   map[string]any
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		e.t.Fatalf("decode %s: %v", body, err)
	}
	return status, resp.Errors, resp.Data
}

func (e *hubEnv) createAgent(in map[string]any) hubAgent {
	e.t.Helper()
	var resp struct{ CreateAgent hubAgent }
	e.post(&resp, hubCreateAgentOp, map[string]any{"in": in})
	return resp.CreateAgent
}

func (e *hubEnv) createSession(in map[string]any) hubSession {
	e.t.Helper()
	var resp struct{ CreateSession hubSession }
	e.post(&resp, hubCreateSessionOp, map[string]any{"in": in})
	return resp.CreateSession
}

// session reads a session that must exist, with its messages.
func (e *hubEnv) session(id string) hubSession {
	e.t.Helper()
	var resp struct{ Session *hubSession }
	e.post(&resp, hubSessionOp, map[string]any{"id": id})
	if resp.Session == nil {
		e.t.Fatalf("session(%s) = null", id)
	}
	return *resp.Session
}

func (e *hubEnv) send(sessionID string, in map[string]any) hubMessage {
	e.t.Helper()
	var resp struct{ SendSessionMessage hubMessage }
	e.post(&resp, hubSendOp, map[string]any{"id": sessionID, "in": in})
	return resp.SendSessionMessage
}

// liveSession opens a session with a fresh agent that has no defaults.
func (e *hubEnv) liveSession(timeout map[string]any) hubSession {
	e.t.Helper()
	agent := e.createAgent(map[string]any{"name": "Eliza"})
	in := map[string]any{"agentId": agent.ID, "userId": testutil.MustUUID()}
	if timeout != nil {
		in["timeoutConfig"] = timeout
	}
	return e.createSession(in)
}

func hubMustUUID(t *testing.T, what, s string) {
	t.Helper()
	if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
		t.Errorf("%s = %q, want a UUID", what, s)
	}
}

func hubPtr[T any](v T) *T { return &v }

// TestGraphQLCore runs the core scenario on every database.
func TestGraphQLCore(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			t.Run("agents", func(t *testing.T) { testHubAgents(t, dialect) })
			t.Run("createSession", func(t *testing.T) { testHubCreateSession(t, dialect) })
			t.Run("timeoutConfigResolution", func(t *testing.T) { testHubTimeoutResolution(t, dialect) })
			t.Run("createSessionErrors", func(t *testing.T) { testHubCreateSessionErrors(t, dialect) })
			t.Run("send", func(t *testing.T) { testHubSend(t, dialect) })
			t.Run("sendErrors", func(t *testing.T) { testHubSendErrors(t, dialect) })
			t.Run("expired", func(t *testing.T) { testHubExpired(t, dialect) })
			t.Run("nearExpiration", func(t *testing.T) { testHubNearExpiration(t, dialect) })
			t.Run("timeFormat", func(t *testing.T) { testHubTimeFormat(t, dialect) })
			t.Run("metadataNumbersKeepTheirText", func(t *testing.T) { testHubMetadataText(t, dialect) })
		})
	}
}

func testHubAgents(t *testing.T, dialect store.Dialect) {
	env := newHubEnv(t, dialect, graph.Options{})
	id := testutil.MustUUID()
	agent := env.createAgent(map[string]any{
		"id": id, "name": "Support",
		"sessionDefaults": map[string]any{"timeoutMinutes": 20, "maxDurationMinutes": 60},
	})
	want := hubAgent{
		ID: id, Name: "Support", CreatedAt: hubAt(0),
		SessionDefaults: hubDefaults{TimeoutMinutes: hubPtr(20), MaxDurationMinutes: hubPtr(60)},
	}
	if !reflect.DeepEqual(agent, want) {
		t.Errorf("createAgent = %+v, want %+v", agent, want)
	}

	t.Run("generated id", func(t *testing.T) {
		other := env.createAgent(map[string]any{"name": "Helper"})
		hubMustUUID(t, "generated agent id", other.ID)
		if other.ID == id {
			t.Errorf("generated id %s repeats an existing one", other.ID)
		}
		d := other.SessionDefaults
		if d.TimeoutMinutes != nil || d.AutoRenew != nil || d.MaxDurationMinutes != nil || d.WarningThresholdMinutes != nil {
			t.Errorf("agent without defaults has sessionDefaults %+v, want all null", d)
		}
	})

	t.Run("agent(id)", func(t *testing.T) {
		var resp struct{ Agent *hubAgent }
		env.post(&resp, hubAgentOp, map[string]any{"id": id})
		if resp.Agent == nil || !reflect.DeepEqual(*resp.Agent, want) {
			t.Errorf("agent(id) = %+v, want %+v", resp.Agent, want)
		}
	})

	t.Run("unknown agent is null", func(t *testing.T) {
		var resp struct{ Agent *hubAgent }
		env.post(&resp, hubAgentOp, map[string]any{"id": testutil.MustUUID()})
		if resp.Agent != nil {
			t.Errorf("agent(unknown) = %+v, want null", resp.Agent)
		}
	})

	t.Run("duplicate id", func(t *testing.T) {
		env.fail("VALIDATION_ERROR", hubCreateAgentOp, map[string]any{"in": map[string]any{"id": id, "name": "Again"}})
	})
}

func testHubCreateSession(t *testing.T, dialect store.Dialect) {
	env := newHubEnv(t, dialect, graph.Options{})
	agent := env.createAgent(map[string]any{
		"name": "Support", "sessionDefaults": map[string]any{"timeoutMinutes": 20, "maxDurationMinutes": 60},
	})
	user := testutil.MustUUID()
	metadata := map[string]any{
		"platform": "discord", "n": 1.5,
		"nested": map[string]any{"ok": true, "list": []any{1, "two", nil}, "emoji": "héllo 👋"},
	}
	s := env.createSession(map[string]any{
		"agentId": agent.ID, "userId": user, "metadata": metadata,
		"timeoutConfig": map[string]any{"warningThresholdMinutes": 4},
	})
	hubMustUUID(t, "session id", s.ID)
	want := hubSession{
		ID: s.ID, AgentID: agent.ID, UserID: user, State: "ACTIVE",
		CreatedAt: hubAt(0), LastActivity: hubAt(0), ExpiresAt: hubAt(20 * time.Minute),
		TimeRemaining: 20 * 60 * 1000, IsNearExpiration: false, RenewalCount: 0,
		Metadata: map[string]any{
			"platform": "discord", "n": 1.5,
			"nested": map[string]any{"ok": true, "list": []any{float64(1), "two", nil}, "emoji": "héllo 👋"},
		},
		TimeoutConfig: hubTimeoutConfig{TimeoutMinutes: 20, AutoRenew: true, MaxDurationMinutes: 60, WarningThresholdMinutes: 4},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("createSession =\n %+v\nwant\n %+v", s, want)
	}

	t.Run("session(id) reads the same", func(t *testing.T) {
		got := env.session(s.ID)
		if got.Messages == nil || len(got.Messages.Nodes) != 0 {
			t.Errorf("messages of a new session: %+v, want none", got.Messages)
		}
		got.Messages = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("session(id) =\n %+v\nwant\n %+v", got, want)
		}
	})

	t.Run("reads do not renew", func(t *testing.T) {
		env.clock.Advance(3 * time.Minute)
		got := env.session(s.ID)
		if got.ExpiresAt != want.ExpiresAt || got.LastActivity != want.LastActivity || got.RenewalCount != 0 {
			t.Errorf("a read moved the session: %+v", got)
		}
		if got.TimeRemaining != 17*60*1000 {
			t.Errorf("timeRemaining after 3 minutes = %d, want %d", got.TimeRemaining, 17*60*1000)
		}
	})

	t.Run("unknown session is null", func(t *testing.T) {
		for _, id := range []string{testutil.MustUUID(), "not-a-uuid"} {
			var resp struct{ Session *hubSession }
			env.post(&resp, hubSessionOp, map[string]any{"id": id})
			if resp.Session != nil {
				t.Errorf("session(%q) = %+v, want null", id, resp.Session)
			}
		}
	})

	t.Run("metadata omitted is an empty object", func(t *testing.T) {
		bare := env.createSession(map[string]any{"agentId": agent.ID, "userId": user})
		if bare.Metadata == nil || len(bare.Metadata) != 0 {
			t.Errorf("metadata = %#v, want {}", bare.Metadata)
		}
	})
}

func testHubTimeoutResolution(t *testing.T, dialect store.Dialect) {
	env := newHubEnv(t, dialect, graph.Options{})
	plain := env.createAgent(map[string]any{"name": "Plain"})
	tuned := env.createAgent(map[string]any{
		"name": "Tuned", "sessionDefaults": map[string]any{"timeoutMinutes": 20, "maxDurationMinutes": 60, "autoRenew": false},
	})
	for _, tc := range []struct {
		name  string
		agent string
		input map[string]any
		want  hubTimeoutConfig
	}{
		{"server defaults", plain.ID, nil, hubTimeoutConfig{30, true, 720, 5}},
		{"agent defaults", tuned.ID, nil, hubTimeoutConfig{20, false, 60, 5}},
		{"input over agent", tuned.ID, map[string]any{"autoRenew": true, "warningThresholdMinutes": 3}, hubTimeoutConfig{20, true, 60, 3}},
		{"timeout clamped up", tuned.ID, map[string]any{"timeoutMinutes": 2}, hubTimeoutConfig{5, false, 60, 5}},
		{"timeout clamped down, max duration follows", tuned.ID, map[string]any{"timeoutMinutes": 5000}, hubTimeoutConfig{1440, false, 1440, 5}},
		{"max duration clamped to 2x max timeout", plain.ID, map[string]any{"maxDurationMinutes": 100000}, hubTimeoutConfig{30, true, 2880, 5}},
		{"max duration clamped up to timeout", tuned.ID, map[string]any{"maxDurationMinutes": 10}, hubTimeoutConfig{20, false, 20, 5}},
		{"warning clamped to timeout", plain.ID, map[string]any{"timeoutMinutes": 10, "warningThresholdMinutes": 99}, hubTimeoutConfig{10, true, 720, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]any{"agentId": tc.agent, "userId": testutil.MustUUID()}
			if tc.input != nil {
				in["timeoutConfig"] = tc.input
			}
			s := env.createSession(in)
			if s.TimeoutConfig != tc.want {
				t.Errorf("timeoutConfig = %+v, want %+v", s.TimeoutConfig, tc.want)
			}
			timeout := time.Duration(tc.want.TimeoutMinutes) * time.Minute
			if s.TimeRemaining != int(timeout.Milliseconds()) || s.ExpiresAt != hubAt(timeout) {
				t.Errorf("timeRemaining %d, expiresAt %s; want %d, %s", s.TimeRemaining, s.ExpiresAt, timeout.Milliseconds(), hubAt(timeout))
			}
			if s.IsNearExpiration != (tc.want.WarningThresholdMinutes >= tc.want.TimeoutMinutes) {
				t.Errorf("isNearExpiration = %v with config %+v", s.IsNearExpiration, tc.want)
			}
		})
	}
}

func testHubCreateSessionErrors(t *testing.T, dialect store.Dialect) {
	env := newHubEnv(t, dialect, graph.Options{})
	agent := env.createAgent(map[string]any{"name": "Support"})
	user := testutil.MustUUID()

	t.Run("unknown agent", func(t *testing.T) {
		unknown := testutil.MustUUID()
		e := env.fail("AGENT_NOT_FOUND", hubCreateSessionOp, map[string]any{"in": map[string]any{"agentId": unknown, "userId": user}})
		if e.Message != "Agent not found" || e.detail("agentId") != unknown {
			t.Errorf("error %+v, want message \"Agent not found\" and details.agentId %s", e, unknown)
		}
	})

	for _, tc := range []struct {
		name string
		in   map[string]any
	}{
		{"non-UUID userId", map[string]any{"agentId": agent.ID, "userId": "user-1"}},
		{"empty userId", map[string]any{"agentId": agent.ID, "userId": ""}},
		{"metadata string", map[string]any{"agentId": agent.ID, "userId": user, "metadata": "x"}},
		{"metadata array", map[string]any{"agentId": agent.ID, "userId": user, "metadata": []any{1}}},
		{"metadata number", map[string]any{"agentId": agent.ID, "userId": user, "metadata": 5}},
		{"metadata too large", map[string]any{"agentId": agent.ID, "userId": user, "metadata": map[string]any{"blob": strings.Repeat("a", 10300)}}},
		{"timeoutMinutes zero", map[string]any{"agentId": agent.ID, "userId": user, "timeoutConfig": map[string]any{"timeoutMinutes": 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env.fail("VALIDATION_ERROR", hubCreateSessionOp, map[string]any{"in": tc.in})
		})
	}

	t.Run("metadata literal not an object", func(t *testing.T) {
		op := `mutation($a: ID!, $u: ID!) { createSession(input: {agentId: $a, userId: $u, metadata: "x"}) { id } }`
		env.fail("VALIDATION_ERROR", op, map[string]any{"a": agent.ID, "u": user})
	})

	t.Run("nothing was created", func(t *testing.T) {
		var resp struct {
			Sessions struct{ Nodes []struct{ ID string } }
		}
		env.post(&resp, hubSessionsOfOp, map[string]any{"agent": agent.ID})
		if len(resp.Sessions.Nodes) != 0 {
			t.Errorf("rejected creates stored %d sessions", len(resp.Sessions.Nodes))
		}
	})
}

func testHubSend(t *testing.T, dialect store.Dialect) {
	env := newHubEnv(t, dialect, graph.Options{})
	agent := env.createAgent(map[string]any{
		"name": "Support", "sessionDefaults": map[string]any{"timeoutMinutes": 20, "maxDurationMinutes": 60},
	})
	user := testutil.MustUUID()
	s := env.createSession(map[string]any{
		"agentId": agent.ID, "userId": user, "timeoutConfig": map[string]any{"warningThresholdMinutes": 4},
	})

	first := env.send(s.ID, map[string]any{
		"content":  "hello 👋",
		"metadata": map[string]any{"k": "v", "n": 2},
		"attachments": []any{
			map[string]any{"type": "image", "url": "https://example.com/a.png", "name": "a.png"},
			map[string]any{"type": "link", "url": "http://example.org/x?y=1"},
		},
	})
	hubMustUUID(t, "message id", first.ID)
	want := hubMessage{
		ID: first.ID, SessionID: s.ID, Content: "hello 👋", AuthorID: user, IsAgent: false, CreatedAt: hubAt(0),
		Metadata: map[string]any{"k": "v", "n": float64(2)},
		Attachments: []hubAttachment{
			{Type: "image", URL: "https://example.com/a.png", Name: hubPtr("a.png")},
			{Type: "link", URL: "http://example.org/x?y=1"},
		},
		// autoRenew: renewed at once, to now + 20 min, which is where it was.
		SessionStatus: &hubStatus{ExpiresAt: hubAt(20 * time.Minute), RenewalCount: 1, WasRenewed: true},
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("first send =\n %+v\nwant\n %+v", first, want)
	}
	if first.SessionStatus != nil && !hubTimeFormat.MatchString(first.SessionStatus.ExpiresAt) {
		t.Errorf("sessionStatus.expiresAt %q is not in 2006-01-02T15:04:05.000Z form", first.SessionStatus.ExpiresAt)
	}

	env.clock.Advance(10 * time.Minute)
	second := env.send(s.ID, map[string]any{"content": "second"})
	if second.ID == first.ID || second.AuthorID != user || second.CreatedAt != hubAt(10*time.Minute) {
		t.Errorf("second send = %+v", second)
	}
	if second.Metadata == nil || len(second.Metadata) != 0 || second.Attachments == nil || len(second.Attachments) != 0 {
		t.Errorf("send without metadata/attachments: metadata %#v, attachments %#v; want {} and []", second.Metadata, second.Attachments)
	}
	wantStatus := hubStatus{ExpiresAt: hubAt(30 * time.Minute), RenewalCount: 2, WasRenewed: true}
	if second.SessionStatus == nil || *second.SessionStatus != wantStatus {
		t.Errorf("second sessionStatus = %+v, want %+v", second.SessionStatus, wantStatus)
	} else if second.SessionStatus.ExpiresAt == first.SessionStatus.ExpiresAt {
		t.Errorf("expiresAt did not move: %s", second.SessionStatus.ExpiresAt)
	}

	read := env.session(s.ID)
	if read.RenewalCount != 2 || read.LastActivity != hubAt(10*time.Minute) || read.ExpiresAt != hubAt(30*time.Minute) || read.CreatedAt != hubAt(0) {
		t.Errorf("session after two sends = %+v", read)
	}
	if read.Messages == nil || len(read.Messages.Nodes) != 2 || read.Messages.Nodes[0].ID != second.ID || read.Messages.Nodes[1].ID != first.ID {
		t.Errorf("messages = %+v, want [second, first]", read.Messages)
	}

	// Renewals stop sliding at createdAt + maxDuration (60 min), but still count
	// while now - createdAt < maxDuration.
	for _, step := range []struct {
		at   time.Duration
		want hubStatus
	}{
		{25 * time.Minute, hubStatus{ExpiresAt: hubAt(45 * time.Minute), RenewalCount: 3, WasRenewed: true}},
		{44 * time.Minute, hubStatus{ExpiresAt: hubAt(60 * time.Minute), RenewalCount: 4, WasRenewed: true}},
		{58 * time.Minute, hubStatus{ExpiresAt: hubAt(60 * time.Minute), RenewalCount: 5, WasRenewed: true, IsNearExpiration: true}},
	} {
		env.clock.Set(hubStart.Add(step.at))
		m := env.send(s.ID, map[string]any{"content": fmt.Sprintf("at %v", step.at)})
		if m.SessionStatus == nil || *m.SessionStatus != step.want {
			t.Errorf("send at +%v: sessionStatus %+v, want %+v", step.at, m.SessionStatus, step.want)
		}
	}
	env.clock.Set(hubStart.Add(60 * time.Minute))
	e := env.fail("SESSION_EXPIRED", hubSendOp, map[string]any{"id": s.ID, "in": map[string]any{"content": "at the cap"}})
	if e.detail("expiresAt") != hubAt(60*time.Minute) {
		t.Errorf("expired at the hard cap: details %+v", e.Extensions["details"])
	}
}

func testHubSendErrors(t *testing.T, dialect store.Dialect) {
	env := newHubEnv(t, dialect, graph.Options{})
	s := env.liveSession(nil) // 30 min, autoRenew

	t.Run("unknown session", func(t *testing.T) {
		for _, id := range []string{testutil.MustUUID(), "abc-123"} {
			e := env.fail("SESSION_NOT_FOUND", hubSendOp, map[string]any{"id": id, "in": map[string]any{"content": "hi"}})
			if e.Message != "Session not found" || e.detail("sessionId") != id {
				t.Errorf("send to %q: %+v, want \"Session not found\" with details.sessionId", id, e)
			}
			if p := fmt.Sprint(e.Path); p != "[sendSessionMessage]" {
				t.Errorf("path = %s", p)
			}
		}
	})

	t.Run("unknown session is reported before bad content", func(t *testing.T) {
		env.fail("SESSION_NOT_FOUND", hubSendOp, map[string]any{"id": testutil.MustUUID(), "in": map[string]any{"content": ""}})
	})

	attachment := func(typ, url string) map[string]any { return map[string]any{"type": typ, "url": url} }
	tooMany := make([]any, 11)
	for i := range tooMany {
		tooMany[i] = attachment("link", fmt.Sprintf("https://example.com/%d", i))
	}
	for _, tc := range []struct {
		name    string
		in      map[string]any
		message string // checked when set
	}{
		{"empty content", map[string]any{"content": ""}, "Content cannot be empty"},
		{"4001 chars", map[string]any{"content": strings.Repeat("a", 4001)}, "Content exceeds maximum length of 4000 characters"},
		{"4001 emoji", map[string]any{"content": strings.Repeat("😀", 4001)}, "Content exceeds maximum length of 4000 characters"},
		{"relative url", map[string]any{"content": "x", "attachments": []any{attachment("image", "/a.png")}}, ""},
		{"not a url", map[string]any{"content": "x", "attachments": []any{attachment("image", "not a url")}}, ""},
		{"ftp url", map[string]any{"content": "x", "attachments": []any{attachment("file", "ftp://example.com/f")}}, ""},
		{"javascript url", map[string]any{"content": "x", "attachments": []any{attachment("link", "javascript:alert(1)")}}, ""},
		{"url without host", map[string]any{"content": "x", "attachments": []any{attachment("link", "https://")}}, ""},
		{"empty url", map[string]any{"content": "x", "attachments": []any{attachment("link", "")}}, ""},
		{"empty type", map[string]any{"content": "x", "attachments": []any{attachment("", "https://example.com/a")}}, ""},
		{"11 attachments", map[string]any{"content": "x", "attachments": tooMany}, ""},
		{"metadata string", map[string]any{"content": "x", "metadata": "x"}, ""},
		{"metadata array", map[string]any{"content": "x", "metadata": []any{1}}, ""},
		{"metadata too large", map[string]any{"content": "x", "metadata": map[string]any{"blob": strings.Repeat("a", 10300)}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Move the clock so that a renewal, had the bad send caused one, shows.
			env.clock.Advance(time.Minute)
			e := env.fail("VALIDATION_ERROR", hubSendOp, map[string]any{"id": s.ID, "in": tc.in})
			if tc.message != "" && e.Message != tc.message {
				t.Errorf("message = %q, want %q", e.Message, tc.message)
			}
			after := env.session(s.ID)
			if after.RenewalCount != 0 || after.ExpiresAt != s.ExpiresAt || after.LastActivity != s.LastActivity ||
				after.Messages == nil || len(after.Messages.Nodes) != 0 {
				t.Errorf("a rejected send changed the session: %+v", after)
			}
		})
	}

	t.Run("limits are inclusive", func(t *testing.T) {
		emoji := strings.Repeat("😀", 4000)
		for _, content := range []string{emoji, strings.Repeat("a", 4000), "a"} {
			m := env.send(s.ID, map[string]any{"content": content})
			if m.Content != content {
				t.Errorf("content of %d code points came back as %d code points", utf8.RuneCountInString(content), utf8.RuneCountInString(m.Content))
			}
		}
		ten := tooMany[:10]
		m := env.send(s.ID, map[string]any{"content": "ten", "attachments": ten})
		if len(m.Attachments) != 10 {
			t.Errorf("10 attachments came back as %d", len(m.Attachments))
		}
		if got := env.session(s.ID); got.RenewalCount != 4 || len(got.Messages.Nodes) != 4 {
			t.Errorf("after 4 accepted sends: renewalCount %d, %d messages", got.RenewalCount, len(got.Messages.Nodes))
		}
	})
}

func testHubExpired(t *testing.T, dialect store.Dialect) {
	env := newHubEnv(t, dialect, graph.Options{})
	s := env.liveSession(nil) // expires at +30 min
	if s.ExpiresAt != hubAt(30*time.Minute) {
		t.Fatalf("expiresAt = %s, want %s", s.ExpiresAt, hubAt(30*time.Minute))
	}

	env.clock.Advance(30*time.Minute - time.Millisecond)
	if got := env.session(s.ID); got.State != "ACTIVE" || got.TimeRemaining != 1 || !got.IsNearExpiration {
		t.Errorf("1 ms before expiry: state %s, timeRemaining %d, isNearExpiration %v", got.State, got.TimeRemaining, got.IsNearExpiration)
	}
	env.clock.Advance(time.Millisecond) // expiresAt <= now: expired

	for i, wait := range []time.Duration{0, 0, time.Hour, 30 * 24 * time.Hour} {
		env.clock.Advance(wait)
		e := env.fail("SESSION_EXPIRED", hubSendOp, map[string]any{"id": s.ID, "in": map[string]any{"content": "late"}})
		if e.Message != "Session has expired" || e.detail("sessionId") != s.ID || e.detail("expiresAt") != s.ExpiresAt {
			t.Errorf("send #%d after expiry: %+v, want \"Session has expired\" with sessionId and expiresAt %s", i, e, s.ExpiresAt)
		}
		got := env.session(s.ID)
		if got.State != "EXPIRED" || got.TimeRemaining != 0 || got.IsNearExpiration || got.RenewalCount != 0 ||
			got.ExpiresAt != s.ExpiresAt || got.LastActivity != s.LastActivity || len(got.Messages.Nodes) != 0 {
			t.Errorf("session after send #%d to the expired session: %+v", i, got)
		}
	}

	t.Run("expired is reported before bad content", func(t *testing.T) {
		env.fail("SESSION_EXPIRED", hubSendOp, map[string]any{"id": s.ID, "in": map[string]any{"content": ""}})
	})
}

func testHubNearExpiration(t *testing.T, dialect store.Dialect) {
	env := newHubEnv(t, dialect, graph.Options{})
	s := env.liveSession(map[string]any{"timeoutMinutes": 10, "warningThresholdMinutes": 5, "autoRenew": false})
	if s.IsNearExpiration || s.TimeRemaining != 600000 {
		t.Fatalf("new session: isNearExpiration %v, timeRemaining %d", s.IsNearExpiration, s.TimeRemaining)
	}
	for _, step := range []struct {
		at   time.Duration
		near bool
	}{
		{5*time.Minute - time.Millisecond, false}, // 5 min + 1 ms left
		{5 * time.Minute, true},                   // exactly the threshold left
		{6 * time.Minute, true},
	} {
		env.clock.Set(hubStart.Add(step.at))
		got := env.session(s.ID)
		left := int((10*time.Minute - step.at).Milliseconds())
		if got.IsNearExpiration != step.near || got.TimeRemaining != left || got.State != "ACTIVE" {
			t.Errorf("at +%v: isNearExpiration %v, timeRemaining %d; want %v, %d", step.at, got.IsNearExpiration, got.TimeRemaining, step.near, left)
		}
	}

	m := env.send(s.ID, map[string]any{"content": "are you there?"})
	want := hubStatus{ExpiresAt: hubAt(10 * time.Minute), RenewalCount: 0, WasRenewed: false, IsNearExpiration: true}
	if m.SessionStatus == nil || *m.SessionStatus != want {
		t.Errorf("sessionStatus = %+v, want %+v", m.SessionStatus, want)
	}
	got := env.session(s.ID)
	if got.LastActivity != hubAt(6*time.Minute) || got.ExpiresAt != hubAt(10*time.Minute) || got.RenewalCount != 0 {
		t.Errorf("session after a send without autoRenew = %+v", got)
	}
}

func testHubTimeFormat(t *testing.T, dialect store.Dialect) {
	env := newHubEnv(t, dialect, graph.Options{})
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), "2025-01-02T03:04:05.000Z"},
		{time.Date(2025, 1, 2, 3, 4, 5, 999999999, time.UTC), "2025-01-02T03:04:05.999Z"}, // truncated, not rounded
		{time.Date(2025, 1, 2, 3, 4, 5, 10000000, time.FixedZone("CEST", 2*3600)), "2025-01-02T01:04:05.010Z"},
	} {
		env.clock.Set(tc.now)
		s := env.liveSession(nil)
		m := env.send(s.ID, map[string]any{"content": "x"})
		wantExpiry := tc.now.Add(30 * time.Minute).UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		for name, got := range map[string]string{
			"createdAt": s.CreatedAt, "lastActivity": s.LastActivity, "message.createdAt": m.CreatedAt,
		} {
			if got != tc.want {
				t.Errorf("%s = %q, want %q", name, got, tc.want)
			}
		}
		if s.ExpiresAt != wantExpiry || m.SessionStatus == nil || m.SessionStatus.ExpiresAt != wantExpiry {
			t.Errorf("expiresAt %q / sessionStatus %+v, want %q", s.ExpiresAt, m.SessionStatus, wantExpiry)
		}
	}
}

// testHubMetadataText checks, on the wire, that numbers in metadata keep the
// text they were sent with (the JSON scalar's promise).
func testHubMetadataText(t *testing.T, dialect store.Dialect) {
	env := newHubEnv(t, dialect, graph.Options{})
	agent := env.createAgent(map[string]any{"name": "Eliza"})
	in := map[string]any{
		"agentId": agent.ID, "userId": testutil.MustUUID(),
		"metadata": map[string]any{"big": json.Number("12345678901234567890"), "f": json.Number("1.50")},
	}
	status, body := env.raw(`mutation($in: CreateSessionInput!) { createSession(input: $in) { id metadata } }`, map[string]any{"in": in})
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	for _, want := range []string{`"big":12345678901234567890`, `"f":1.50`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("response %s lacks %s", body, want)
		}
	}
	var resp struct {
		Data struct{ CreateSession struct{ ID string } }
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	status, body = env.raw(`query($id: ID!) { session(id: $id) { metadata } }`, map[string]any{"id": resp.Data.CreateSession.ID})
	for _, want := range []string{`"big":12345678901234567890`, `"f":1.50`} {
		if status != http.StatusOK || !bytes.Contains(body, []byte(want)) {
			t.Errorf("read back (status %d) %s lacks %s", status, body, want)
		}
	}
}

// TestGraphQLErrorsDoNotLeak checks that what the client sees of an error is
// a GraphQL-level code or a coded application error, never Go error text.
func TestGraphQLErrorsDoNotLeak(t *testing.T) {
	env := newHubEnv(t, store.SQLite, graph.Options{})
	s := env.liveSession(nil)

	t.Run("unknown field is a validation error", func(t *testing.T) {
		status, errs, data := env.rawErrors(`query($id: ID!) { session(id: $id) { id nope } }`, map[string]any{"id": s.ID})
		if status != http.StatusOK || len(errs) != 1 || data != nil {
			t.Fatalf("status %d, errors %+v, data %v; want 200 (application/json) with one error and no data", status, errs, data)
		}
		if errs[0].code() != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(errs[0].Message, `Cannot query field "nope"`) {
			t.Errorf("error %+v, want GRAPHQL_VALIDATION_FAILED about field nope", errs[0])
		}
	})

	t.Run("syntax error is a parse error", func(t *testing.T) {
		status, errs, _ := env.rawErrors(`query { session(id: "x") { id `, nil)
		if status != http.StatusOK || len(errs) != 1 || errs[0].code() != "GRAPHQL_PARSE_FAILED" {
			t.Errorf("status %d, errors %+v; want 200 GRAPHQL_PARSE_FAILED", status, errs)
		}
	})

	t.Run("literal of the wrong type is a validation error", func(t *testing.T) {
		status, errs, _ := env.rawErrors(`mutation($id: ID!) { sendSessionMessage(sessionId: $id, input: {content: 5}) { id } }`, map[string]any{"id": s.ID})
		if status != http.StatusOK || len(errs) == 0 || errs[0].code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("status %d, errors %+v; want 200 GRAPHQL_VALIDATION_FAILED", status, errs)
		}
	})

	t.Run("missing variable", func(t *testing.T) {
		status, errs, _ := env.rawErrors(hubSendOp, map[string]any{"in": map[string]any{"content": "x"}})
		if status != http.StatusOK || len(errs) == 0 || errs[0].code() != "GRAPHQL_VALIDATION_FAILED" || len(errs[0].Path) != 0 {
			t.Errorf("status %d, errors %+v; want 200 GRAPHQL_VALIDATION_FAILED without a path", status, errs)
		}
	})

	t.Run("undecodable body is not echoed", func(t *testing.T) {
		secret := strings.Repeat("do-not-echo-", 8000) // ~96 KB, under the body limit
		for name, body := range map[string]string{
			"malformed JSON":       `{"query":"` + secret,
			"query not a string":   `{"query":5,"variables":{"x":"` + secret + `"}}`,
			"variables not object": `{"query":"{ __typename }","variables":"` + secret + `"}`,
			"not an object":        `"` + secret + `"`,
		} {
			req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			env.handler.ServeHTTP(rec, req)
			var resp struct{ Errors []hubError }
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Errors) != 1 {
				t.Fatalf("%s: %d %.300s, want one error", name, rec.Code, rec.Body)
			}
			if rec.Code != http.StatusBadRequest || resp.Errors[0].code() != "BAD_REQUEST" {
				t.Errorf("%s: %d %+v, want 400 BAD_REQUEST", name, rec.Code, resp.Errors[0])
			}
			if rec.Body.Len() > 300 || strings.Contains(rec.Body.String(), "do-not-echo") {
				t.Errorf("%s: answer of %d bytes repeats the body: %.300s", name, rec.Body.Len(), rec.Body)
			}
		}
	})

	coded := []struct {
		name, code, message string
		vars                map[string]any
		details             []string
	}{
		{"not found", "SESSION_NOT_FOUND", "Session not found",
			map[string]any{"id": testutil.MustUUID(), "in": map[string]any{"content": "x"}}, []string{"sessionId"}},
		{"validation", "VALIDATION_ERROR", "Content exceeds maximum length of 4000 characters",
			map[string]any{"id": s.ID, "in": map[string]any{"content": strings.Repeat("a", 4001)}}, nil},
		{"coercion", "VALIDATION_ERROR", "Metadata must be a JSON object",
			map[string]any{"id": s.ID, "in": map[string]any{"content": "x", "metadata": "x"}}, nil},
	}
	for _, tc := range coded {
		t.Run("coded "+tc.name, func(t *testing.T) {
			status, body := env.raw(hubSendOp, tc.vars)
			if status != http.StatusOK {
				t.Errorf("status %d, want 200", status)
			}
			if bytes.Contains(body, []byte(tc.code+": ")) {
				t.Errorf("body carries Go error text %q: %s", tc.code+": ", body)
			}
			var resp struct{ Errors []hubError }
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatal(err)
			}
			if len(resp.Errors) != 1 {
				t.Fatalf("errors = %+v, want one", resp.Errors)
			}
			e := resp.Errors[0]
			hubCheckClean(t, e.Message)
			if e.Message != tc.message || e.code() != tc.code {
				t.Errorf("error = %+v, want %s %q", e, tc.code, tc.message)
			}
			keys := make([]string, 0, len(e.Extensions))
			for k := range e.Extensions {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if tc.details != nil {
				if !slices.Equal(keys, []string{"code", "details"}) {
					t.Errorf("extensions keys %v, want [code details]", keys)
				}
				for _, k := range tc.details {
					if e.detail(k) == nil {
						t.Errorf("details lack %s: %+v", k, e.Extensions)
					}
				}
			} else if !slices.Contains(keys, "code") {
				t.Errorf("extensions %+v lack code", e.Extensions)
			}
		})
	}
}

// TestGraphQLIntrospection checks that Options.Introspection switches
// __schema and __type on and off.
func TestGraphQLIntrospection(t *testing.T) {
	const schemaOp = `{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }`
	const typeOp = `{ __type(name: "Session") { name fields { name } } }`

	t.Run("off", func(t *testing.T) {
		var logs testutil.SyncBuffer
		env := newHubEnv(t, store.SQLite, graph.Options{Introspection: false, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		nested := `query { ... on Query { session(id: "x") { id } } ...F } fragment F on Query { __type(name: "Session") { name } }`
		for _, op := range []string{schemaOp, typeOp, nested} {
			status, errs, data := env.rawErrors(op, nil)
			if len(errs) == 0 {
				t.Errorf("%s succeeded with introspection off: %v", op, data)
			} else if status != http.StatusOK || errs[0].code() != "GRAPHQL_VALIDATION_FAILED" ||
				errs[0].Message != "GraphQL introspection is not allowed on this server" {
				// 200: a document error answered as application/json (GraphQL over HTTP)
				t.Errorf("%s: %d %+v, want 200 GRAPHQL_VALIDATION_FAILED: introspection is not allowed", op, status, errs[0])
			}
			if data["__schema"] != nil || data["__type"] != nil {
				t.Errorf("%s returned data %v with introspection off", op, data)
			}
			var resp struct{ Schema any }
			if err := env.client.Post(op, &resp); err == nil {
				t.Errorf("client.Post(%s) succeeded with introspection off", op)
			}
		}
		var typename struct {
			Typename string `json:"__typename"`
		}
		env.post(&typename, `{ __typename }`, nil)
		if typename.Typename != "Query" {
			t.Errorf("__typename = %q, want Query (not introspection)", typename.Typename)
		}
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("a refused introspection was logged as an error:\n%s", logs.String())
		}
	})

	t.Run("on", func(t *testing.T) {
		env := newHubEnv(t, store.SQLite, graph.Options{Introspection: true})
		var schema struct {
			Schema struct {
				QueryType, MutationType, SubscriptionType struct{ Name string }
			} `json:"__schema"`
		}
		env.post(&schema, schemaOp, nil)
		s := schema.Schema
		if s.QueryType.Name != "Query" || s.MutationType.Name != "Mutation" || s.SubscriptionType.Name != "Subscription" {
			t.Errorf("__schema = %+v", s)
		}
		var typ struct {
			Type struct {
				Name   string
				Fields []struct{ Name string }
			} `json:"__type"`
		}
		env.post(&typ, typeOp, nil)
		var fields []string
		for _, f := range typ.Type.Fields {
			fields = append(fields, f.Name)
		}
		for _, want := range []string{"id", "state", "timeRemaining", "isNearExpiration", "renewalCount", "timeoutConfig", "messages"} {
			if !slices.Contains(fields, want) {
				t.Errorf("__type(Session) fields %v lack %s", fields, want)
			}
		}
	})
}
