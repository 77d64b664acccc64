package store_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// TestGormLogsThroughSlog: GORM's statement errors reach slog, without bind
// values, while outcomes the service answers (a missing row, a duplicate
// key, a caller that hung up) stay quiet.
func TestGormLogsThroughSlog(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		var logs testutil.SyncBuffer
		s, err := store.Open(context.Background(), testutil.DatabaseURL(t, dialect), slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		ctx := context.Background()
		logs.Take() // migrations

		if _, err := s.FindAgent(ctx, uuid.New()); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("FindAgent of an unknown id: %v", err)
		}
		agent := &models.Agent{ID: uuid.New(), Name: "secret-agent-name", CreatedAt: t0}
		if err := s.CreateAgent(ctx, agent); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAgent(ctx, agent); err == nil {
			t.Fatal("a duplicate agent id was accepted")
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, _ = s.FindAgent(cancelled, agent.ID)
		if quiet := logs.Take(); quiet != "" {
			t.Errorf("expected outcomes were logged:\n%s", quiet)
		}

		expired, stop := context.WithDeadline(ctx, time.Now().Add(-time.Second))
		defer stop()
		if _, err := s.FindAgent(expired, agent.ID); err == nil {
			t.Fatal("a query past its deadline succeeded")
		}
		logged := logs.Take()
		if !strings.Contains(logged, "level=ERROR") || !strings.Contains(logged, "deadline exceeded") {
			t.Errorf("a statement that failed was not logged as an error:\n%s", logged)
		}
		if strings.Contains(logged, agent.ID.String()) {
			t.Errorf("the log holds a bind value:\n%s", logged)
		}
	})
}
