// Package chat is the service layer: every rule about agents, sessions and
// messages is applied here, once, for both the GraphQL API and the REST shim.
package chat

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"sessionhub/internal/pubsub"
	"sessionhub/models"
)

// Service applies the domain rules on top of a Store.
type Service struct {
	store  Store
	clock  models.Clock
	policy models.SessionPolicy
	bus    pubsub.Bus
	log    *slog.Logger
	watch  Observer

	webhooks      *WebhookOptions        // nil: no deliveries
	watchHooks    func(*models.Delivery) // hears every attempt (metrics); may be nil
	watchSkips    func()                 // hears every webhook moved to the feed's horizon; may be nil
	watchInFlight func(delta int)        // hears every attempt start (+1) and end (-1); may be nil
}

// WithWebhookObserver sets who hears every webhook attempt's outcome.
func WithWebhookObserver(f func(*models.Delivery)) Option {
	return func(s *Service) { s.watchHooks = f }
}

// WithWebhookSkipObserver sets who hears of every webhook whose feed
// position the retention sweep had passed, moved on to the horizon.
func WithWebhookSkipObserver(f func()) Option {
	return func(s *Service) { s.watchSkips = f }
}

// WithWebhookInFlightObserver sets who hears every webhook attempt start
// (+1) and end (-1).
func WithWebhookInFlightObserver(f func(delta int)) Option {
	return func(s *Service) { s.watchInFlight = f }
}

func (s *Service) observeInFlight(delta int) {
	if s.watchInFlight != nil {
		s.watchInFlight(delta)
	}
}

// Observer hears every committed change as it is announced (metrics count
// sends, renewals and expiries from these). It must not block.
type Observer interface {
	Observe(models.Event)
}

// Option configures a Service.
type Option func(*Service)

// WithBus sets where session events go (default: this process only).
func WithBus(bus pubsub.Bus) Option { return func(s *Service) { s.bus = bus } }

// WithLogger sets the logger for failures that do not fail a request.
func WithLogger(log *slog.Logger) Option { return func(s *Service) { s.log = log } }

// WithObserver sets who hears committed changes besides subscribers.
func WithObserver(o Observer) Option { return func(s *Service) { s.watch = o } }

// New wires a service. The clock is the only source of "now" for every rule.
func New(store Store, clock models.Clock, policy models.SessionPolicy, opts ...Option) *Service {
	s := &Service{store: store, clock: clock, policy: policy, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(s)
	}
	if s.bus == nil {
		s.bus = pubsub.NewLocal(s.missedMessages)
	}
	return s
}

// Now is the service clock at millisecond precision, for transports that
// render time-dependent fields (state, timeRemaining) of a session they read.
func (s *Service) Now() time.Time { return models.Truncate(s.clock.Now()) }

// Policy is the server-wide session configuration.
func (s *Service) Policy() models.SessionPolicy { return s.policy }

// CreateAgentInput registers an agent. ID is optional (a UUID v7 is made when empty).
type CreateAgentInput struct {
	ID              string
	Name            string
	SessionDefaults models.TimeoutOverrides
	Webhook         *WebhookInput // optional
}

const maxAgentNameChars = 200

// CreateAgent registers an agent. Only admins may.
// Errors: FORBIDDEN, VALIDATION_ERROR (bad id or name, duplicate id, bad defaults).
func (s *Service) CreateAgent(ctx context.Context, in CreateAgentInput) (*models.Agent, error) {
	if models.PrincipalFrom(ctx).Role != models.RoleAdmin {
		return nil, models.ErrForbidden("Only admins can register agents")
	}
	id := uuid.Must(uuid.NewV7())
	if in.ID != "" {
		parsed, err := parseUUID("id", in.ID)
		if err != nil {
			return nil, err
		}
		id = parsed
	}
	name, err := agentName(in.Name)
	if err != nil {
		return nil, err
	}
	if err := in.SessionDefaults.Validate(); err != nil {
		return nil, err
	}
	if in.Webhook != nil {
		if err := s.validateWebhook(in.Webhook); err != nil {
			return nil, err
		}
	}
	agent := &models.Agent{ID: id, Name: name, CreatedAt: s.Now(), SessionDefaults: in.SessionDefaults}
	if err := s.store.CreateAgent(ctx, agent); err != nil {
		if errors.Is(err, models.ErrDuplicate) {
			return nil, models.ErrValidation("An agent with this id already exists", models.Detail{Key: "agentId", Value: id.String()})
		}
		return nil, err
	}
	if in.Webhook != nil {
		if err := s.saveWebhook(ctx, agent.ID, in.Webhook); err != nil {
			return nil, err
		}
	}
	return agent, nil
}

// agentName checks and trims an agent's name. Errors: VALIDATION_ERROR.
func agentName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	if name == "" || utf8.RuneCountInString(name) > maxAgentNameChars {
		return "", models.ErrValidation("Agent name must be 1 to 200 characters")
	}
	if !models.ValidText(name) {
		return "", models.ErrInvalidText("name")
	}
	return name, nil
}

