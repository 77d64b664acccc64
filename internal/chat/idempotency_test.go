package chat_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/chat"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

func TestIdempotentSends(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			st := testutil.OpenStore(t, dialect)
			clock := testutil.NewClock(time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC))
			svc := chat.New(st, clock, models.DefaultSessionPolicy())
			agent, err := svc.CreateAgent(ctx, chat.CreateAgentInput{Name: "idem"})
			if err != nil {
				t.Fatal(err)
			}
			newSession := func() string {
				s, err := svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agent.ID.String(), UserID: testutil.MustUUID()})
				if err != nil {
					t.Fatal(err)
				}
				return s.ID.String()
			}
			stored := func(sessionID string) (messages int64, renewals int) {
				st.DB().Table("messages").Where("session_id = ?", sessionID).Count(&messages)
				st.DB().Table("sessions").Select("renewal_count").Where("id = ?", sessionID).Scan(&renewals)
				return
			}
			in := models.MessageInput{Content: "pay the invoice", IdempotencyKey: "key-1"}

			t.Run("a retry replays the first result", func(t *testing.T) {
				id := newSession()
				first, err := svc.SendMessage(ctx, id, in)
				if err != nil {
					t.Fatal(err)
				}
				clock.Advance(time.Minute)
				again, err := svc.SendMessage(ctx, id, in)
				if err != nil {
					t.Fatal(err)
				}
				if again.ID != first.ID || *again.SessionStatus != *first.SessionStatus {
					t.Errorf("replay %+v %+v, want the first result %+v %+v", again.ID, again.SessionStatus, first.ID, first.SessionStatus)
				}
				if n, r := stored(id); n != 1 || r != 1 {
					t.Errorf("%d messages and renewal_count %d after a replay, want 1 and 1", n, r)
				}
			})

			t.Run("the same key with another body is a conflict", func(t *testing.T) {
				id := newSession()
				in := in
				in.IdempotencyKey = "key-2"
				if _, err := svc.SendMessage(ctx, id, in); err != nil {
					t.Fatal(err)
				}
				other := in
				other.Content = "pay it twice"
				if _, err := svc.SendMessage(ctx, id, other); models.ErrorCode(err) != models.CodeIdempotencyConflict {
					t.Errorf("got %v, want IDEMPOTENCY_CONFLICT", err)
				}
				if _, err := svc.SendMessage(ctx, newSession(), in); models.ErrorCode(err) != models.CodeIdempotencyConflict {
					t.Errorf("same key for another session: %v, want IDEMPOTENCY_CONFLICT", err)
				}
				if n, r := stored(id); n != 1 || r != 1 {
					t.Errorf("%d messages, renewal_count %d; want 1 and 1", n, r)
				}
			})

			t.Run("keys are scoped to the caller", func(t *testing.T) {
				id := newSession()
				alice := models.WithPrincipal(ctx, models.Principal{Role: models.RoleAdmin, Scope: "key:alice"})
				bob := models.WithPrincipal(ctx, models.Principal{Role: models.RoleAdmin, Scope: "key:bob"})
				a, err := svc.SendMessage(alice, id, models.MessageInput{Content: "x", IdempotencyKey: "shared"})
				if err != nil {
					t.Fatal(err)
				}
				b, err := svc.SendMessage(bob, id, models.MessageInput{Content: "x", IdempotencyKey: "shared"})
				if err != nil {
					t.Fatal(err)
				}
				if a.ID == b.ID {
					t.Error("two callers' keys collided")
				}
			})

			t.Run("a key is forgotten after 24 hours", func(t *testing.T) {
				clock.Set(time.Date(2026, 2, 10, 8, 0, 0, 0, time.UTC))
				id := newSession()
				first, err := svc.SendMessage(ctx, id, models.MessageInput{Content: "daily", IdempotencyKey: "daily-key"})
				if err != nil {
					t.Fatal(err)
				}
				clock.Advance(10 * time.Minute)
				if _, err := svc.SendMessage(ctx, id, models.MessageInput{Content: "keepalive"}); err != nil {
					t.Fatal(err)
				}
				clock.Advance(24 * time.Hour) // the session has expired by now; open a new one
				id2 := newSession()
				second, err := svc.SendMessage(ctx, id2, models.MessageInput{Content: "daily", IdempotencyKey: "daily-key"})
				if err != nil {
					t.Fatalf("reused key after 24h: %v", err)
				}
				if second.ID == first.ID {
					t.Error("a day-old key still replayed")
				}
				if n, err := svc.ForgetIdempotencyKeys(ctx); err != nil || n == 0 {
					t.Errorf("ForgetIdempotencyKeys = %d, %v; want old keys removed", n, err)
				}
			})

			t.Run("concurrent requests with one key store one message", func(t *testing.T) {
				id := newSession()
				const racers = 32
				ids := make([]uuid.UUID, racers)
				var wg sync.WaitGroup
				for i := range racers {
					wg.Go(func() {
						m, err := svc.SendMessage(ctx, id, models.MessageInput{Content: "once", IdempotencyKey: "race"})
						if err != nil {
							t.Errorf("racer %d: %v", i, err)
							return
						}
						ids[i] = m.ID
					})
				}
				wg.Wait()
				for i := range ids {
					if ids[i] != ids[0] {
						t.Fatalf("racers got different messages: %v vs %v", ids[i], ids[0])
					}
				}
				if n, r := stored(id); n != 1 || r != 1 {
					t.Errorf("%d messages, renewal_count %d after %d racing retries; want 1 and 1", n, r, racers)
				}
			})

			t.Run("bad keys are rejected", func(t *testing.T) {
				id := newSession()
				long := make([]byte, 256)
				for i := range long {
					long[i] = 'k'
				}
				if _, err := svc.SendMessage(ctx, id, models.MessageInput{Content: "x", IdempotencyKey: string(long)}); models.ErrorCode(err) != models.CodeValidation {
					t.Errorf("256-char key: %v, want VALIDATION_ERROR", err)
				}
			})
		})
	}
}
