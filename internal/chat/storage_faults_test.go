package chat_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sessionhub/internal/chat"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// TestSendToReadOnlyPostgres: a send to a PostgreSQL database that turned
// read-only is refused at once with UNAVAILABLE "read-only" — a certain
// failure, not a commit whose outcome is unknown — and goes through again
// once the database is writable, without restarting anything.
func TestSendToReadOnlyPostgres(t *testing.T) {
	url := testutil.DatabaseURL(t, store.Postgres)
	e := &serviceEnv{ctx: context.Background(), store: testutil.OpenStoreAt(t, url), clock: testutil.NewClock(serviceStart)}
	e.svc = chat.New(e.store, e.clock, models.DefaultSessionPolicy())
	agent, err := e.svc.CreateAgent(e.ctx, chat.CreateAgentInput{Name: "helper"})
	if err != nil {
		t.Fatal(err)
	}
	e.agent = agent
	session := e.openSession(t, models.TimeoutOverrides{})
	e.send(t, session.ID, "before")

	admin, err := pgx.Connect(e.ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(e.ctx)
	setReadOnly := func(on bool) {
		t.Helper()
		stmt := "ALTER DATABASE " + admin.Config().Database + " RESET default_transaction_read_only"
		if on {
			stmt = "ALTER DATABASE " + admin.Config().Database + " SET default_transaction_read_only = on"
		}
		if _, err := admin.Exec(e.ctx, stmt); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(e.ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			t.Fatal(err)
		}
	}
	send := func() error {
		_, err := e.svc.SendMessage(e.ctx, session.ID.String(), models.MessageInput{Content: "x"})
		return err
	}

	setReadOnly(true)
	var last error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		last = send()
		if got, ok := errors.AsType[*models.Error](last); ok && got.Message == models.ErrStorageReadOnly().Message {
			break // connections the server ended answered "unavailable" first
		}
		if time.Now().After(deadline) {
			t.Fatalf("send to a read-only database: %v, want UNAVAILABLE read-only", last)
		}
	}
	if models.ErrorCode(last) != models.CodeUnavailable {
		t.Errorf("code %s, want UNAVAILABLE", models.ErrorCode(last))
	}
	if n := e.messageCount(t, session.ID); n != 1 {
		t.Errorf("%d messages stored, want 1", n)
	}

	setReadOnly(false)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if last = send(); last == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("send once writable: %v", last)
		}
	}
}
