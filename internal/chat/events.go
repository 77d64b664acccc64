package chat

import (
	"context"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/pubsub"
	"sessionhub/models"
)

// FollowSession follows a session's events (SPEC §8), handing each to
// deliver in order (see pubsub.Follow). The caller must be able to read the
// session; expired sessions can be followed (they may still be deleted).
//
// With after (a message cursor, as Session.messages hands out), the messages
// after it are read back first, then events continue live: a client that
// reconnects with the cursor of the last message it saw misses none. Without
// it, events start with what happens next. Message events are delivered
// exactly once and in order, also across bus reconnects.
// It also returns the session as it was read when the subscription started.
// Errors: SESSION_NOT_FOUND, VALIDATION_ERROR (a bad cursor).
func (s *Service) FollowSession(ctx context.Context, sessionID, after string, deliver func(models.Event) bool, end func(error)) (*pubsub.Subscription, *models.Session, error) {
	var from models.Key
	if after != "" {
		var err error
		if from, err = models.ParseCursor(after); err != nil {
			return nil, nil, err
		}
	}
	id, err := uuid.Parse(sessionID)
	if err != nil {
		return nil, nil, models.ErrSessionNotFound(sessionID)
	}
	// Registered before the session is read, so that every message committed
	// after that read is heard.
	sub := s.bus.Subscribe(pubsub.Follow{SessionID: id, Deliver: deliver, End: end})
	// On the primary: its last message decides where live events take over.
	session, err := s.Session(models.WithLatestReads(ctx), sessionID)
	if err != nil {
		sub.Close()
		return nil, nil, err
	}
	if after == "" && session.LastMessageAt != nil {
		from = models.KeyOf(*session.LastMessageAt, uuid.Max) // its messages so far are history
	}
	sub.Start(from, after != "")
	return sub, session, nil
}

// missedMessages reads a session's messages after a position, oldest first:
// what a subscriber missed. Always on the primary: a standby behind it would
// leave a gap that nothing fills later.
func (s *Service) missedMessages(ctx context.Context, sessionID uuid.UUID, after models.Key, limit int) ([]*models.Message, error) {
	return s.store.ListMessages(models.WithLatestReads(ctx), sessionID, models.ListQuery{Newer: &after, Limit: limit, Ascending: true})
}

// Backfill is how a bus built outside the service reads what subscribers missed.
func Backfill(store Store) pubsub.Backfill {
	return (&Service{store: store}).missedMessages
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
func messageEvents(agentID uuid.UUID, msg *models.Message, prevAt time.Time) []models.Event {
	events := []models.Event{{Kind: models.EventMessageAdded, SessionID: msg.SessionID, AgentID: agentID, OccurredAt: msg.CreatedAt, Message: msg, PrevMessageAt: prevAt}}
	if st := msg.SessionStatus; st != nil && st.WasRenewed {
		events = append(events, models.Event{Kind: models.EventRenewed, SessionID: msg.SessionID, AgentID: agentID, OccurredAt: msg.CreatedAt, Status: st})
	}
	return events
}

func renewedEvent(session *models.Session, renewed bool, now time.Time) models.Event {
	status := session.StatusAt(now)
	status.WasRenewed = renewed
	return models.Event{Kind: models.EventRenewed, SessionID: session.ID, AgentID: session.AgentID, OccurredAt: now, Status: &status}
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
		s.publish(ctx, models.Event{Kind: models.EventNearExpiration, SessionID: c.ID, AgentID: c.AgentID, OccurredAt: now, ExpiresAt: c.ExpiresAt})
	}
	expired, err := s.store.ClaimExpired(ctx, now, lifetimeBatch)
	for _, c := range expired {
		s.publish(ctx, models.Event{Kind: models.EventExpired, SessionID: c.ID, AgentID: c.AgentID, OccurredAt: now, ExpiresAt: c.ExpiresAt})
	}
	return len(near) + len(expired), err
}
