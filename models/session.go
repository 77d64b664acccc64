package models

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
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

	// LastMessageAt is the createdAt of the session's newest message (nil
	// before the first): the next message is stamped at least 1 ms later.
	LastMessageAt *time.Time `gorm:"column:last_message_at"`

	// Version grows with every change of the row, whoever makes it (on
	// PostgreSQL a trigger bumps it for writes that do not); stores use it
	// for optimistic updates.
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

	// SessionStatus is what the send did to the session's lifetime (for an
	// agent message: the lifetime as it stood). Stored with the message; nil
	// for messages stored before it was kept.
	SessionStatus *SessionStatus `gorm:"column:session_status"`
}

// AttachmentRefs lists the attachments by reference, as GraphQL lists of
// objects take them; a plain method (no resolver) keeps gqlgen from giving
// each message's attachments a goroutine of their own.
func (m *Message) AttachmentRefs() []*Attachment {
	refs := make([]*Attachment, len(m.Attachments))
	for i := range m.Attachments {
		refs[i] = &m.Attachments[i]
	}
	return refs
}

// SessionCriteria narrows a listing of sessions; nil fields do not filter.
type SessionCriteria struct {
	AgentID *uuid.UUID
	UserID  *uuid.UUID
	State   *SessionState
}

// Value stores a status as JSON (jsonb on PostgreSQL, text on SQLite).
func (st SessionStatus) Value() (driver.Value, error) {
	b, err := json.Marshal(st)
	return string(b), err
}

// Scan reads a status stored by Value.
func (st *SessionStatus) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("SessionStatus: cannot scan %T", src)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return err
	}
	st.ExpiresAt = st.ExpiresAt.UTC()
	return nil
}
