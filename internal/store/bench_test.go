package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// BenchmarkHistoryPage reads the newest page, and a page deep in the
// history, of a session holding 1,000 and 1,000,000 messages: keyset paging
// should cost the same at either size.
//
//	CI=true go test -run '^$' -bench BenchmarkHistoryPage -benchtime 2000x ./internal/store/
func BenchmarkHistoryPage(b *testing.B) {
	ctx := context.Background()
	s := testutil.OpenStore(b, store.Postgres)
	now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	agent := &models.Agent{ID: uuid.New(), Name: "bench", CreatedAt: now}
	if err := s.CreateAgent(ctx, agent); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1_000, 1_000_000} {
		sess := models.NewSession(uuid.New(), agent.ID, uuid.New(), models.JSONObject("{}"), models.DefaultSessionPolicy().Resolve(), now)
		if err := s.CreateSession(ctx, sess); err != nil {
			b.Fatal(err)
		}
		// One message per millisecond, oldest first (a bulk load: no statement timeout).
		if err := s.DB().Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("SET LOCAL statement_timeout = 0").Error; err != nil {
				return err
			}
			return tx.Exec(`INSERT INTO messages (id, session_id, author_id, is_agent, content, metadata, attachments, created_at)
			SELECT gen_random_uuid(), ?, ?, false, 'message ' || i, '{}', '[]', ?::timestamptz + i * interval '1 millisecond'
			FROM generate_series(1, ?) AS i`, sess.ID, sess.UserID, now, size).Error
		}); err != nil {
			b.Fatal(err)
		}
		if err := s.DB().Exec("ANALYZE messages").Error; err != nil {
			b.Fatal(err)
		}
		middle := models.Before(now.Add(time.Duration(size/2) * time.Millisecond))
		for name, q := range map[string]models.ListQuery{
			"newest": {Limit: 51},
			"middle": {Older: &middle, Limit: 51},
		} {
			b.Run(fmt.Sprintf("%d/%s", size, name), func(b *testing.B) {
				for b.Loop() {
					page, err := s.ListMessages(ctx, sess.ID, q)
					if err != nil || len(page) != 51 {
						b.Fatalf("%d messages, %v", len(page), err)
					}
				}
			})
		}
	}
}
