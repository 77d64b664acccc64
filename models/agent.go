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
