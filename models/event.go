package models

import (
	"time"

	"github.com/google/uuid"
)

// EventKind names what happened to a session (SPEC §8).
type EventKind string

const (
	EventMessageAdded   EventKind = "message_added"
	EventRenewed        EventKind = "renewed"         // expiresAt moved: renewal, heartbeat, timeout change
	EventNearExpiration EventKind = "near_expiration" // the warning threshold was crossed
	EventExpired        EventKind = "expired"
	EventDeleted        EventKind = "deleted"
)

// Event is one change of a session, delivered to its subscribers.
type Event struct {
	Kind      EventKind `json:"k"`
	SessionID uuid.UUID `json:"s"`
	// AgentID is the session's agent: it wakes that agent's feed readers.
	AgentID    uuid.UUID `json:"a,omitzero"`
	OccurredAt time.Time `json:"at"`
	Message    *Message  `json:"m,omitempty"` // EventMessageAdded
	// PrevMessageAt is the createdAt of the session's message before Message
	// (zero for the first): a subscriber that has not seen that one missed it.
	PrevMessageAt time.Time      `json:"pm,omitzero"`  // EventMessageAdded
	Status        *SessionStatus `json:"st,omitempty"` // EventRenewed
	ExpiresAt     time.Time      `json:"e,omitzero"`   // EventNearExpiration, EventExpired
}

// LifetimeClaim is a session whose lifetime event a replica claimed to announce.
type LifetimeClaim struct {
	ID        uuid.UUID
	AgentID   uuid.UUID
	ExpiresAt time.Time
}
