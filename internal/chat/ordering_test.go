package chat_test

import (
	"testing"

	"sessionhub/internal/chat"
	"sessionhub/models"
)

// TestMessagesOfASessionHaveIncreasingMillis: 250 messages sent within one
// millisecond (the clock does not move) get strictly increasing createdAt
// milliseconds, so the reference's millisecond cursors page through all of
// them, each once.
func TestMessagesOfASessionHaveIncreasingMillis(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		s := e.openSession(t, models.TimeoutOverrides{})
		const total = 250
		for i := range total {
			in := models.MessageInput{Content: "m"}
			var err error
			if i%5 == 4 {
				_, err = e.svc.SendAgentMessage(e.ctx, s.ID.String(), in)
			} else {
				_, err = e.svc.SendMessage(e.ctx, s.ID.String(), in)
			}
			if err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		seen := map[string]bool{}
		var before *models.Key
		for page := 0; ; page++ {
			h, err := e.svc.LiveHistory(e.ctx, s.ID.String(), chat.HistoryRequest{Limit: 100, Before: before})
			if err != nil {
				t.Fatalf("LiveHistory page %d: %v", page, err)
			}
			for i, m := range h.Messages {
				if seen[m.ID.String()] {
					t.Fatalf("message %s seen twice", m.ID)
				}
				seen[m.ID.String()] = true
				if i > 0 && !h.Messages[i-1].CreatedAt.After(m.CreatedAt) {
					t.Fatalf("createdAt %s then %s: not strictly decreasing", models.FormatTime(h.Messages[i-1].CreatedAt), models.FormatTime(m.CreatedAt))
				}
			}
			if !h.HasMore {
				break
			}
			// The next page starts before the oldest createdAt seen, in milliseconds, as the reference's cursors.before does.
			oldest := models.Before(h.Messages[len(h.Messages)-1].CreatedAt)
			before = &oldest
		}
		if len(seen) != total {
			t.Fatalf("paged through %d messages with millisecond cursors, want %d", len(seen), total)
		}
	})
}

// TestMessagesKeepTheirSessionStatus: the status a send reported is stored
// with the message and returned wherever the message is read.
func TestMessagesKeepTheirSessionStatus(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		s := e.openSession(t, models.TimeoutOverrides{})
		user := e.send(t, s.ID, "hello")
		agent, err := e.svc.SendAgentMessage(e.ctx, s.ID.String(), models.MessageInput{Content: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		if !user.SessionStatus.WasRenewed || agent.SessionStatus.WasRenewed {
			t.Fatalf("sent statuses: user %+v, agent %+v", user.SessionStatus, agent.SessionStatus)
		}
		page, err := e.svc.Messages(e.ctx, s.ID.String(), models.PageArgs{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]*models.SessionStatus{user.ID.String(): user.SessionStatus, agent.ID.String(): agent.SessionStatus}
		for _, m := range page.Messages {
			got, sent := m.SessionStatus, want[m.ID.String()]
			if got == nil || !got.ExpiresAt.Equal(sent.ExpiresAt) || got.RenewalCount != sent.RenewalCount ||
				got.WasRenewed != sent.WasRenewed || got.IsNearExpiration != sent.IsNearExpiration {
				t.Errorf("message %s read back with status %+v, sent with %+v", m.ID, got, sent)
			}
		}
		if len(page.Messages) != 2 {
			t.Fatalf("history has %d messages, want 2", len(page.Messages))
		}
	})
}

// TestAnOperatorsChangeIsSeenByTheNextSend: a change to the session row made
// outside sessionhub (here an operator expiring it by hand right after a
// send) is what the next send works from — never a copy a process kept.
func TestAnOperatorsChangeIsSeenByTheNextSend(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		s := e.openSession(t, models.TimeoutOverrides{})
		e.send(t, s.ID, "before")
		if err := e.store.DB().Exec(`UPDATE sessions SET expires_at = created_at WHERE id = ?`, s.ID).Error; err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.SendMessage(e.ctx, s.ID.String(), models.MessageInput{Content: "after"})
		wantCode(t, err, models.CodeSessionExpired)
		if n := e.messageCount(t, s.ID); n != 1 {
			t.Errorf("%d messages stored, want 1", n)
		}
	})
}
