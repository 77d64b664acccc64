package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"sessionhub/graph"
	"sessionhub/internal/chat"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// BenchmarkSendMutation executes sendSessionMessage in process (SQLite).
//
//	go test -run '^$' -bench BenchmarkSendMutation -benchmem ./graph/
func BenchmarkSendMutation(b *testing.B) {
	_, session, handler := benchSession(b, store.SQLite)
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($id: ID!) { sendSessionMessage(sessionId: $id, input: {content: "hi"}) { id sessionStatus { expiresAt renewalCount wasRenewed isNearExpiration } } }`,
		"variables": map[string]any{"id": session.ID.String()},
	})
	for b.Loop() {
		req := httptest.NewRequest("POST", "/query", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != 200 || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkReadQueries executes the two reads cmd/loadgen measures, in
// process: a session's 20 newest messages and one session by id, on each
// database (PostgreSQL from TEST_DATABASE_URL).
//
//	CI=true go test -run '^$' -bench BenchmarkReadQueries -benchmem ./graph/
func BenchmarkReadQueries(b *testing.B) {
	ctx := context.Background()
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			svc, session, handler := benchSession(b, dialect)
			for range 40 {
				if _, err := svc.SendMessage(ctx, session.ID.String(), models.MessageInput{Content: "Hello, how are you?"}); err != nil {
					b.Fatal(err)
				}
			}
			for name, query := range map[string]string{
				"history": `query($id: ID!) { session(id: $id) { messages(first: 20) { edges { cursor node {
					id content authorId isAgent createdAt metadata attachments { type url } } } pageInfo { hasNextPage endCursor } } } }`,
				"session": `query($id: ID!) { session(id: $id) { id agentId userId createdAt lastActivity expiresAt timeRemaining
					isNearExpiration renewalCount metadata timeoutConfig { timeoutMinutes autoRenew maxDurationMinutes } } }`,
			} {
				body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"id": session.ID.String()}})
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						req := httptest.NewRequest("POST", "/query", bytes.NewReader(body))
						req.Header.Set("Content-Type", "application/json")
						rec := httptest.NewRecorder()
						handler.ServeHTTP(rec, req)
						if rec.Code != 200 || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
							b.Fatalf("%d %s", rec.Code, rec.Body)
						}
					}
				})
			}
		})
	}
}

// benchSession is a service on dialect's database with one session, and the
// GraphQL handler in front of it.
func benchSession(b *testing.B, dialect store.Dialect) (*chat.Service, *models.Session, http.Handler) {
	ctx := context.Background()
	svc := chat.New(testutil.OpenStore(b, dialect), testutil.NewClock(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)), models.DefaultSessionPolicy())
	agent, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	session, err := svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
	if err != nil {
		b.Fatal(err)
	}
	return svc, session, graph.NewHandler(svc, graph.Options{Logger: testutil.Logger()})
}
