package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	ctx := context.Background()
	svc := chat.New(testutil.OpenStore(b, store.SQLite), testutil.NewClock(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)), models.DefaultSessionPolicy())
	agent, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	session, err := svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
	if err != nil {
		b.Fatal(err)
	}
	handler := graph.NewHandler(svc, graph.Options{Logger: testutil.Logger()})
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
