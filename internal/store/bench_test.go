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

// BenchmarkRetentionSweep deletes 100,000 expired sessions (two messages
// each) in bounded batches beside 1,000 live ones, and reports the whole
// sweep's time and its longest batch — how long one statement holds its
// row locks.
//
//	CI=true go test -run '^$' -bench BenchmarkRetentionSweep -benchtime 1x ./internal/store/
func BenchmarkRetentionSweep(b *testing.B) {
	ctx := context.Background()
	const expired, live, batch = 100_000, 1_000, 500
	for b.Loop() {
		b.StopTimer()
		s := testutil.OpenStore(b, store.Postgres)
		now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
		agent := &models.Agent{ID: uuid.New(), Name: "bench", CreatedAt: now}
		if err := s.CreateAgent(ctx, agent); err != nil {
			b.Fatal(err)
		}
		if err := s.DB().Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("SET LOCAL statement_timeout = 0").Error; err != nil {
				return err
			}
			// Sessions created over the past weeks; the first 100,000 expired days ago.
			if err := tx.Exec(`INSERT INTO sessions (id, agent_id, user_id, created_at, last_activity, expires_at,
				timeout_minutes, auto_renew, max_duration_minutes, warning_threshold_minutes, expiry_notified)
			SELECT gen_random_uuid(), ?, gen_random_uuid(), t, t, t + interval '30 minutes', 30, true, 720, 5, i <= ?
			FROM generate_series(1, ?) AS i, LATERAL (SELECT ?::timestamptz - (? - i) * interval '20 seconds' - interval '2 days' * (i <= ?)::int AS t) AS c`,
				agent.ID, expired, expired+live, now, expired+live, expired).Error; err != nil {
				return err
			}
			if err := tx.Exec(`UPDATE sessions SET expires_at = ?::timestamptz + interval '1 hour' WHERE NOT expiry_notified`, now).Error; err != nil {
				return err
			}
			return tx.Exec(`INSERT INTO messages (id, session_id, author_id, is_agent, content, metadata, attachments, created_at)
			SELECT gen_random_uuid(), s.id, s.user_id, m = 2, 'message', '{}', '[]', s.created_at FROM sessions s, generate_series(1, 2) AS m`).Error
		}); err != nil {
			b.Fatal(err)
		}
		if err := s.DB().Exec("ANALYZE sessions; ANALYZE messages").Error; err != nil {
			b.Fatal(err)
		}
		cutoff := now.Add(-24 * time.Hour)
		b.StartTimer()

		removed, longest := 0, time.Duration(0)
		for {
			began := time.Now()
			n, err := s.DeleteExpired(ctx, cutoff, batch)
			if err != nil {
				b.Fatal(err)
			}
			longest = max(longest, time.Since(began))
			removed += n
			if n < batch {
				break
			}
		}
		b.StopTimer()
		if removed != expired {
			b.Fatalf("removed %d sessions, want %d", removed, expired)
		}
		var left int64
		s.DB().Table("sessions").Count(&left)
		if left != live {
			b.Fatalf("%d sessions left, want the %d live ones", left, live)
		}
		b.ReportMetric(float64(longest.Microseconds())/1000, "ms/longest-batch")
		b.StartTimer()
	}
}
