package store

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"sessionhub/models"
)

// Batched lookups by id, one query each however many ids: the GraphQL
// transport resolves links (Message.session, Session.agent) and Query.nodes
// with them. Unknown ids are simply absent from the answer.

// FindAgents returns the agents with these ids.
func (s *Store) FindAgents(ctx context.Context, ids []uuid.UUID) ([]*models.Agent, error) {
	var out []*models.Agent
	if len(ids) == 0 {
		return out, nil
	}
	err := s.read(ctx, false, func(db *gorm.DB) error { return db.Where("id IN ?", ids).Find(&out).Error })
	return out, err
}

// FindSessions returns the sessions with these ids.
func (s *Store) FindSessions(ctx context.Context, ids []uuid.UUID) ([]*models.Session, error) {
	var out []*models.Session
	if len(ids) == 0 {
		return out, nil
	}
	err := s.read(ctx, false, func(db *gorm.DB) (err error) {
		out, err = findSessions(db.Table("sessions").Select(sessionColumns).Where("id IN ?", ids))
		return err
	})
	return out, err
}

// FindMessages returns the messages with these ids.
func (s *Store) FindMessages(ctx context.Context, ids []uuid.UUID) ([]*models.Message, error) {
	var out []*models.Message
	if len(ids) == 0 {
		return out, nil
	}
	err := s.read(ctx, false, func(db *gorm.DB) (err error) {
		out, err = messagesByID(db, ids)
		return err
	})
	return out, err
}

func messagesByID(db *gorm.DB, ids []uuid.UUID) ([]*models.Message, error) {
	return findMessages(db.Table("messages").Select(messageColumns).Where("id IN ?", ids))
}

// CountMessages counts the messages of each session; sessions without
// messages (or unknown) are absent.
func (s *Store) CountMessages(ctx context.Context, sessionIDs []uuid.UUID) (map[uuid.UUID]int64, error) {
	out := make(map[uuid.UUID]int64, len(sessionIDs))
	if len(sessionIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		SessionID uuid.UUID
		N         int64
	}
	err := s.read(ctx, false, func(db *gorm.DB) error {
		return db.Model(&models.Message{}).
			Select("session_id, count(*) AS n").
			Where("session_id IN ?", sessionIDs).
			Group("session_id").
			Find(&rows).Error
	})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.SessionID] = r.N
	}
	return out, nil
}
