package store

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"sessionhub/models"
)

// translate maps driver errors to the sentinels the service understands.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return models.ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return models.ErrDuplicate
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return models.ErrNotFound
	}
	return err
}

func (s *Store) CreateAgent(ctx context.Context, a *models.Agent) error {
	return translate(s.db.WithContext(ctx).Create(a).Error)
}

func (s *Store) FindAgent(ctx context.Context, id uuid.UUID) (*models.Agent, error) {
	var a models.Agent
	if err := s.db.WithContext(ctx).Take(&a, "id = ?", id).Error; err != nil {
		return nil, translate(err)
	}
	return &a, nil
}

func (s *Store) CreateSession(ctx context.Context, sess *models.Session) error {
	return translate(s.db.WithContext(ctx).Create(sess).Error)
}

func (s *Store) FindSession(ctx context.Context, id uuid.UUID) (*models.Session, error) {
	var sess models.Session
	if err := s.db.WithContext(ctx).Take(&sess, "id = ?", id).Error; err != nil {
		return nil, translate(err)
	}
	return &sess, nil
}

// UpdateSession locks the session row (SELECT … FOR UPDATE on PostgreSQL; the
// single connection and BEGIN IMMEDIATE on SQLite), lets apply change it, then
// writes the session's mutable columns and the message in the same transaction.
func (s *Store) UpdateSession(ctx context.Context, id uuid.UUID, apply func(*models.Session) (*models.Message, error)) (*models.Session, error) {
	var sess models.Session
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
			Take(&sess, "id = ?", id).Error; err != nil {
			return err
		}
		msg, err := apply(&sess)
		if err != nil {
			return err
		}
		if err := tx.Model(&models.Session{}).Where("id = ?", id).Updates(map[string]any{
			"last_activity":             sess.LastActivity,
			"expires_at":                sess.ExpiresAt,
			"renewal_count":             sess.RenewalCount,
			"timeout_minutes":           sess.TimeoutConfig.TimeoutMinutes,
			"auto_renew":                sess.TimeoutConfig.AutoRenew,
			"max_duration_minutes":      sess.TimeoutConfig.MaxDurationMinutes,
			"warning_threshold_minutes": sess.TimeoutConfig.WarningThresholdMinutes,
		}).Error; err != nil {
			return err
		}
		if msg != nil {
			return tx.Create(msg).Error
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	return &sess, nil
}

var lockSkipLocked = clause.Locking{Strength: clause.LockingStrengthUpdate, Options: clause.LockingOptionsSkipLocked}