// Agent returns a registered agent. Errors: AGENT_NOT_FOUND.
func (s *Service) Agent(ctx context.Context, id string) (*models.Agent, error) {
	agentID, err := uuid.Parse(id)
	if err != nil {
		return nil, models.ErrAgentNotFound(id)
	}
	agent, err := s.store.FindAgent(ctx, agentID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, models.ErrAgentNotFound(id)
	}
	return agent, err
}

// CreateSessionInput opens a session. Timeout holds only the fields the caller set.
type CreateSessionInput struct {
	AgentID  string
	UserID   string
	Metadata models.JSONObject
	Timeout  models.TimeoutOverrides
}

// CreateSession opens a session with a registered agent. Its config is the
// global policy, overlaid by the agent's defaults, overlaid by the request, clamped.
// A user opens sessions for itself (userId comes from its token); an agent
// only sessions with itself. Errors: VALIDATION_ERROR, AGENT_NOT_FOUND, FORBIDDEN.
func (s *Service) CreateSession(ctx context.Context, in CreateSessionInput) (*models.Session, error) {
	switch p := models.PrincipalFrom(ctx); p.Role {
	case models.RoleUser:
		// A user opens sessions for itself only: its own id may be sent or
		// left out, another user's is refused rather than silently replaced.
		if in.UserID != "" {
			userID, err := parseUUID("userId", in.UserID)
			if err != nil {
				return nil, err
			}
			if userID != p.ID {
				return nil, models.ErrForbidden("A user can only open sessions for itself")
			}
		}
		in.UserID = p.ID.String()
	case models.RoleAgent:
		if in.AgentID != "" && !strings.EqualFold(in.AgentID, p.ID.String()) {
			return nil, models.ErrForbidden("An agent can only open sessions with itself")
		}
		in.AgentID = p.ID.String()
	}
	if in.AgentID == "" || in.UserID == "" {
		return nil, models.ErrValidation("Missing required fields: agentId, userId")
	}
	agentID, err := parseUUID("agentId", in.AgentID)
	if err != nil {
		return nil, err
	}
	userID, err := parseUUID("userId", in.UserID)
	if err != nil {
		return nil, err
	}
	if err := models.ValidateMetadata(in.Metadata); err != nil {
		return nil, err
	}
	if err := in.Timeout.Validate(); err != nil {
		return nil, err
	}
	// Read on the primary: an agent registered a moment ago must be found.
	agent, err := s.Agent(models.WithLatestReads(ctx), in.AgentID)
	if err != nil {
		return nil, err
	}
	cfg := s.policy.Resolve(agent.SessionDefaults, in.Timeout)
	session := models.NewSession(uuid.Must(uuid.NewV7()), agentID, userID, in.Metadata.OrEmpty(), cfg, s.Now())
	if err := s.store.CreateSession(ctx, session); err != nil {
		if errors.Is(err, models.ErrNotFound) { // the agent went away meanwhile
			return nil, models.ErrAgentNotFound(in.AgentID)
		}
		return nil, err
	}
	// Wakes the agent's feed readers; the feed row committed with the session.
	s.publish(ctx, models.Event{Kind: models.EventCreated, SessionID: session.ID, AgentID: agentID, OccurredAt: session.CreatedAt})
	return session, nil
}

// Session returns a stored session, expired or not; reads never renew.
// Errors: SESSION_NOT_FOUND.
func (s *Service) Session(ctx context.Context, id string) (*models.Session, error) {
	sessionID, err := uuid.Parse(id)
	if err != nil {
		return nil, models.ErrSessionNotFound(id)
	}
	session, err := s.store.FindSession(ctx, sessionID)
	return visible(ctx, id, session, err)
}

// visible answers a session read for the caller: SESSION_NOT_FOUND when it
// is missing or belongs to someone the caller may not reach.
func visible(ctx context.Context, id string, session *models.Session, err error) (*models.Session, error) {
	if errors.Is(err, models.ErrNotFound) || err == nil && !models.PrincipalFrom(ctx).CanAccess(session) {
		return nil, models.ErrSessionNotFound(id)
	}
	return session, err
}

// liveSession is Session, but an expired session is SESSION_EXPIRED.
func (s *Service) liveSession(ctx context.Context, id string) (*models.Session, error) {
	session, err := s.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	return session, s.checkLive(session)
}

// checkLive is SESSION_EXPIRED once the session's expiresAt has passed.
func (s *Service) checkLive(session *models.Session) error {
	if session.IsExpired(s.Now()) {
		return session.ErrExpired()
	}
	return nil
}

// rejectInput reports invalid input in the reference's order: an unknown or
// expired session is reported before the input's problem.
func (s *Service) rejectInput(ctx context.Context, sessionID string, invalid error) error {
	if _, err := s.liveSession(models.WithLatestReads(ctx), sessionID); err != nil { // answers a write
		return err
	}
	return invalid
}

func parseUUID(field, value string) (uuid.UUID, error) {
	id, err := uuid.Parse(value)
	if err != nil || len(value) != 36 {
		return uuid.UUID{}, models.ErrValidation("Invalid UUID format for field '"+field+"'",
			models.Detail{Key: "field", Value: field})
	}
	return id, nil
}
