package models

import (
	"time"

	"github.com/google/uuid"
)

// Session is a conversation between one user and one agent. It expires after
// TimeoutConfig.TimeoutMinutes of inactivity; activity slides ExpiresAt forward
// up to CreatedAt + MaxDurationMinutes.
type Session struct {
	ID            uuid.UUID     `gorm:"type:uuid;primaryKey"`
	AgentID       uuid.UUID     `gorm:"type:uuid;not null"`
	UserID        uuid.UUID     `gorm:"type:uuid;not null"`
	Metadata      JSONObject    `gorm:"not null"`
	CreatedAt     time.Time     `gorm:"not null;autoCreateTime:false"`
	LastActivity  time.Time     `gorm:"not null"`
	ExpiresAt     time.Time     `gorm:"not null"`
	RenewalCount  int           `gorm:"not null"`
	TimeoutConfig TimeoutConfig `gorm:"embedded"`

	// Version grows with every write; stores use it for optimistic updates.
	Version int64 `gorm:"not null;default:0"`

	// Bookkeeping of published lifetime events (see the lifetime watcher).
	NearExpiryNotifiedFor *time.Time `gorm:"column:near_expiry_notified_for"`
	ExpiryNotified        bool       `gorm:"not null;default:false"`
}

// SessionState is whether a session still accepts activity.
type SessionState string

const (
	SessionStateActive  SessionState = "ACTIVE"
	SessionStateExpired SessionState = "EXPIRED"
)

// SessionStatus is what a send reports about the session's lifetime.
type SessionStatus struct {
	ExpiresAt        time.Time `json:"expiresAt"`
	RenewalCount     int       `json:"renewalCount"`
	WasRenewed       bool      `json:"wasRenewed"`
	IsNearExpiration bool      `json:"isNearExpiration"`
}

// Message is one turn of a conversation.
type Message struct {
	ID          uuid.UUID   `gorm:"type:uuid;primaryKey"`
	SessionID   uuid.UUID   `gorm:"type:uuid;not null"`
	AuthorID    uuid.UUID   `gorm:"type:uuid;not null"`
	IsAgent     bool        `gorm:"not null"`
	Content     string      `gorm:"not null"`
	Metadata    JSONObject  `gorm:"not null"`
	Attachments Attachments `gorm:"not null"`
	CreatedAt   time.Time   `gorm:"not null;autoCreateTime:false"`

	// SessionStatus is set on the result of a send; it is not stored.
	SessionStatus *SessionStatus `gorm:"-"`
}

// SessionCriteria narrows a listing of sessions; nil fields do not filter.
type SessionCriteria struct {
	AgentID *uuid.UUID
	UserID  *uuid.UUID
	State   *SessionState
}
