package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"sessionhub/models"
)

// translate maps driver errors to the sentinels the service understands.
func translate(err error) error {
	if _, ok := errors.AsType[*models.Error](err); ok {
		return err // from the service's own callback
	}
	switch {
	case err == nil:
		return nil
	case storageFault(err) != nil: // full or read-only: 503 with its own sentence
		return fmt.Errorf("%w: %w", storageFault(err), err)
	case isUnavailable(err):
		return fmt.Errorf("%w: %w", models.ErrUnavailable(), err)
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
	defer s.wrote(ctx)
	return translate(s.db.WithContext(ctx).Create(a).Error)
}

// FindAgent reads an agent, on a read replica when one is fresh enough.
func (s *Store) FindAgent(ctx context.Context, id uuid.UUID) (*models.Agent, error) {
	var a models.Agent
	if err := s.read(ctx, true, func(db *gorm.DB) error { return db.Take(&a, "id = ?", id).Error }); err != nil {
		return nil, err
	}
	return &a, nil
}

func (s *Store) CreateSession(ctx context.Context, sess *models.Session) error {
	defer s.wrote(ctx)
	return translate(s.db.WithContext(ctx).Create(sess).Error)
}

// FindSession reads a session, on a read replica when one is fresh enough.
func (s *Store) FindSession(ctx context.Context, id uuid.UUID) (*models.Session, error) {
	var sess *models.Session
	err := s.read(ctx, true, func(db *gorm.DB) (err error) {
		sess, err = takeSession(db.Table("sessions").Select(sessionColumns).Where("id = ?", id))
		return err
	})
	return sess, err
}

// UpdateSession locks the session row (SELECT … FOR UPDATE on PostgreSQL; the
// single connection and BEGIN IMMEDIATE on SQLite), lets apply change it, then
// writes the session's mutable columns and the message in the same transaction.
//
// If the database fails while a message is being written, so that the write
// may have committed, the store looks the message up before it answers
// (settle.go): success if it is stored, models.ErrSendOutcomeUnknown if the
// database cannot tell in time.
func (s *Store) UpdateSession(ctx context.Context, id uuid.UUID, apply func(*models.Session) (*models.Message, error)) (*models.Session, error) {
	defer s.wrote(ctx)
	st := &settled{store: s, apply: apply}
	var sess *models.Session
	var err error
	if s.dialect == Postgres {
		sess, err = s.updateOptimistically(ctx, id, st.run)
	} else {
		sess, _, err = s.updateSession(ctx, id, nil, st.run)
	}
	return st.outcome(ctx, sess, err)
}

// UpdateSessionOnce is UpdateSession guarded by an idempotency key. Under the
// session's lock it looks the key up: if it was used within the TTL, apply
// is not called and the stored record is returned. Otherwise the record
// (completed with the message apply returns) commits with the send. A
// concurrent first use of the key elsewhere makes it retry once, to find
// and return that use's record.
func (s *Store) UpdateSessionOnce(ctx context.Context, id uuid.UUID, key models.IdempotencyKey, apply func(*models.Session) (*models.Message, error)) (*models.Session, *models.IdempotencyKey, error) {
	defer s.wrote(ctx)
	st := &settled{store: s, apply: apply}
	sess, used, err := s.updateSession(ctx, id, &key, st.run)
	if errors.Is(err, errKeyRace) {
		sess, used, err = s.updateSession(ctx, id, &key, st.run)
	}
	if used != nil {
		return sess, used, err
	}
	sess, err = st.outcome(ctx, sess, err)
	return sess, nil, err
}

// errKeyRace: another transaction committed the same idempotency key first.
var errKeyRace = errors.New("idempotency key taken concurrently")

func (s *Store) updateSession(ctx context.Context, id uuid.UUID, key *models.IdempotencyKey, apply func(*models.Session) (*models.Message, error)) (*models.Session, *models.IdempotencyKey, error) {
	var sess models.Session
	var used *models.IdempotencyKey
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
			Take(&sess, "id = ?", id).Error; err != nil {
			return err
		}
		if key != nil {
			var prior models.IdempotencyKey
			err := tx.Where("scope = ? AND key = ? AND created_at > ?", key.Scope, key.Key, key.CreatedAt.Add(-models.IdempotencyTTL)).
				Take(&prior).Error
			if err == nil {
				used = &prior
				return nil
			}
			if !errors.Is(err, gorm.ErrRecordNotFound) {
				return err
			}
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
			"last_message_at":           sess.LastMessageAt,
			"version":                   gorm.Expr("version + 1"),
		}).Error; err != nil {
			return err
		}
		if msg == nil {
			return nil
		}
		if err := tx.Create(msg).Error; err != nil {
			return err
		}
		if key == nil {
			return nil
		}
		record := *key
		record.SessionID, record.MessageID = sess.ID, msg.ID
		record.SessionStatus = models.EncodeStatus(msg.SessionStatus)
		// A stale record of the same key (older than the TTL) is replaced.
		res := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "scope"}, {Name: "key"}},
			DoUpdates: clause.AssignmentColumns([]string{"request_hash", "session_id", "message_id", "session_status", "created_at"}),
			Where: clause.Where{Exprs: []clause.Expression{
				clause.Expr{SQL: "idempotency_keys.created_at <= ?", Vars: []any{key.CreatedAt.Add(-models.IdempotencyTTL)}},
			}},
		}).Create(&record)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errKeyRace
		}
		return nil
	})
	if err != nil {
		return nil, nil, translate(err)
	}
	return &sess, used, nil
}

// FindMessage returns one message, always from the primary: it answers an
// idempotent send's replay and fetches a message just announced by NOTIFY.
func (s *Store) FindMessage(ctx context.Context, id uuid.UUID) (*models.Message, error) {
	var m models.Message
	if err := s.db.WithContext(ctx).Take(&m, "id = ?", id).Error; err != nil {
		return nil, translate(err)
	}
	return &m, nil
}

// DeleteIdempotencyKeysBefore forgets keys older than cutoff, up to limit of them.
func (s *Store) DeleteIdempotencyKeysBefore(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	batch := s.db.Model(&models.IdempotencyKey{}).Select("scope, key").
		Where("created_at < ?", cutoff.UTC()).Limit(limit)
	res := s.db.WithContext(ctx).Where("(scope, key) IN (?)", batch).Delete(&models.IdempotencyKey{})
	return int(res.RowsAffected), translate(res.Error)
}

var lockSkipLocked = clause.Locking{Strength: clause.LockingStrengthUpdate, Options: clause.LockingOptionsSkipLocked}
