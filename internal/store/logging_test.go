package store_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strconv"
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

// TestSlowAndFailedStatementLogsHoldNoValues: no bound value reaches the
// log, whether the statement failed or was slow, with named parameters
// (@name with sql.Named or a map) or positional ones, through Exec, Find
// or Scan (whose own recorder writes values into the text). The slow
// statements really are slow: on PostgreSQL pg_sleep, on SQLite a write
// that waits for another connection's write lock.
func TestSlowAndFailedStatementLogsHoldNoValues(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		var logs testutil.SyncBuffer
		url := testutil.DatabaseURL(t, dialect)
		s, err := store.Open(context.Background(), url, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		logs.Take() // migrations
		secrets := []string{"secret-named-value", "secret-map-value", "secret-positional-value", "secret-exec-value"}
		const number = 987654321
		db := s.DB()
		var out []string
		// Failed statements, by every way of binding.
		db.Raw("SELECT nosuchcol FROM agents WHERE name = @name AND id <> @n", sql.Named("name", secrets[0]), sql.Named("n", number)).Scan(&out)
		db.Raw("SELECT nosuchcol FROM agents WHERE name = @name", map[string]any{"name": secrets[1]}).Scan(&out)
		db.Raw("SELECT nosuchcol FROM agents WHERE name = ?", secrets[2]).Find(&out)
		db.Exec("UPDATE agents SET nosuchcol = @v", sql.Named("v", secrets[3]))
		failed := logs.Take()
		if n := strings.Count(failed, "level=ERROR"); n != 4 || !strings.Contains(failed, "FROM agents WHERE name = ") {
			t.Errorf("want 4 failed statements logged with their text, got %d:\n%s", n, failed)
		}

		// Slow statements.
		slowSecret := "secret-slow-value"
		switch dialect {
		case store.Postgres:
			db.Raw("SELECT CAST(@v AS text) FROM pg_sleep(0.3)", sql.Named("v", slowSecret)).Scan(&out)
		case store.SQLite:
			agent := &models.Agent{ID: uuid.New(), Name: "a", CreatedAt: t0}
			if err := s.CreateAgent(context.Background(), agent); err != nil {
				t.Fatal(err)
			}
			other := testutil.OpenStoreAt(t, url) // another process's connection
			if err := other.DB().Exec("BEGIN IMMEDIATE").Error; err != nil {
				t.Fatal(err)
			}
			time.AfterFunc(400*time.Millisecond, func() { other.DB().Exec("COMMIT") })
			err := db.Raw("UPDATE agents SET name = @v WHERE id = @id RETURNING name", sql.Named("v", slowSecret), sql.Named("id", agent.ID)).Scan(&out).Error
			if err != nil {
				t.Fatal(err)
			}
		}
		slow := logs.Take()
		if !strings.Contains(slow, "level=WARN") || !strings.Contains(slow, "SQL executed") {
			t.Errorf("the slow statement was not logged:\n%s", slow)
		}
		for _, v := range append(secrets, slowSecret, strconv.Itoa(number)) {
			if strings.Contains(failed+slow, v) {
				t.Errorf("the log holds the bound value %q:\n%s%s", v, failed, slow)
			}
		}
	})
}
