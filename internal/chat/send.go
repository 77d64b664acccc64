package chat

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// SendMessage stores a message from the session's user and applies the send
// rule (SPEC §3) in one atomic step: the session row is locked, "now" is read
// under the lock, the session is renewed and the message inserted, and both
// commit together. The returned message carries the resulting SessionStatus.
// Sent by an agent principal, it is that agent's message (SendAgentMessage).
//
// With in.IdempotencyKey, a repeat of the same request by the same caller
// within 24 hours returns the first result and changes nothing; the same key
// with another request is IDEMPOTENCY_CONFLICT.
//
// As in the reference, an unknown or expired session is reported before
// invalid content. Errors: SESSION_NOT_FOUND, SESSION_EXPIRED,
// VALIDATION_ERROR, IDEMPOTENCY_CONFLICT.
func (s *Service) SendMessage(ctx context.Context, sessionID string, in models.MessageInput) (*models.Message, error) {
	if models.PrincipalFrom(ctx).Role == models.RoleAgent {
		return s.SendAgentMessage(ctx, sessionID, in)
	}
	return s.send(ctx, sessionID, in, false, func(session *models.Session, now time.Time) *models.Message {
		status := session.RecordActivity(now)
		msg := newMessage(session, session.UserID, false, in, session.StampMessage(now))
		msg.SessionStatus = &status
		return msg
	})
}

// SendAgentMessage stores a reply authored by the session's agent. It does
// not renew the session or move lastActivity, but the session must be live;
// its SessionStatus reports the lifetime unchanged (wasRenewed false).
// Users may not author agent messages. Idempotency keys work as for SendMessage.
// Errors: SESSION_NOT_FOUND, SESSION_EXPIRED, VALIDATION_ERROR, FORBIDDEN,
// IDEMPOTENCY_CONFLICT.
func (s *Service) SendAgentMessage(ctx context.Context, sessionID string, in models.MessageInput) (*models.Message, error) {
	if models.PrincipalFrom(ctx).Role == models.RoleUser {
		return nil, models.ErrForbidden("Only the session's agent can send agent messages")
	}
	return s.send(ctx, sessionID, in, true, func(session *models.Session, now time.Time) *models.Message {
		msg := newMessage(session, session.AgentID, true, in, session.StampMessage(now))
		status := session.StatusAt(now)
		msg.SessionStatus = &status
		return msg
	})
}

func (s *Service) send(ctx context.Context, sessionID string, in models.MessageInput, isAgent bool, compose func(*models.Session, time.Time) *models.Message) (*models.Message, error) {
	invalid := in.Validate()
	if invalid == nil && in.IdempotencyKey != "" {
		invalid = models.ValidateIdempotencyKey(in.IdempotencyKey)
	}
	if invalid != nil {
		return nil, s.rejectInput(ctx, sessionID, invalid)
	}
	var msg *models.Message
	var prevAt time.Time // the session's previous message, for subscribers to spot a gap
	var agentID uuid.UUID
	change := func(session *models.Session, now time.Time) (*models.Message, error) {
		prevAt, agentID = time.Time{}, session.AgentID
		if session.LastMessageAt != nil {
			prevAt = *session.LastMessageAt
		}
		msg = compose(session, now)
		return msg, nil
	}
	if in.IdempotencyKey == "" {
		if _, err := s.modifyLive(ctx, sessionID, change); err != nil {
			return nil, err
		}
		s.publish(ctx, messageEvents(agentID, msg, prevAt)...)
		return msg, nil
	}

	id, err := uuid.Parse(sessionID)
	if err != nil {
		return nil, models.ErrSessionNotFound(sessionID)
	}
	principal := models.PrincipalFrom(ctx)
	key := models.IdempotencyKey{
		Scope:       principal.Scope,
		Key:         in.IdempotencyKey,
		RequestHash: models.RequestHash(id.String(), isAgent, in),
		CreatedAt:   s.Now(),
	}
	_, used, err := s.store.UpdateSessionOnce(ctx, id, key, s.guardLive(principal, change))
	if errors.Is(err, models.ErrNotFound) {
		return nil, models.ErrSessionNotFound(sessionID)
	}
	if err != nil {
		return nil, err
	}
	if used == nil {
		s.publish(ctx, messageEvents(agentID, msg, prevAt)...)
		return msg, nil
	}
	if used.RequestHash != key.RequestHash {
		return nil, models.ErrIdempotencyConflict(in.IdempotencyKey)
	}
	return s.replay(ctx, sessionID, used)
}

// replay returns the first result of a send made with an idempotency key.
func (s *Service) replay(ctx context.Context, sessionID string, used *models.IdempotencyKey) (*models.Message, error) {
	msg, err := s.store.FindMessage(ctx, used.MessageID)
	if errors.Is(err, models.ErrNotFound) { // deleted with its session since
		return nil, models.ErrSessionNotFound(sessionID)
	}
	if err != nil {
		return nil, err
	}
	if msg.SessionStatus == nil { // stored before messages kept their status
		msg.SessionStatus = models.DecodeStatus(used.SessionStatus)
	}
	return msg, nil
}

func newMessage(session *models.Session, authorID uuid.UUID, isAgent bool, in models.MessageInput, now time.Time) *models.Message {
	return &models.Message{
		ID:          uuid.Must(uuid.NewV7()),
		SessionID:   session.ID,
		AuthorID:    authorID,
		IsAgent:     isAgent,
		Content:     in.Content,
		Metadata:    in.Metadata.OrEmpty(),
		Attachments: in.Attachments,
		CreatedAt:   now,
	}
}
