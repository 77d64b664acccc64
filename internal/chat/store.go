package chat

import (
	"context"

	"github.com/google/uuid"

	"sessionhub/models"
)

// Store is the persistence the service needs. Missing rows are reported as
// models.ErrNotFound; every other error is internal.
type Store interface {
	// CreateAgent inserts an agent; a taken id is models.ErrDuplicate.
	CreateAgent(ctx context.Context, a *models.Agent) error
	FindAgent(ctx context.Context, id uuid.UUID) (*models.Agent, error)

	// CreateSession inserts a session; an unknown agent is models.ErrNotFound.
	CreateSession(ctx context.Context, s *models.Session) error
	FindSession(ctx context.Context, id uuid.UUID) (*models.Session, error)

	// UpdateSession runs apply on the session while holding its row lock, so
	// concurrent writers to one session (in any process) take turns. If apply
	// succeeds, the session's changes and the message it returns (if any) are
	// committed together; if apply fails or either write fails, nothing is.
	UpdateSession(ctx context.Context, id uuid.UUID, apply func(*models.Session) (*models.Message, error)) (*models.Session, error)
}
