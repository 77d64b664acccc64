package chat_test

import (
	"context"
	"testing"
	"time"

	"sessionhub/internal/chat"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// BenchmarkSendSQLite is the service's send path on the embedded database.
//
//	go test -run '^$' -bench BenchmarkSend -benchmem ./internal/chat/
func BenchmarkSendSQLite(b *testing.B) {
	ctx := context.Background()
	svc := chat.New(testutil.OpenStore(b, store.SQLite), models.SystemClock{}, models.DefaultSessionPolicy())
	agent, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	session, err := svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID(),
		Timeout: models.TimeoutOverrides{TimeoutMinutes: new(1440), MaxDurationMinutes: new(2880)}})
	if err != nil {
		b.Fatal(err)
	}
	id := session.ID.String()
	in := models.MessageInput{Content: "benchmark message", Metadata: models.JSONObject(`{"source":"bench"}`)}
	start := time.Now()
	for b.Loop() {
		if _, err := svc.SendMessage(ctx, id, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sends/s")
}
