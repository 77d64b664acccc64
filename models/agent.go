package models

import (
	"time"

	"github.com/google/uuid"
)

// Agent is the AI side of a conversation. Sessions can only be opened with a
// registered agent; its SessionDefaults sit between the global defaults and a
// session's own timeoutConfig.
type Agent struct {
	ID              uuid.UUID        `gorm:"type:uuid;primaryKey"`
	Name            string           `gorm:"not null"`
	CreatedAt       time.Time        `gorm:"not null;autoCreateTime:false"`
	SessionDefaults TimeoutOverrides `gorm:"embedded;embeddedPrefix:default_"`
}

// Node is what the schema's Node interface returns: an Agent, a Session or a
// Message, each found by its UUID.
type Node interface{ isNode() }

func (*Agent) isNode()   {}
func (*Session) isNode() {}
func (*Message) isNode() {}
