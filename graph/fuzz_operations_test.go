package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sessionhub/graph"
	"sessionhub/internal/chat"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// leaks are fragments of internal text that must never reach a client.
var leaks = []string{"runtime error", "panic", "sql:", "gorm", "pgx", "sqlite", "SQLSTATE", "goroutine"}

// FuzzGraphQL posts arbitrary operations and variables: never a 5xx, never
// an INTERNAL error (bad input is the client's fault, not a server fault),
// never internal text.
func FuzzGraphQL(f *testing.F) {
	st := testutil.OpenStore(f, store.SQLite)
	svc := chat.New(st, testutil.NewClock(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)), models.DefaultSessionPolicy())
	agent, err := svc.CreateAgent(context.Background(), chat.CreateAgentInput{Name: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	session, err := svc.CreateSession(context.Background(), chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
	if err != nil {
		f.Fatal(err)
	}
	handler := graph.NewHandler(svc, graph.Options{Logger: testutil.Logger(), MaxBodyBytes: 128 << 10, Introspection: true})
	id := session.ID.String()
	for _, seed := range []struct{ query, vars string }{
		{`mutation($id: ID!, $in: SendSessionMessageInput!) { sendSessionMessage(sessionId: $id, input: $in) { id sessionStatus { renewalCount } } }`, `{"id":"` + id + `","in":{"content":"hi","metadata":{"a":1}}}`},
		{`mutation($id: ID!, $in: SendSessionMessageInput!) { sendSessionMessage(sessionId: $id, input: $in) { id } }`, `{"id":"` + id + `","in":{"content":"hi","metadata":"str","attachments":[{"type":"","url":"x"}]}}`},
		{`mutation { createAgent(input: {name: "x", sessionDefaults: {timeoutMinutes: 99999999999999999999}}) { id } }`, `{}`},
		{`mutation($a: ID!) { createSession(input: {agentId: $a, userId: "nope", metadata: [1]}) { id } }`, `{"a":"` + agent.ID.String() + `"}`},
		{`{ session(id: "x") { id messages(first: 101, after: "garbage") { nodes { id } } } }`, `{}`},
		{`{ sessions(first: 100000, filter: {agentId: "nope", state: ACTIVE}) { nodes { id } } }`, `{}`},
		{`{ sessions { edges { node { messages { edges { node { sessionStatus { expiresAt } } } } } } } }`, `{}`},
		{`{ a0: __typename a1: __typename a2: __typename a3: __typename a4: __typename a5: __typename a6: __typename a7: __typename a8: __typename a9: __typename b0: __typename b1: __typename b2: __typename b3: __typename b4: __typename b5: __typename b6: __typename }`, `{}`},
		{`{ __schema { types { name } } }`, `{}`},
		{`query { session(id: `, `{}`},
		{`subscription { sessionEvents(sessionId: "x") { sessionId } }`, `{}`},
		{`mutation($t: TimeoutConfigInput!) { updateSessionTimeout(sessionId: "` + id + `", input: $t) { id } }`, `{"t":{"timeoutMinutes":"soon","autoRenew":1}}`},
	} {
		f.Add(seed.query, []byte(seed.vars))
	}
	f.Fuzz(func(t *testing.T, query string, variables []byte) {
		body := map[string]any{"query": query}
		var vars map[string]any
		if json.Unmarshal(variables, &vars) == nil {
			body["variables"] = vars
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return
		}
		req := httptest.NewRequest("POST", "/query", bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var res struct {
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("response is not JSON: %s", rec.Body)
		}
		for _, e := range res.Errors {
			if e.Extensions["code"] == string(models.CodeInternal) {
				t.Fatalf("bad input answered as INTERNAL: %q for %s", e.Message, raw)
			}
			for _, leak := range leaks {
				if strings.Contains(strings.ToLower(e.Message), strings.ToLower(leak)) {
					t.Fatalf("error message leaks %q: %q", leak, e.Message)
				}
			}
		}
	})
}
