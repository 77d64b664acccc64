package chat

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// LiveSession returns a session that has not expired.
// Errors: SESSION_NOT_FOUND, SESSION_EXPIRED.
func (s *Service) LiveSession(ctx context.Context, id string) (*models.Session, error) {
	return s.liveSession(ctx, id)
}

// modify locks a session, applies change under the lock with the clock read
// there, and commits. Errors: SESSION_NOT_FOUND and whatever change returns.
func (s *Service) modify(ctx context.Context, id string, change func(*models.Session, time.Time) (*models.Message, error)) (*models.Session, error) {
	sessionID, err := uuid.Parse(id)
	if err != nil {
		return nil, models.ErrSessionNotFound(id)
	}
	session, err := s.store.UpdateSession(ctx, sessionID, s.guard(models.PrincipalFrom(ctx), change))
	if errors.Is(err, models.ErrNotFound) {
		return nil, models.ErrSessionNotFound(id)
	}
	return session, err
}

// modifyLive is modify for a session that must not have expired.
// Errors: SESSION_NOT_FOUND, SESSION_EXPIRED, and whatever change returns.
func (s *Service) modifyLive(ctx context.Context, id string, change func(*models.Session, time.Time) (*models.Message, error)) (*models.Session, error) {
	return s.modify(ctx, id, live(change))
}

// guard adapts change to the store's callback: it runs under the session's
// lock, hides sessions the principal may not reach, and reads the clock there.
func (s *Service) guard(p models.Principal, change func(*models.Session, time.Time) (*models.Message, error)) func(*models.Session) (*models.Message, error) {
	return func(session *models.Session) (*models.Message, error) {
		if !p.CanAccess(session) {
			return nil, models.ErrNotFound
		}
		return change(session, s.Now())
	}
}

// guardLive is guard for a change that needs a session that has not expired.
func (s *Service) guardLive(p models.Principal, change func(*models.Session, time.Time) (*models.Message, error)) func(*models.Session) (*models.Message, error) {
	return s.guard(p, live(change))
}

func live(change func(*models.Session, time.Time) (*models.Message, error)) func(*models.Session, time.Time) (*models.Message, error) {
	return func(session *models.Session, now time.Time) (*models.Message, error) {
		if session.IsExpired(now) {
			return nil, session.ErrExpired()
		}
		return change(session, now)
	}
}

// RenewSession renews a session by hand, as if autoRenew were on.
// Errors: SESSION_NOT_FOUND, SESSION_EXPIRED, SESSION_RENEWAL_FAILED (the hard cap is reached).
func (s *Service) RenewSession(ctx context.Context, id string) (*models.Session, error) {
	var event models.Event
	session, err := s.modify(ctx, id, func(session *models.Session, now time.Time) (*models.Message, error) {
		if err := session.Renew(now); err != nil {
			return nil, err
		}
		event = renewedEvent(session, true, now)
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, event)
	return session, nil
}

// Heartbeat records activity without a message; it renews exactly as a send would.
// Errors: SESSION_NOT_FOUND, SESSION_EXPIRED.
func (s *Service) Heartbeat(ctx context.Context, id string) (*models.Session, error) {
	var events []models.Event
	session, err := s.modifyLive(ctx, id, func(session *models.Session, now time.Time) (*models.Message, error) {
		if session.RecordActivity(now).WasRenewed {
			events = append(events, renewedEvent(session, true, now))
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, events...)
	return session, nil
}

// UpdateTimeout merges o over the session's current config (omitted fields
// keep their values) and recomputes expiresAt. An out-of-range timeout is
// rejected, not clamped. Subscribers hear a renewed event (wasRenewed false)
// carrying the new expiresAt. Errors: SESSION_NOT_FOUND, SESSION_EXPIRED, VALIDATION_ERROR.
func (s *Service) UpdateTimeout(ctx context.Context, id string, o models.TimeoutOverrides) (*models.Session, error) {
	if invalid := o.Validate(); invalid != nil {
		return nil, s.rejectInput(ctx, id, invalid)
	}
	var event models.Event
	session, err := s.modifyLive(ctx, id, func(session *models.Session, now time.Time) (*models.Message, error) {
		cfg, err := s.policy.Update(session.TimeoutConfig, o)
		if err != nil {
			return nil, err
		}
		session.Reconfigure(cfg)
		event = renewedEvent(session, false, now)
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, event)
	return session, nil
}

// DeleteSession removes a session, expired or not, with its messages; its
// subscribers hear a deleted event and their subscriptions end.
// Errors: SESSION_NOT_FOUND.
func (s *Service) DeleteSession(ctx context.Context, id string) error {
	session, err := s.Session(models.WithLatestReads(ctx), id) // the principal must reach it
	if err != nil {
		return err
	}
	if err := s.store.DeleteSession(ctx, session.ID); errors.Is(err, models.ErrNotFound) {
		return models.ErrSessionNotFound(id)
	} else if err != nil {
		return err
	}
	s.publish(ctx, models.Event{Kind: models.EventDeleted, SessionID: session.ID, AgentID: session.AgentID, OccurredAt: s.Now()})
	return nil
}
