package store

import (
	"context"
	"time"

	"sessionhub/models"
)

// Claiming a lifetime event marks it announced in the same statement that
// selects it; on PostgreSQL SKIP LOCKED lets replicas claim side by side
// without waiting for or repeating each other.

var claimNearExpirationSQL = map[Dialect]string{
	Postgres: `UPDATE sessions SET near_expiry_notified_for = expires_at
		WHERE id IN (
			SELECT id FROM sessions
			WHERE NOT expiry_notified AND expires_at > @now
			  AND expires_at <= CAST(@now AS timestamptz) + warning_threshold_minutes * interval '1 minute'
			  AND near_expiry_notified_for IS DISTINCT FROM expires_at
			ORDER BY expires_at LIMIT @limit
			FOR UPDATE SKIP LOCKED)
		RETURNING id, agent_id, expires_at`,
	SQLite: `UPDATE sessions SET near_expiry_notified_for = expires_at
		WHERE id IN (
			SELECT id FROM sessions
			WHERE expires_at > @now
			  AND julianday(expires_at) <= julianday(@now) + warning_threshold_minutes / 1440.0
			  AND near_expiry_notified_for IS NOT expires_at
			ORDER BY expires_at LIMIT @limit)
		RETURNING id, agent_id, expires_at`,
}

var claimExpiredSQL = map[Dialect]string{
	Postgres: `UPDATE sessions SET expiry_notified = true
		WHERE id IN (
			SELECT id FROM sessions
			WHERE NOT expiry_notified AND expires_at <= @now
			ORDER BY expires_at LIMIT @limit
			FOR UPDATE SKIP LOCKED)
		RETURNING id, agent_id, expires_at`,
	SQLite: `UPDATE sessions SET expiry_notified = true
		WHERE id IN (
			SELECT id FROM sessions
			WHERE NOT expiry_notified AND expires_at <= @now
			ORDER BY expires_at LIMIT @limit)
		RETURNING id, agent_id, expires_at`,
}

// ClaimNearExpiration marks and returns live sessions that entered their
// warning window since their current expiresAt was last announced.
func (s *Store) ClaimNearExpiration(ctx context.Context, now time.Time, limit int) ([]models.LifetimeClaim, error) {
	return s.claim(ctx, claimNearExpirationSQL[s.dialect], now, limit)
}

// ClaimExpired marks and returns expired sessions not announced yet.
func (s *Store) ClaimExpired(ctx context.Context, now time.Time, limit int) ([]models.LifetimeClaim, error) {
	return s.claim(ctx, claimExpiredSQL[s.dialect], now, limit)
}

func (s *Store) claim(ctx context.Context, query string, now time.Time, limit int) ([]models.LifetimeClaim, error) {
	var claims []models.LifetimeClaim
	err := s.db.WithContext(ctx).Raw(query, map[string]any{"now": now.UTC(), "limit": limit}).Scan(&claims).Error
	for i := range claims {
		claims[i].ExpiresAt = claims[i].ExpiresAt.UTC()
	}
	return claims, translate(err)
}
