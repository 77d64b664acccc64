package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"sessionhub/models"
)

// FindPersistedQuery returns the document registered under hash, or models.ErrNotFound.
func (s *Store) FindPersistedQuery(ctx context.Context, hash string) (string, error) {
	var q models.PersistedQuery
	if err := s.read(ctx, true, func(db *gorm.DB) error { return db.Take(&q, "hash = ?", hash).Error }); err != nil {
		return "", err
	}
	return q.Query, nil
}

// SavePersistedQuery registers a document, or refreshes the registration
// time of one already known (a hash always names the same text).
func (s *Store) SavePersistedQuery(ctx context.Context, q *models.PersistedQuery) error {
	defer s.wrote(ctx)
	q.RegisteredAt = q.RegisteredAt.UTC()
	return translate(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "hash"}},
		DoUpdates: clause.AssignmentColumns([]string{"registered_at"}),
	}).Create(q).Error)
}

// DeletePersistedQueries forgets up to limit documents registered before
// cutoff or beyond the keep most recently registered; safe to run from
// several processes at once.
func (s *Store) DeletePersistedQueries(ctx context.Context, cutoff time.Time, keep, limit int) (int, error) {
	db := s.db.WithContext(ctx)
	old := db.Model(&models.PersistedQuery{}).Select("hash").Where("registered_at < ?", cutoff.UTC()).Limit(limit)
	res := db.Where("hash IN (?)", old).Delete(&models.PersistedQuery{})
	if res.Error != nil || res.RowsAffected >= int64(limit) {
		return int(res.RowsAffected), translate(res.Error)
	}
	removed := int(res.RowsAffected)
	surplus := db.Model(&models.PersistedQuery{}).Select("hash").
		Order("registered_at DESC, hash DESC").Limit(limit - removed).Offset(keep)
	res = db.Where("hash IN (?)", surplus).Delete(&models.PersistedQuery{})
	return removed + int(res.RowsAffected), translate(res.Error)
}
