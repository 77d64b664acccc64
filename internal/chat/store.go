package chat

import (
	"context"
	"time"

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

	// UpdateSessionOnce is UpdateSession guarded by an idempotency key: if the
	// key was used within models.IdempotencyTTL, apply is not called and the
	// stored record is returned; otherwise the record commits with the send.
	UpdateSessionOnce(ctx context.Context, id uuid.UUID, key models.IdempotencyKey, apply func(*models.Session) (*models.Message, error)) (*models.Session, *models.IdempotencyKey, error)
	FindMessage(ctx context.Context, id uuid.UUID) (*models.Message, error)

	// FindAgents, FindSessions and FindMessages look rows up by id in one
	// query each; unknown ids are absent from the answer.
	FindAgents(ctx context.Context, ids []uuid.UUID) ([]*models.Agent, error)
	FindSessions(ctx context.Context, ids []uuid.UUID) ([]*models.Session, error)
	FindMessages(ctx context.Context, ids []uuid.UUID) ([]*models.Message, error)
	// CountMessages counts the messages of each session in one query;
	// sessions without messages are absent.
	CountMessages(ctx context.Context, sessionIDs []uuid.UUID) (map[uuid.UUID]int64, error)
	// DeleteIdempotencyKeysBefore forgets up to limit keys older than cutoff.
	DeleteIdempotencyKeysBefore(ctx context.Context, cutoff time.Time, limit int) (int, error)

	// FindPersistedQuery returns the GraphQL document registered under hash
	// (models.ErrNotFound if none); SavePersistedQuery registers one or
	// refreshes its registration time; DeletePersistedQueries forgets up to
	// limit registered before cutoff or beyond the keep newest.
	FindPersistedQuery(ctx context.Context, hash string) (string, error)
	SavePersistedQuery(ctx context.Context, q *models.PersistedQuery) error
	DeletePersistedQueries(ctx context.Context, cutoff time.Time, keep, limit int) (int, error)

	// DeleteSession removes a session and its messages.
	DeleteSession(ctx context.Context, id uuid.UUID) error

	// ListMessages returns one keyset page of a session's messages.
	ListMessages(ctx context.Context, sessionID uuid.UUID, q models.ListQuery) ([]*models.Message, error)
	// SessionHistory is FindSession and ListMessages in one round trip.
	SessionHistory(ctx context.Context, sessionID uuid.UUID, q models.ListQuery) (*models.Session, []*models.Message, error)
	// LatestMessages returns up to limit newest messages of each session, in one query.
	LatestMessages(ctx context.Context, sessionIDs []uuid.UUID, limit int) (map[uuid.UUID][]*models.Message, error)

	// ListSessions and CountSessions select sessions matching a filter at now.
	ListSessions(ctx context.Context, f models.SessionCriteria, now time.Time, q models.ListQuery) ([]*models.Session, error)
	CountSessions(ctx context.Context, f models.SessionCriteria, now time.Time) (int64, error)
	// CountExpiringSoon counts live sessions inside their warning window at now.
	CountExpiringSoon(ctx context.Context, now time.Time) (int64, error)

	// DeleteExpired removes up to limit sessions that expired before cutoff;
	// safe to run from several processes at once.
	DeleteExpired(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// ClaimNearExpiration marks and returns up to limit live sessions inside
	// their warning window whose current expiresAt was not announced yet.
	ClaimNearExpiration(ctx context.Context, now time.Time, limit int) ([]models.LifetimeClaim, error)
	// ClaimExpired marks and returns up to limit expired sessions not announced yet.
	ClaimExpired(ctx context.Context, now time.Time, limit int) ([]models.LifetimeClaim, error)

	// ReadAgentFeed returns up to limit rows of an agent's feed from a
	// position (its row included), oldest first, and the feed's retention
	// horizon read with them (models.FeedPage). AgentFeedHead is the
	// position after everything the feed holds now; AgentFeedHorizon how far
	// the retention sweep has removed the feed (zero: nothing).
	ReadAgentFeed(ctx context.Context, agentID uuid.UUID, from models.FeedPosition, limit int) (models.FeedPage, error)
	AgentFeedHead(ctx context.Context, agentID uuid.UUID) (models.FeedPosition, error)
	AgentFeedHorizon(ctx context.Context, agentID uuid.UUID) (models.FeedPosition, error)
	// FeedAgentsBefore lists the agents whose feed starts with a row older
	// than cutoff. DeleteAgentFeed removes up to limit of an agent's oldest
	// rows, up to the first one not older than cutoff, and moves its horizon
	// to the last one removed, in one transaction; an agent another process
	// is sweeping is skipped (0). Safe to run from several processes at once.
	FeedAgentsBefore(ctx context.Context, cutoff time.Time) ([]uuid.UUID, error)
	DeleteAgentFeed(ctx context.Context, agentID uuid.UUID, cutoff time.Time, limit int) (int, error)

	// RenameAgent changes an agent's name (models.ErrNotFound if unknown).
	RenameAgent(ctx context.Context, id uuid.UUID, name string) error
	// Webhooks and their outbox (see store/webhooks.go).
	SaveWebhook(ctx context.Context, w *models.Webhook) error
	DeleteWebhook(ctx context.Context, agentID uuid.UUID) error
	FindWebhook(ctx context.Context, agentID uuid.UUID) (*models.Webhook, error)
	WebhookAgents(ctx context.Context) ([]uuid.UUID, error)
	DrawDeliveries(ctx context.Context, agentID uuid.UUID, draw func(*models.Webhook) ([]*models.Delivery, models.FeedPosition, error)) error
	// ClaimDeliveries leases up to limit due deliveries until leaseUntil,
	// each the oldest pending one of its session, at most perAgent of one
	// agent, or the agent's own number in room (0: none of its);
	// concurrent claimers (any process) never take the same delivery.
	ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, limit, perAgent int, room map[uuid.UUID]int) ([]*models.Delivery, error)
	FinishAttempt(ctx context.Context, d *models.Delivery) error
	ListDeliveries(ctx context.Context, agentID uuid.UUID, before *uuid.UUID, limit int) ([]*models.Delivery, error)
	// DeleteFinishedDeliveries removes up to limit delivered or failed
	// deliveries created before cutoff (never pending ones).
	DeleteFinishedDeliveries(ctx context.Context, cutoff time.Time, limit int) (int, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// CheckWritable checks that a write can be committed now (the storage
	// is neither full nor read-only); it leaves nothing behind.
	CheckWritable(ctx context.Context) error
}
