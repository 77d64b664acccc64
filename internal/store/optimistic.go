package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"sessionhub/models"
)

// optimisticAttempts is how often a write is retried against concurrent
// writers before it falls back to the row-locked transaction.
const optimisticAttempts = 3

// writeSessionSQL writes a session's new state and inserts its message in
// one statement: one round trip, atomic, and applied only if the session's
// version is still the one that was read. The message's session_id is the
// parameter itself (not u.id), so that on a distributed PostgreSQL both
// halves are routed to the session's shard by $1 (docs/scaling.md).
const writeSessionSQL = `
WITH u AS (
	UPDATE sessions SET last_activity = $2, expires_at = $3, renewal_count = $4,
		timeout_minutes = $5, auto_renew = $6, max_duration_minutes = $7, warning_threshold_minutes = $8,
		last_message_at = $16, version = version + 1
	WHERE id = $1 AND version = $9
	RETURNING id
)
INSERT INTO messages (id, session_id, author_id, is_agent, content, metadata, attachments, created_at, session_status)
SELECT $10, $1, $11, $12, $13, $14, $15, $16, $17 FROM u`

const writeSessionOnlySQL = `
UPDATE sessions SET last_activity = $2, expires_at = $3, renewal_count = $4,
	timeout_minutes = $5, auto_renew = $6, max_duration_minutes = $7, warning_threshold_minutes = $8,
	version = version + 1
WHERE id = $1 AND version = $9`

// updateOptimistically is UpdateSession on PostgreSQL: take the session as
// last written by this process (or read it), let apply change it, then write
// it and the message in one statement guarded by the version it had. A send
// to a session this replica wrote last is therefore one round trip. If
// another writer got there first — or the remembered copy is stale, or a
// rule refused on it — the session is read afresh and apply runs again (so
// "now" is read again too); after a few lost races the row-locked
// transaction takes over, so a hot session cannot livelock.
func (s *Store) updateOptimistically(ctx context.Context, id uuid.UUID, apply func(*models.Session) (*models.Message, error)) (*models.Session, error) {
	release, err := s.turns.take(ctx, id)
	if err != nil {
		return nil, translate(err)
	}
	defer release()
	for attempt := range optimisticAttempts {
		var sess models.Session
		remembered := attempt == 0 && s.recent.get(id, &sess)
		if !remembered {
			readCtx, end := s.span(ctx, "SELECT sessions")
			err := readSession(readCtx, s.sql, id, &sess)
			end(err)
			if err != nil {
				s.recent.forget(id)
				return nil, translate(err)
			}
		}
		version := sess.Version
		msg, err := apply(&sess)
		if err != nil {
			if remembered {
				continue // confirm the refusal on the stored state
			}
			return nil, err
		}
		writeCtx, end := s.span(ctx, "UPDATE sessions")
		var written bool
		if msg != nil {
			written, err = s.sends.write(writeCtx, &sess, version, msg) // shares a commit with concurrent sends
		} else {
			written, err = s.writeSession(writeCtx, &sess, version, nil)
		}
		end(err)
		if err != nil {
			s.recent.forget(id)
			return nil, translate(err)
		}
		if written {
			sess.Version = version + 1
			s.recent.put(&sess)
			return &sess, nil
		}
		s.recent.forget(id)
	}
	sess, _, err := s.updateSession(ctx, id, nil, apply)
	return sess, err
}

// readSessionSQL reads what scanSession scans. (The hot path reads
// without GORM's reflection.)
const readSessionSQL = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = $1`

func readSession(ctx context.Context, db *sql.DB, id uuid.UUID, s *models.Session) error {
	err := scanSession(db.QueryRowContext(ctx, readSessionSQL, id), s)
	if errors.Is(err, sql.ErrNoRows) {
		return models.ErrNotFound
	}
	return err
}

func (s *Store) writeSession(ctx context.Context, sess *models.Session, version int64, msg *models.Message) (bool, error) {
	cfg := sess.TimeoutConfig
	args := []any{sess.ID, sess.LastActivity.UTC(), sess.ExpiresAt.UTC(), sess.RenewalCount,
		cfg.TimeoutMinutes, cfg.AutoRenew, cfg.MaxDurationMinutes, cfg.WarningThresholdMinutes, version}
	query := writeSessionOnlySQL
	if msg != nil {
		metadata, _ := msg.Metadata.Value()
		attachments, err := msg.Attachments.Value()
		if err != nil {
			return false, err
		}
		status, err := statusJSON(msg.SessionStatus)
		if err != nil {
			return false, err
		}
		query = writeSessionSQL
		args = append(args, msg.ID, msg.AuthorID, msg.IsAgent, msg.Content, metadata, attachments, msg.CreatedAt.UTC(), status)
	}
	res, err := s.sql.ExecContext(ctx, query, args...)
	if err != nil {
		if t, ok := s.db.Dialector.(gorm.ErrorTranslator); ok {
			err = t.Translate(err) // as GORM would: constraint violations become its sentinels
		}
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}
