package models

import (
	"time"

	"github.com/google/uuid"
)

// Webhook is where an agent's events are POSTed (SPEC §8). Secret signs
// every body; it is written, never read back by clients.
type Webhook struct {
	AgentID   uuid.UUID
	URL       string
	Secret    string
	Events    []WebhookEventType // empty: every type
	CreatedAt time.Time
	UpdatedAt time.Time
	// Position is how far deliveries have been drawn from the agent's feed.
	Position FeedPosition
}

// WebhookEventType names an event in a webhook body's "type".
type WebhookEventType string

const (
	WebhookSessionCreated        WebhookEventType = "session.created"
	WebhookMessageAdded          WebhookEventType = "message.added"
	WebhookSessionRenewed        WebhookEventType = "session.renewed"
	WebhookSessionNearExpiration WebhookEventType = "session.near_expiration"
	WebhookSessionExpired        WebhookEventType = "session.expired"
	WebhookSessionDeleted        WebhookEventType = "session.deleted"
)

// WebhookEventTypes are all types, in the order of a session's life.
var WebhookEventTypes = []WebhookEventType{WebhookSessionCreated, WebhookMessageAdded, WebhookSessionRenewed,
	WebhookSessionNearExpiration, WebhookSessionExpired, WebhookSessionDeleted}

// WebhookTypeOf is the webhook type of an event kind.
func WebhookTypeOf(k EventKind) WebhookEventType {
	switch k {
	case EventCreated:
		return WebhookSessionCreated
	case EventMessageAdded:
		return WebhookMessageAdded
	case EventRenewed:
		return WebhookSessionRenewed
	case EventNearExpiration:
		return WebhookSessionNearExpiration
	case EventExpired:
		return WebhookSessionExpired
	default:
		return WebhookSessionDeleted
	}
}

// Wants reports whether the webhook selected events of type t.
func (w *Webhook) Wants(t WebhookEventType) bool {
	if len(w.Events) == 0 {
		return true
	}
	for _, e := range w.Events {
		if e == t {
			return true
		}
	}
	return false
}

// DeliveryStatus is where a webhook delivery stands.
type DeliveryStatus string

const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed" // given up after the retry window
)

// Delivery is one event to POST to an agent's webhook, kept in the
// outbox until the receiver acknowledged it (any 2xx) or the retry window closed.
type Delivery struct {
	ID            uuid.UUID
	AgentID       uuid.UUID
	SessionID     uuid.UUID
	Position      FeedPosition // the event's place in the feed (order per session)
	Type          WebhookEventType
	Body          string // the JSON POSTed, signed as is
	Status        DeliveryStatus
	Attempts      int
	LastError     string
	CreatedAt     time.Time
	NextAttemptAt time.Time
	DeliveredAt   *time.Time
}
