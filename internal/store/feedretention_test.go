package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// sendAt stores a user message at `at`; renew makes it renew the session
// (its feed row then stands for two events).
func sendAt(t *testing.T, s *store.Store, sessionID uuid.UUID, at time.Time, renew bool) {
	t.Helper()
	if _, err := s.UpdateSession(context.Background(), sessionID, func(cur *models.Session) (*models.Message, error) {
		st := cur.StatusAt(at)
		if renew {
			st = cur.RecordActivity(at)
		}
		return &models.Message{ID: uuid.New(), SessionID: cur.ID, AuthorID: cur.UserID, Content: "hi",
			Metadata: models.JSONObject(`{}`), CreatedAt: cur.StampMessage(at), SessionStatus: &st}, nil
	}); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func horizonOf(t *testing.T, s *store.Store, agentID uuid.UUID) models.FeedPosition {
	t.Helper()
	h, err := s.AgentFeedHorizon(context.Background(), agentID)
	if err != nil {
		t.Fatalf("AgentFeedHorizon: %v", err)
	}
	return h
}

// The sweep removes an agent's oldest rows by position, in bounded batches,
// stops at the first row that is not older than the cutoff (even when an
// older one follows it), records the last row removed as the horizon (with
// the number of events it stood for) in the same read as the rows, and
// leaves other agents alone.
func TestDeleteAgentFeedByPosition(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		ctx := context.Background()
		s := testutil.OpenStore(t, dialect)
		first := createSession(t, s) // created at t0
		agentID := first.AgentID
		sendAt(t, s, first.ID, t0.Add(time.Minute), false)
		sendAt(t, s, first.ID, t0.Add(2*time.Minute), true) // two events: message, renewal
		// Opened after the cutoff, then an older message behind it.
		second := models.NewSession(uuid.New(), agentID, uuid.New(), models.JSONObject(`{}`), testConfig(), t0.Add(10*time.Minute))
		if err := s.CreateSession(ctx, second); err != nil {
			t.Fatal(err)
		}
		sendAt(t, s, first.ID, t0.Add(5*time.Minute), false)
		other := createSession(t, s) // another agent, as old
		all := readFeed(t, s, agentID)
		if len(all) != 5 {
			t.Fatalf("%d rows, want 5", len(all))
		}
		readFeed(t, s, other.AgentID)
		cutoff := t0.Add(7 * time.Minute)

		agents, err := s.FeedAgentsBefore(ctx, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(agents, agentID) || !slices.Contains(agents, other.AgentID) {
			t.Errorf("FeedAgentsBefore = %v, want both agents", agents)
		}
		if agents, _ := s.FeedAgentsBefore(ctx, t0); len(agents) != 0 {
			t.Errorf("FeedAgentsBefore(t0) = %v, want none (nothing is older)", agents)
		}

		if h := horizonOf(t, s, agentID); h != (models.FeedPosition{}) {
			t.Fatalf("horizon before any sweep %+v, want zero", h)
		}
		// A batch of 2: the created row and the first message.
		if n, err := s.DeleteAgentFeed(ctx, agentID, cutoff, 2); n != 2 || err != nil {
			t.Fatalf("first batch removed %d (%v), want 2", n, err)
		}
		h1 := horizonOf(t, s, agentID)
		if want := (models.FeedPosition{Tx: all[1].Tx, Seq: all[1].Seq, Done: 1}); h1 != want {
			t.Fatalf("horizon %+v, want the first message's row %+v", h1, want)
		}
		page, err := s.ReadAgentFeed(ctx, agentID, models.FeedPosition{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if page.Horizon != h1 || len(page.Rows) != 3 || page.Rows[0].Seq != all[2].Seq {
			t.Fatalf("read after the sweep: horizon %+v, %d rows; want %+v and 3 rows from seq %d", page.Horizon, len(page.Rows), h1, all[2].Seq)
		}
		// The renewing message (two events), then the newer created row stops it.
		if n, err := s.DeleteAgentFeed(ctx, agentID, cutoff, 2); n != 1 || err != nil {
			t.Fatalf("second batch removed %d (%v), want 1", n, err)
		}
		h2 := horizonOf(t, s, agentID)
		if want := (models.FeedPosition{Tx: all[2].Tx, Seq: all[2].Seq, Done: 2}); h2 != want || !h1.Less(h2) {
			t.Fatalf("horizon %+v, want %+v after %+v", h2, want, h1)
		}
		between := models.FeedPosition{Tx: all[2].Tx, Seq: all[2].Seq, Done: 1} // after the message, before its renewal
		if !between.Less(h2) || h2.Less(models.FeedPosition{Tx: all[2].Tx, Seq: all[2].Seq, Done: 2}) {
			t.Errorf("a cursor between the message and its renewal must be before the horizon; the renewal's own not")
		}
		if n, err := s.DeleteAgentFeed(ctx, agentID, cutoff, 2); n != 0 || err != nil {
			t.Fatalf("third batch removed %d (%v), want 0: the newer row stops the sweep", n, err)
		}
		if h := horizonOf(t, s, agentID); h != h2 {
			t.Errorf("horizon moved to %+v without removing anything", h)
		}
		if rows := readFeed(t, s, agentID); len(rows) != 2 || rows[0].Kind != models.EventCreated || rows[1].Kind != models.EventMessageAdded {
			t.Fatalf("left %d rows, want the newer created row and the older message behind it", len(rows))
		}
		if h := horizonOf(t, s, other.AgentID); h != (models.FeedPosition{}) {
			t.Errorf("other agent's horizon %+v, want zero", h)
		}
		if rows := readFeed(t, s, other.AgentID); len(rows) != 1 {
			t.Errorf("other agent's feed has %d rows, want 1", len(rows))
		}

		// Once everything is old, all of it goes; the head stays after the horizon.
		later := t0.Add(time.Hour)
		if n, err := s.DeleteAgentFeed(ctx, agentID, later, 100); n != 2 || err != nil {
			t.Fatalf("last batch removed %d (%v), want 2", n, err)
		}
		h3 := horizonOf(t, s, agentID)
		head, err := s.AgentFeedHead(ctx, agentID)
		if err != nil {
			t.Fatal(err)
		}
		if !h2.Less(h3) || head.Less(h3) {
			t.Errorf("horizon %+v after %+v, head %+v: want the horizon forward and the head not before it", h3, h2, head)
		}
		page, err = s.ReadAgentFeed(ctx, agentID, head, 100)
		if err != nil || len(page.Rows) != 0 || page.Horizon != h3 {
			t.Errorf("read at the head: %+v (%v), want no rows and horizon %+v", page, err, h3)
		}
	})
}

// Delivered and failed deliveries older than the cutoff go, in bounded
// batches; pending ones and newer ones stay.
func TestDeleteFinishedDeliveries(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		ctx := context.Background()
		s := testutil.OpenStore(t, dialect)
		sess := createSession(t, s)
		if err := s.SaveWebhook(ctx, &models.Webhook{AgentID: sess.AgentID, URL: "https://example.com/hook", Secret: "0123456789abcdef",
			CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		type fixture struct {
			age    time.Duration
			status models.DeliveryStatus
			keep   bool
		}
		fixtures := []fixture{
			{48 * time.Hour, models.DeliveryDelivered, false},
			{47 * time.Hour, models.DeliveryFailed, false},
			{46 * time.Hour, models.DeliveryPending, true},
			{45 * time.Hour, models.DeliveryDelivered, false},
			{44 * time.Hour, models.DeliveryFailed, false},
			{time.Hour, models.DeliveryDelivered, true},
			{time.Hour, models.DeliveryFailed, true},
			{time.Hour, models.DeliveryPending, true},
		}
		now := t0.Add(72 * time.Hour)
		var deliveries []*models.Delivery
		for i, f := range fixtures {
			created := now.Add(-f.age)
			deliveries = append(deliveries, &models.Delivery{ID: uuid.Must(uuid.NewV7()), AgentID: sess.AgentID, SessionID: sess.ID,
				Position: models.FeedPosition{Seq: int64(i + 1), Done: 1}, Type: models.WebhookSessionCreated, Body: "{}",
				Status: models.DeliveryPending, CreatedAt: created, NextAttemptAt: created})
		}
		if err := s.DrawDeliveries(ctx, sess.AgentID, func(h *models.Webhook) ([]*models.Delivery, models.FeedPosition, error) {
			return deliveries, models.FeedPosition{Tx: h.Position.Tx, Seq: h.Position.Seq + 1, Done: 2}, nil
		}); err != nil {
			t.Fatal(err)
		}
		for i, d := range deliveries {
			if fixtures[i].status == models.DeliveryPending {
				continue
			}
			d.Status, d.NextAttemptAt = fixtures[i].status, d.CreatedAt.Add(time.Minute)
			if d.Status == models.DeliveryDelivered {
				at := d.NextAttemptAt
				d.DeliveredAt = &at
			}
			if err := s.FinishAttempt(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		cutoff := now.Add(-24 * time.Hour)
		if n, err := s.DeleteFinishedDeliveries(ctx, cutoff, 3); n != 3 || err != nil {
			t.Fatalf("first batch removed %d (%v), want 3", n, err)
		}
		if n, err := s.DeleteFinishedDeliveries(ctx, cutoff, 3); n != 1 || err != nil {
			t.Fatalf("second batch removed %d (%v), want 1", n, err)
		}
		if n, err := s.DeleteFinishedDeliveries(ctx, cutoff, 3); n != 0 || err != nil {
			t.Fatalf("third batch removed %d (%v), want 0", n, err)
		}
		left, err := s.ListDeliveries(ctx, sess.AgentID, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		kept := map[uuid.UUID]bool{}
		for _, d := range left {
			kept[d.ID] = true
		}
		for i, d := range deliveries {
			if kept[d.ID] != fixtures[i].keep {
				t.Errorf("delivery %d (%s, %v old): kept %v, want %v", i, fixtures[i].status, fixtures[i].age, kept[d.ID], fixtures[i].keep)
			}
		}
	})
}

// On PostgreSQL a row's position starts with its transaction id (xid8): the
// feed is read and swept in xid order, neither in the order of the ids'
// text ("10" before "9") nor in seq order.
func TestAgentFeedXidOrder(t *testing.T) {
	ctx := context.Background()
	s := testutil.OpenStore(t, store.Postgres)
	a := createAgent(t, s)
	for _, tx := range []string{"10", "9"} {
		if err := s.DB().Exec(`INSERT INTO agent_events (tx, agent_id, session_id, kind, occurred_at) VALUES (CAST(? AS xid8), ?, ?, 'created', ?)`,
			tx, a.ID, uuid.New(), t0).Error; err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ReadAgentFeed(ctx, a.ID, models.FeedPosition{}, 1)
	if err != nil || len(page.Rows) != 1 || page.Rows[0].Tx != 9 {
		t.Fatalf("first row %+v (%v), want the one of transaction 9", page.Rows, err)
	}
	if n, err := s.DeleteAgentFeed(ctx, a.ID, t0.Add(time.Hour), 1); n != 1 || err != nil {
		t.Fatalf("removed %d (%v), want 1", n, err)
	}
	if h := horizonOf(t, s, a.ID); h.Tx != 9 {
		t.Fatalf("horizon %+v, want transaction 9's row", h)
	}
	if rows := readFeed(t, s, a.ID); len(rows) != 1 || rows[0].Tx != 10 {
		t.Fatalf("left %+v, want transaction 10's row", rows)
	}
}
