package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// TestUpdateSessionRetriesAfterAConcurrentWrite: on PostgreSQL a write is
// applied only to the version it read. Another write landing between the
// read and the write makes apply run again on the new state, so no update
// is lost and the message is stored once.
func TestUpdateSessionRetriesAfterAConcurrentWrite(t *testing.T) {
	ctx := context.Background()
	s := testutil.OpenStore(t, store.Postgres)
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	agent := &models.Agent{ID: uuid.New(), Name: "a", CreatedAt: now}
	if err := s.CreateAgent(ctx, agent); err != nil {
		t.Fatal(err)
	}
	cfg := models.DefaultSessionPolicy().Resolve()
	sess := models.NewSession(uuid.New(), agent.ID, uuid.New(), nil, cfg, now)
	sess.Metadata = models.JSONObject("{}")
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}

	calls := 0
	msgID := uuid.New()
	updated, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
		calls++
		if calls == 1 { // another writer gets in between our read and our write
			if _, err := s.UpdateSession(ctx, sess.ID, func(other *models.Session) (*models.Message, error) {
				other.RenewalCount += 10
				return nil, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		cur.RenewalCount++
		return &models.Message{ID: msgID, SessionID: cur.ID, AuthorID: cur.UserID, Content: "x",
			Metadata: models.JSONObject("{}"), CreatedAt: now}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || updated.RenewalCount != 11 {
		t.Errorf("apply ran %d times, renewal count %d; want 2 and 11 (the other write kept)", calls, updated.RenewalCount)
	}
	stored, err := s.FindSession(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	var messages int64
	s.DB().Table("messages").Where("session_id = ?", sess.ID).Count(&messages)
	if stored.RenewalCount != 11 || stored.Version != 2 || messages != 1 {
		t.Errorf("stored renewal_count %d, version %d, %d messages; want 11, 2, 1", stored.RenewalCount, stored.Version, messages)
	}
}
