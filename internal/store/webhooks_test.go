package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// hookedAgent stores an agent with a webhook, so deliveries can be drawn for it.
func hookedAgent(t *testing.T, s *store.Store) *models.Agent {
	t.Helper()
	a := createAgent(t, s)
	if err := s.SaveWebhook(context.Background(), &models.Webhook{AgentID: a.ID, URL: "https://example.com/hook",
		Secret: "0123456789abcdef", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	return a
}

// pendingDelivery is a delivery of a session at a feed position, due at due.
func pendingDelivery(agentID, sessionID uuid.UUID, seq int64, due time.Time) *models.Delivery {
	return &models.Delivery{ID: uuid.Must(uuid.NewV7()), AgentID: agentID, SessionID: sessionID,
		Position: models.FeedPosition{Seq: seq, Done: 1}, Type: models.WebhookMessageAdded, Body: "{}",
		Status: models.DeliveryPending, CreatedAt: due, NextAttemptAt: due}
}

// addToOutbox draws deliveries into an agent's outbox (one draw per call).
func addToOutbox(t *testing.T, s *store.Store, agentID uuid.UUID, deliveries ...*models.Delivery) {
	t.Helper()
	if err := s.DrawDeliveries(context.Background(), agentID, func(h *models.Webhook) ([]*models.Delivery, models.FeedPosition, error) {
		return deliveries, models.FeedPosition{Tx: h.Position.Tx, Seq: h.Position.Seq + 1, Done: 2}, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func ids(ds []*models.Delivery) []uuid.UUID {
	out := make([]uuid.UUID, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return out
}

// ClaimDeliveries takes only each session's oldest pending delivery (by
// feed position, not by due time), takes at most perAgent of one agent or
// the agent's own bound (none at 0) and limit in all, oldest due first,
// never one not due, and leases what it takes.
func TestClaimDeliveriesBounds(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		ctx := context.Background()
		s := testutil.OpenStore(t, dialect)
		now := t0.Add(time.Hour)
		lease := now.Add(time.Minute)
		a, b, c, d := hookedAgent(t, s), hookedAgent(t, s), hookedAgent(t, s), hookedAgent(t, s)

		// Agent a: five sessions of two deliveries each; in the first, the
		// later one is due earlier, and still must wait.
		var aFirst, aSecond []*models.Delivery
		for k := range 5 {
			session := uuid.New()
			due := t0.Add(time.Duration(k+1) * time.Minute)
			first := pendingDelivery(a.ID, session, int64(2*k+1), due)
			second := pendingDelivery(a.ID, session, int64(2*k+2), due.Add(time.Second))
			if k == 0 {
				second.NextAttemptAt, second.CreatedAt = t0, t0
			}
			aFirst, aSecond = append(aFirst, first), append(aSecond, second)
		}
		addToOutbox(t, s, a.ID, append(slices.Clone(aFirst), aSecond...)...)
		bs := []*models.Delivery{pendingDelivery(b.ID, uuid.New(), 1, t0.Add(10*time.Minute)), pendingDelivery(b.ID, uuid.New(), 2, t0.Add(11*time.Minute))}
		addToOutbox(t, s, b.ID, bs...)
		cOldest := pendingDelivery(c.ID, uuid.New(), 1, t0.Add(time.Second))
		addToOutbox(t, s, c.ID, cOldest)
		dLater := pendingDelivery(d.ID, uuid.New(), 1, now.Add(time.Second)) // not due yet
		addToOutbox(t, s, d.ID, dLater)

		claim := func(limit, perAgent int, room map[uuid.UUID]int) []*models.Delivery {
			t.Helper()
			got, err := s.ClaimDeliveries(ctx, now, lease, limit, perAgent, room)
			if err != nil {
				t.Fatalf("ClaimDeliveries: %v", err)
			}
			for _, g := range got {
				if g.Attempts < 1 || !g.NextAttemptAt.Equal(lease) {
					t.Errorf("claimed %+v: want an attempt counted and the lease as its next attempt", g)
				}
			}
			return got
		}
		want := func(what string, got []*models.Delivery, want ...*models.Delivery) {
			t.Helper()
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("%s: claimed %v, want %v", what, ids(got), ids(want))
			}
		}

		// c has no room left, b room for one; three of a's five session
		// heads (the oldest due), the older of b's.
		want("c skipped, b bounded to 1, 3 per agent", claim(100, 3, map[uuid.UUID]int{c.ID: 0, b.ID: 1}), aFirst[0], aFirst[1], aFirst[2], bs[0])
		// The overall limit takes the oldest due first.
		want("limit 1", claim(1, 10, nil), cOldest)
		// Leased deliveries, and the sessions behind them, wait; d is not due.
		want("the rest", claim(100, 10, nil), aFirst[3], aFirst[4], bs[1])
		want("nothing left", claim(100, 10, nil))

		// A finished head lets its session's next delivery go.
		done := aFirst[0]
		done.Status, done.DeliveredAt = models.DeliveryDelivered, &now
		if err := s.FinishAttempt(ctx, done); err != nil {
			t.Fatal(err)
		}
		want("after the first session's head", claim(100, 10, nil), aSecond[0])

		// Once leases end, the claim takes again what is still pending, with
		// the attempt counted again.
		s2 := lease.Add(time.Second)
		again, err := s.ClaimDeliveries(ctx, s2, s2.Add(time.Minute), 100, 2, map[uuid.UUID]int{b.ID: 0})
		if err != nil {
			t.Fatal(err)
		}
		// All of a's heads were leased until the same time: its two first drawn go; c and d have one each.
		want("after the leases", again, aSecond[0], aFirst[1], cOldest, dLater)
		for _, g := range again {
			if g.ID == aSecond[0].ID && g.Attempts != 2 {
				t.Errorf("second claim of %s counts %d attempts, want 2", g.ID, g.Attempts)
			}
		}

		// A removed webhook's deliveries stay pending, unclaimed, until one
		// is set again.
		if err := s.DeleteWebhook(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		s3 := s2.Add(2 * time.Minute) // every lease above has ended
		if got, err := s.ClaimDeliveries(ctx, s3, s3.Add(time.Minute), 100, 10, nil); err != nil || slices.Contains(ids(got), cOldest.ID) {
			t.Fatalf("claim with c's webhook removed: %v, %v; want c's delivery left pending", ids(got), err)
		}
		if err := s.SaveWebhook(ctx, &models.Webhook{AgentID: c.ID, URL: "https://example.com/hook",
			Secret: "0123456789abcdef", CreatedAt: s3, UpdatedAt: s3}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ClaimDeliveries(ctx, s3, s3.Add(time.Minute), 100, 10, nil); err != nil || !slices.Contains(ids(got), cOldest.ID) {
			t.Fatalf("claim with c's webhook set again: %v, %v; want c's delivery", ids(got), err)
		}
	})
}

// Claimers on several connections (replicas) at once never take the same
// delivery, and never a session's second delivery while its first is
// leased; together they take every session's head.
func TestClaimDeliveriesConcurrently(t *testing.T) {
	ctx := context.Background()
	dbURL := testutil.DatabaseURL(t, store.Postgres)
	s := testutil.OpenStoreAt(t, dbURL)
	now := t0.Add(time.Hour)
	var heads []uuid.UUID
	for range 4 {
		a := hookedAgent(t, s)
		var ds []*models.Delivery
		for k := range 40 {
			session := uuid.New()
			due := t0.Add(time.Duration(k) * time.Second)
			first := pendingDelivery(a.ID, session, int64(2*k+1), due)
			ds = append(ds, first, pendingDelivery(a.ID, session, int64(2*k+2), due))
			heads = append(heads, first.ID)
		}
		addToOutbox(t, s, a.ID, ds...)
	}
	const claimers = 3
	var wg sync.WaitGroup
	claimed := make([][]uuid.UUID, claimers)
	for i := range claimers {
		replica := testutil.OpenStoreAt(t, dbURL)
		wg.Go(func() {
			for empty := 0; empty < 3; {
				got, err := replica.ClaimDeliveries(ctx, now, now.Add(time.Minute), 8, 3, nil)
				if err != nil {
					t.Errorf("claimer %d: %v", i, err)
					return
				}
				if len(got) == 0 {
					empty++
				}
				for _, d := range got {
					claimed[i] = append(claimed[i], d.ID)
				}
			}
		})
	}
	wg.Wait()
	seen := map[uuid.UUID]int{}
	for i, got := range claimed {
		for _, id := range got {
			if n, dup := seen[id]; dup {
				t.Errorf("delivery %s claimed by %d and %d", id, n, i)
			}
			seen[id] = i
		}
	}
	if len(seen) != len(heads) {
		t.Errorf("claimed %d deliveries, want the %d session heads", len(seen), len(heads))
	}
	for _, id := range heads {
		if _, ok := seen[id]; !ok {
			t.Errorf("session head %s never claimed", id)
		}
	}
}
