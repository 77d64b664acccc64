package store_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// Deliveries drawn while workers lease and finish others (delivered, or
// retried at once) all end up delivered, in order per session: no session
// is left without its head (a pending delivery no lease would find), and
// every head row is its session's oldest pending delivery throughout.
// Several workers on their own connections on PostgreSQL; both databases.
func TestSessionHeadsFollowDrawsAndAttempts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		ctx := context.Background()
		s := testutil.OpenStore(t, dialect)
		a := hookedAgent(t, s)
		sessions := make([]uuid.UUID, 12)
		for i := range sessions {
			sessions[i] = uuid.New()
		}
		now := t0.Add(time.Hour)
		const draws = 60
		var (
			seq      atomic.Int64
			drawn    atomic.Int64
			drawing  = make(chan struct{})
			mu       sync.Mutex
			received = map[uuid.UUID][]uuid.UUID{} // session → delivered ids (made in feed order), in delivery order
		)
		go func() {
			defer close(drawing)
			for range draws {
				var batch []*models.Delivery
				for range 1 + rand.IntN(4) {
					batch = append(batch, pendingDelivery(a.ID, sessions[rand.IntN(len(sessions))], seq.Add(1), t0))
				}
				addToOutbox(t, s, a.ID, batch...)
				drawn.Add(int64(len(batch)))
			}
		}()
		worker := func() {
			idle := 0
			for idle < 3 {
				leased, err := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 4, 4, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if len(leased) == 0 {
					select {
					case <-drawing:
						idle++
					default:
					}
					time.Sleep(time.Millisecond)
					continue
				}
				idle = 0
				for _, d := range leased {
					if rand.IntN(4) == 0 { // a retry, due again at once
						d.LastError, d.NextAttemptAt = "receiver answered 503", now
					} else {
						d.Status, d.DeliveredAt, d.NextAttemptAt = models.DeliveryDelivered, &now, now
						// Noted before it is recorded: from then on another
						// worker may lease the session's next one.
						mu.Lock()
						received[d.SessionID] = append(received[d.SessionID], d.ID)
						mu.Unlock()
					}
					if err := s.FinishAttempt(ctx, d); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}
		var workers sync.WaitGroup
		for range 3 {
			workers.Go(worker)
		}
		workers.Wait()

		if disagree, err := store.SessionHeadsAgree(s); err != nil || len(disagree) > 0 {
			t.Fatalf("session heads disagree with the outbox: %v (%v)", disagree, err)
		}
		total := 0
		for session, got := range received {
			total += len(got)
			if !slices.IsSortedFunc(got, func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) }) {
				t.Errorf("session %s: delivered out of feed order: %v", session, got)
			}
		}
		if int64(total) != drawn.Load() {
			t.Fatalf("%d of %d deliveries delivered; the rest were never leased", total, drawn.Load())
		}
	})
}

// A database upgraded with deliveries pending (one leased, one session's
// first delivered) gets each session's head from migration 00012.
func TestSessionHeadsBackfilled(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		ctx := context.Background()
		s := testutil.OpenStore(t, dialect)
		a := hookedAgent(t, s)
		var drawn []*models.Delivery
		for k := range 3 {
			session := uuid.New()
			for j := range 3 {
				drawn = append(drawn, pendingDelivery(a.ID, session, int64(3*k+j+1), t0))
			}
		}
		addToOutbox(t, s, a.ID, drawn...)
		now := t0.Add(time.Hour)
		leased, err := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 2, 2, nil)
		if err != nil || len(leased) != 2 {
			t.Fatalf("leased %d (%v), want 2", len(leased), err)
		}
		done := leased[0]
		done.Status, done.DeliveredAt, done.NextAttemptAt = models.DeliveryDelivered, &now, now
		if err := s.FinishAttempt(ctx, done); err != nil {
			t.Fatal(err)
		}

		if err := store.MigrateDownTo(s, 11); err != nil {
			t.Fatal(err)
		}
		if err := store.MigrateUp(s); err != nil {
			t.Fatal(err)
		}
		if disagree, err := store.SessionHeadsAgree(s); err != nil || len(disagree) > 0 {
			t.Fatalf("after the upgrade the session heads disagree with the outbox: %v (%v)", disagree, err)
		}
		// The lease still holds; the rest are due: two heads and the leased one's session waits.
		again, err := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 10, 10, nil)
		if err != nil || len(again) != 2 {
			t.Fatalf("after the upgrade leased %d (%v), want the two heads not leased", len(again), err)
		}
	})
}
