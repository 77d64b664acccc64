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

// readFeed reads an agent's whole feed from the start, once no transaction
// older than its rows is still running (other tests share the database).
func readFeed(t *testing.T, s *store.Store, agentID uuid.UUID) []models.FeedRow {
	t.Helper()
	return readFeedFrom(t, s, agentID, models.FeedPosition{})
}

func readFeedFrom(t *testing.T, s *store.Store, agentID uuid.UUID, from models.FeedPosition) []models.FeedRow {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		page, err := s.ReadAgentFeed(context.Background(), agentID, from, 100)
		if err != nil {
			t.Fatalf("ReadAgentFeed: %v", err)
		}
		if !page.Pending {
			return page.Rows
		}
		if time.Now().After(deadline) {
			t.Fatal("feed rows stayed pending")
		}
	}
}

// Every kind of change leaves its row, written with the change itself.
func TestAgentFeedRecordsEveryChange(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		ctx := context.Background()
		s := testutil.OpenStore(t, dialect)
		sess := createSession(t, s)
		send := func(at time.Time, renew bool) {
			t.Helper()
			if _, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
				st := cur.StatusAt(at)
				if renew {
					st = cur.RecordActivity(at)
				}
				m := &models.Message{ID: uuid.New(), SessionID: cur.ID, AuthorID: cur.UserID, Content: "hi",
					Metadata: models.JSONObject(`{}`), CreatedAt: cur.StampMessage(at), SessionStatus: &st}
				return m, nil
			}); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		send(t0.Add(time.Minute), true)
		if _, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
			return nil, cur.Renew(t0.Add(2 * time.Minute))
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
			cfg := cur.TimeoutConfig
			cfg.TimeoutMinutes = 10
			cur.Reconfigure(cfg)
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClaimExpired(ctx, t0.Add(24*time.Hour), 10); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSession(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
		rows := readFeed(t, s, sess.AgentID)
		var kinds []string
		for _, r := range rows {
			k := string(r.Kind)
			if r.Kind == models.EventRenewed && !r.Renewed {
				k = "reconfigured"
			}
			kinds = append(kinds, k)
			if r.SessionID != sess.ID || r.AgentID != sess.AgentID {
				t.Errorf("row %+v: wrong session or agent", r)
			}
		}
		want := []string{"created", "message_added", "renewed", "reconfigured", "expired", "deleted"}
		if len(kinds) != len(want) {
			t.Fatalf("kinds %v, want %v", kinds, want)
		}
		for i := range want {
			if kinds[i] != want[i] {
				t.Fatalf("kinds %v, want %v", kinds, want)
			}
		}
		if rows[0].Session == nil || !rows[0].Session.CreatedAt.Equal(t0) || string(rows[0].Session.Metadata) != `{"k":"v"}` {
			t.Errorf("created snapshot %+v", rows[0].Session)
		}
		if rows[1].Message != nil { // deleted with its session
			t.Errorf("message of a deleted session still read: %+v", rows[1].Message)
		}
		if !rows[2].OccurredAt.Equal(t0.Add(2 * time.Minute)) {
			t.Errorf("renewal at %v", rows[2].OccurredAt)
		}
		if rows[3].Session.TimeoutConfig.TimeoutMinutes != 10 {
			t.Errorf("reconfigured snapshot %+v", rows[3].Session.TimeoutConfig)
		}
		if rows[5].Session == nil || rows[5].Session.ID != sess.ID {
			t.Errorf("deleted snapshot %+v", rows[5].Session)
		}
		// Resuming from a row's position skips it; the head is past everything.
		from := models.FeedPosition{Tx: rows[2].Tx, Seq: rows[2].Seq, Done: 1}
		rest := readFeedFrom(t, s, sess.AgentID, from)
		if len(rest) != 4 || rest[0].Seq != rows[2].Seq {
			t.Fatalf("from %v: %d rows", from, len(rest))
		}
		head, err := s.AgentFeedHead(ctx, sess.AgentID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range readFeedFrom(t, s, sess.AgentID, head) {
			if head.Before(r.Tx, r.Seq) {
				t.Errorf("row %d/%d after the head %v", r.Tx, r.Seq, head)
			}
		}
	})
}

// A message row keeps its message while the session lives, and a group
// commit writes one row per send.
func TestAgentFeedMessagesOfGroupSends(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		ctx := context.Background()
		s := testutil.OpenStore(t, dialect)
		a := createAgent(t, s)
		const n = 20
		done := make(chan error, n)
		for i := range n {
			sess := models.NewSession(uuid.New(), a.ID, uuid.New(), models.JSONObject(`{}`), testConfig(), t0)
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			go func() {
				_, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
					st := cur.RecordActivity(t0.Add(time.Duration(i+1) * time.Second))
					return &models.Message{ID: uuid.New(), SessionID: cur.ID, AuthorID: cur.UserID, Content: "x",
						Metadata: models.JSONObject(`{}`), CreatedAt: cur.StampMessage(cur.LastActivity), SessionStatus: &st}, nil
				})
				done <- err
			}()
		}
		for range n {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		messages := 0
		for _, r := range readFeed(t, s, a.ID) {
			if r.Kind == models.EventMessageAdded {
				messages++
				if r.Message == nil || r.Message.SessionStatus == nil || !r.Message.SessionStatus.WasRenewed {
					t.Errorf("message row %+v", r)
				}
			}
		}
		if messages != n {
			t.Fatalf("%d message rows, want %d", messages, n)
		}
	})
}
