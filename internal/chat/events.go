package chat

import (
	"context"
	"time"

	"sessionhub/internal/pubsub"
	"sessionhub/models"
)

// Subscribe follows a session's events (SPEC §8). The caller must be able to
// read the session; expired sessions can be followed (they may still be deleted).
// Errors: SESSION_NOT_FOUND.
func (s *Service) Subscribe(ctx context.Context, sessionID string) (*pubsub.Subscription, error) {
	session, err := s.Session(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	return s.bus.Subscribe(session.ID), nil
}

// Subscribers counts this process's live subscriptions.
func (s *Service) Subscribers() int { return s.bus.Subscribers() }

// publish announces committed changes. A failure to announce does not undo
// the change (it is stored); it is logged.
func (s *Service) publish(ctx context.Context, events ...models.Event) {
	if len(events) == 0 {
		return
	}
	if s.watch != nil {
		for _, e := range events {
			s.watch.Observe(e)
		}
	}
	if err := s.bus.Publish(context.WithoutCancel(ctx), events...); err != nil {
		s.log.WarnContext(ctx, "publishing session events failed", "kind", events[0].Kind, "session", events[0].SessionID, "err", err)
	}
}

// messageEvents are what a stored message announces: the message, and the
// renewal it caused. prevAt is the session's message before it.
func messageEvents(msg *models.Message, prevAt time.Time) []models.Event {
	events := []models.Event{{Kind: models.EventMessageAdded, SessionID: msg.SessionID, OccurredAt: msg.CreatedAt, Message: msg, PrevMessageAt: prevAt}}
	if st := msg.SessionStatus; st != nil && st.WasRenewed {
		events = append(events, models.Event{Kind: models.EventRenewed, SessionID: msg.SessionID, OccurredAt: msg.CreatedAt, Status: st})
	}
	return events
}

func renewedEvent(session *models.Session, renewed bool, now time.Time) models.Event {
	status := session.StatusAt(now)
	status.WasRenewed = renewed
	return models.Event{Kind: models.EventRenewed, SessionID: session.ID, OccurredAt: now, Status: &status}
}

// lifetimeBatch bounds one pass of AnnounceLifetimes.
const lifetimeBatch = 500

// AnnounceLifetimes publishes near-expiration warnings for sessions that
// crossed their warning threshold and expiry notices for sessions that
// expired, each exactly once per crossing: the store claims them atomically,
// so replicas running this together never announce one twice, and the claim
// is stored, so a restart neither repeats nor misses one. Run it every second.
func (s *Service) AnnounceLifetimes(ctx context.Context) (int, error) {
	now := s.Now()
	near, err := s.store.ClaimNearExpiration(ctx, now, lifetimeBatch)
	if err != nil {
		return 0, err
	}
	for _, c := range near {
		s.publish(ctx, models.Event{Kind: models.EventNearExpiration, SessionID: c.ID, OccurredAt: now, ExpiresAt: c.ExpiresAt})
	}
	expired, err := s.store.ClaimExpired(ctx, now, lifetimeBatch)
	for _, c := range expired {
		s.publish(ctx, models.Event{Kind: models.EventExpired, SessionID: c.ID, OccurredAt: now, ExpiresAt: c.ExpiresAt})
	}
	return len(near) + len(expired), err
}
