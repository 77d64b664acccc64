package models

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// The lifetime rules of SPEC §3. Each is a pure function of the session and
// `now`; the service decides when to apply them and what `now` is.

// NewSession opens a session at now: expiresAt = min(now + timeout, now + maxDuration).
func NewSession(id, agentID, userID uuid.UUID, metadata JSONObject, cfg TimeoutConfig, now time.Time) *Session {
	now = Truncate(now)
	return &Session{
		ID:            id,
		AgentID:       agentID,
		UserID:        userID,
		Metadata:      metadata,
		CreatedAt:     now,
		LastActivity:  now,
		ExpiresAt:     earliest(now.Add(cfg.timeout()), now.Add(cfg.maxDuration())),
		TimeoutConfig: cfg,
	}
}

// IsExpired reports whether the session is over: expiresAt <= now.
func (s *Session) IsExpired(now time.Time) bool { return !s.ExpiresAt.After(now) }

// ErrExpired is the SESSION_EXPIRED error for this session.
func (s *Session) ErrExpired() *Error {
	return ErrSessionExpired(s.ID.String(), FormatTime(s.ExpiresAt))
}

// StateAt is ACTIVE or EXPIRED at now.
func (s *Session) StateAt(now time.Time) SessionState {
	if s.IsExpired(now) {
		return SessionStateExpired
	}
	return SessionStateActive
}

// RemainingAt is max(0, expiresAt - now).
func (s *Session) RemainingAt(now time.Time) time.Duration {
	return max(0, s.ExpiresAt.Sub(now))
}

// NearExpirationAt reports 0 < expiresAt - now <= warningThreshold.
func (s *Session) NearExpirationAt(now time.Time) bool {
	left := s.ExpiresAt.Sub(now)
	return left > 0 && left <= s.TimeoutConfig.warning()
}

// hardCap is the latest the session may ever live to.
func (s *Session) hardCap() time.Time { return s.CreatedAt.Add(s.TimeoutConfig.maxDuration()) }

// canRenew reports whether the hard cap still leaves room: now - createdAt < maxDuration.
func (s *Session) canRenew(now time.Time) bool { return now.Before(s.hardCap()) }

// renew slides expiresAt to min(now + timeout, createdAt + maxDuration).
func (s *Session) renew(now time.Time) {
	s.ExpiresAt = earliest(now.Add(s.TimeoutConfig.timeout()), s.hardCap())
	s.RenewalCount++
}

// RecordActivity applies a user message or heartbeat at now: lastActivity moves
// to now and, when autoRenew is on and the cap allows, the session renews.
// The caller must already have checked that the session is not expired.
func (s *Session) RecordActivity(now time.Time) SessionStatus {
	now = Truncate(now)
	s.LastActivity = now
	renewed := s.TimeoutConfig.AutoRenew && s.canRenew(now)
	if renewed {
		s.renew(now)
	}
	return s.statusAt(now, renewed)
}

// StampMessage returns the createdAt of a message stored at now and records
// it as the session's newest: now, or 1 ms after the previous message when
// that is later, so the messages of a session have strictly increasing
// millisecond timestamps and millisecond cursors never tie.
func (s *Session) StampMessage(now time.Time) time.Time {
	at := Truncate(now)
	if prev := s.LastMessageAt; prev != nil && !at.After(*prev) {
		at = prev.UTC().Add(time.Millisecond)
	}
	s.LastMessageAt = &at
	return at
}

// StatusAt is the session's status at now for a write that did not renew it
// (an agent message).
func (s *Session) StatusAt(now time.Time) SessionStatus { return s.statusAt(now, false) }

// statusAt is what a send reports, computed after the update.
func (s *Session) statusAt(now time.Time, renewed bool) SessionStatus {
	return SessionStatus{
		ExpiresAt:        s.ExpiresAt,
		RenewalCount:     s.RenewalCount,
		WasRenewed:       renewed,
		IsNearExpiration: s.NearExpirationAt(now),
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func itoa(n int) string { return strconv.Itoa(n) }

// Renew is a manual renewal at now: it renews as if autoRenew were on, and
// also counts as activity. Once now - createdAt >= maxDuration it fails with
// SESSION_RENEWAL_FAILED (such a session has expired too, but the cap is the
// answer that tells the caller renewing can never work); a session that
// expired by inactivity before its cap fails with SESSION_EXPIRED.
func (s *Session) Renew(now time.Time) error {
	now = Truncate(now)
	if !s.canRenew(now) {
		return ErrRenewalFailed(s)
	}
	if s.IsExpired(now) {
		return s.ErrExpired()
	}
	s.LastActivity = now
	s.renew(now)
	return nil
}

// Reconfigure installs a new timeout config and recomputes expiresAt from it,
// as the reference does: min(base + timeout, createdAt + maxDuration), where
// base is lastActivity when autoRenew is on and createdAt when it is off. A
// shorter config can bring expiresAt closer, even into the past.
func (s *Session) Reconfigure(cfg TimeoutConfig) {
	s.TimeoutConfig = cfg
	base := s.CreatedAt
	if cfg.AutoRenew {
		base = s.LastActivity
	}
	s.ExpiresAt = earliest(base.Add(cfg.timeout()), s.hardCap())
}
