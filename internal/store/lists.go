package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"sessionhub/models"
)

// keyset applies a models.ListQuery to a (created_at, id)-ordered table.
// Row-value comparisons use the (…, created_at, id) indexes on both dialects.
func keyset(db *gorm.DB, q models.ListQuery) *gorm.DB {
	if q.Older != nil {
		db = db.Where("(created_at, id) < (?, ?)", q.Older.CreatedAt.UTC(), q.Older.ID)
	}
	if q.Newer != nil {
		db = db.Where("(created_at, id) > (?, ?)", q.Newer.CreatedAt.UTC(), q.Newer.ID)
	}
	if q.Ascending {
		db = db.Order("created_at ASC, id ASC")
	} else {
		db = db.Order("created_at DESC, id DESC")
	}
	return db.Limit(q.Limit)
}

// ListMessages returns one keyset page of a session's messages.
func (s *Store) ListMessages(ctx context.Context, sessionID uuid.UUID, q models.ListQuery) ([]*models.Message, error) {
	var out []*models.Message
	err := s.read(ctx, false, func(db *gorm.DB) (err error) {
		out, err = findMessages(keyset(db.Table("messages").Select(messageColumns).Where("session_id = ?", sessionID), q))
		return err
	})
	return out, err
}

// SessionHistory is FindSession and ListMessages in one statement, one
// round trip: the session row first, then the page's messages, glued with
// UNION ALL (each row's other half NULL, so nothing is decoded twice).
// models.ErrNotFound without the session.
func (s *Store) SessionHistory(ctx context.Context, sessionID uuid.UUID, q models.ListQuery) (*models.Session, []*models.Message, error) {
	var (
		sess *models.Session
		page []*models.Message
	)
	err := s.read(ctx, true, func(db *gorm.DB) error {
		pageQuery := keyset(db.Session(&gorm.Session{NewDB: true}).Table("messages").Select(messageColumns).Where("session_id = ?", sessionID), q)
		direction := "DESC"
		if q.Ascending {
			direction = "ASC"
		}
		rows, err := db.Raw(fmt.Sprintf(sessionHistorySQL, direction, direction), sessionID, pageQuery).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		sess, page = nil, nil
		for rows.Next() {
			if sess == nil {
				sess = new(models.Session)
				if err := rows.Scan(sessionHistoryRow(sessionFields(sess), nil)...); err != nil {
					return err
				}
				continue
			}
			m := new(models.Message)
			if err := rows.Scan(sessionHistoryRow(nil, messageFields(m))...); err != nil {
				return err
			}
			page = append(page, m)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if sess == nil {
			return gorm.ErrRecordNotFound
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return sess, page, nil
}

// LatestMessages returns up to limit newest messages of each session, in one
// query, grouped by session id. Each session is its own LIMITed keyset read
// of the history index, glued with UNION ALL, so the cost follows the page
// size and not the history's length (a window over each session's whole
// history read every message it ever had).
func (s *Store) LatestMessages(ctx context.Context, sessionIDs []uuid.UUID, limit int) (map[uuid.UUID][]*models.Message, error) {
	out := make(map[uuid.UUID][]*models.Message, len(sessionIDs))
	if len(sessionIDs) == 0 {
		return out, nil
	}
	parts := make([]string, len(sessionIDs))
	args := make([]any, 0, 2*len(sessionIDs))
	for i, id := range sessionIDs {
		parts[i] = fmt.Sprintf("SELECT * FROM (SELECT %s FROM messages WHERE session_id = ? ORDER BY created_at DESC, id DESC LIMIT ?) AS s%d", messageColumns, i)
		args = append(args, id, limit)
	}
	query := "SELECT * FROM (" + strings.Join(parts, " UNION ALL ") + ") AS latest ORDER BY session_id, created_at DESC, id DESC"
	var rows []*models.Message
	err := s.read(ctx, false, func(db *gorm.DB) (err error) {
		rows, err = findMessages(db.Raw(query, args...))
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, m := range rows {
		out[m.SessionID] = append(out[m.SessionID], m)
	}
	return out, nil
}

// ListSessions returns one keyset page of sessions matching the filter at now.
func (s *Store) ListSessions(ctx context.Context, f models.SessionCriteria, now time.Time, q models.ListQuery) ([]*models.Session, error) {
	var out []*models.Session
	err := s.read(ctx, false, func(db *gorm.DB) error {
		return keyset(filterSessions(db, f, now), q).Find(&out).Error
	})
	return out, err
}

// CountSessions counts the sessions matching the filter at now.
func (s *Store) CountSessions(ctx context.Context, f models.SessionCriteria, now time.Time) (int64, error) {
	var n int64
	err := s.read(ctx, false, func(db *gorm.DB) error {
		return filterSessions(db.Model(&models.Session{}), f, now).Count(&n).Error
	})
	return n, err
}

func filterSessions(db *gorm.DB, f models.SessionCriteria, now time.Time) *gorm.DB {
	if f.AgentID != nil {
		db = db.Where("agent_id = ?", *f.AgentID)
	}
	if f.UserID != nil {
		db = db.Where("user_id = ?", *f.UserID)
	}
	switch {
	case f.State == nil:
	case *f.State == models.SessionStateActive:
		db = db.Where("expires_at > ?", now.UTC())
	case *f.State == models.SessionStateExpired:
		db = db.Where("expires_at <= ?", now.UTC())
	}
	return db
}

// CountExpiringSoon counts live sessions inside their own warning window at now.
func (s *Store) CountExpiringSoon(ctx context.Context, now time.Time) (int64, error) {
	window := "expires_at <= CAST(? AS timestamptz) + warning_threshold_minutes * interval '1 minute'"
	if s.dialect == SQLite {
		window = "julianday(expires_at) <= julianday(?) + warning_threshold_minutes / 1440.0"
	}
	var n int64
	err := s.read(ctx, false, func(db *gorm.DB) error {
		return db.Model(&models.Session{}).
			Where("expires_at > ?", now.UTC()).
			Where(window, now.UTC()).
			Count(&n).Error
	})
	return n, err
}

// DeleteSession removes a session and, by cascade, its messages.
func (s *Store) DeleteSession(ctx context.Context, id uuid.UUID) error {
	defer s.wrote(ctx)
	res := s.db.WithContext(ctx).Delete(&models.Session{}, "id = ?", id)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return models.ErrNotFound
	}
	return nil
}

// DeleteExpired removes up to limit sessions (with their messages) that
// expired before cutoff, and reports how many. On PostgreSQL, rows another
// replica is already deleting are skipped rather than waited for.
func (s *Store) DeleteExpired(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	// created_at < cutoff is implied (a session expires after it was
	// created) and lets the sweep use created_at's index: expires_at has
	// none, so that sends stay HOT updates.
	batch := s.db.Model(&models.Session{}).Select("id").
		Where("created_at < ? AND expires_at < ?", cutoff.UTC(), cutoff.UTC()).Order("created_at").Limit(limit)
	if s.dialect == Postgres {
		batch = batch.Clauses(lockSkipLocked)
	}
	res := s.db.WithContext(ctx).Where("id IN (?)", batch).Delete(&models.Session{})
	return int(res.RowsAffected), translate(res.Error)
}
